"""Download my data: one ZIP per request, prepared in the background, kept for 7 days.

:func:`request_export` records the request and queues :func:`build` after the commit (a
Celery worker in production, in process in the embedded default). :func:`build` collects
one JSON file per kind of data: the account here, then the part of each package that
keeps personal data (registered in :mod:`accounts.personal_data`: orders, discussions,
claims, problem reports), then the decision PDFs of the person's cases, the evidence files
they uploaded, their notifications and audit entries. It writes a README.txt in their
language, stores the ZIP through :mod:`arbiter.storage` and tells them (in the app and by
e-mail). It commits its progress after each part, so the account page can show how far it
got. Only the owner may download the ZIP (anyone else gets 404), for 7 days (then 410);
the sweeper deletes expired files.

Deliberately left out: the password hash, session rows, API tokens and their hashes, and
other people's personal data beyond what the person already sees on their own pages (the
other party's name as the order and discussion pages show it, never an e-mail address;
advisors appear as "platform"; audit entries made by someone else name no actor).
"""

import io
import json
import logging
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import Select, String, and_, cast, false, or_, select

from accounts import notifications as _notification_texts  # noqa: F401 - registers texts
from accounts import personal_data
from accounts.models import PENDING_EXPORT_STATES, DataExport, ExportState, User
from accounts.personal_data import Archive
from arbiter import audit, clock
from arbiter.audit import AuditEntry
from arbiter.db import add_unless_taken
from arbiter.documents import DecisionDocument
from arbiter.errors import DomainError, NotFound, TransitionNotAllowed
from arbiter.extensions import db
from arbiter.files import delete_blob_after_commit, store_blob
from arbiter.notifications import Notification, notify, text_for
from arbiter.storage import storage

log = logging.getLogger(__name__)

EXPORT_LIFETIME = timedelta(days=7)
# A request still not ready after this long was lost (a crashed worker): it fails, and the
# person may ask again.
STUCK_AFTER = timedelta(hours=1)
# Keys of audit payloads that name a user by id: the person's own id is shown as "you",
# anybody else's is left out.
USER_ID_KEYS = frozenset({
    "actor_id", "user_id", "buyer_id", "seller_id", "assigned_staff_id", "decided_by_id",
    "requested_by_id", "linked_by_id", "declared_by_id", "posted_by_id", "created_by_id",
    "approved_by_id", "marked_paid_by_id", "uploaded_by_id", "advisor_id", "settled_by_id",
})


class ExportPending(TransitionNotAllowed):
    code = "export_pending"


class ExportNotReady(TransitionNotAllowed):
    code = "export_not_ready"


class ExportExpired(DomainError):
    status = 410
    code = "export_expired"


# --- requests and downloads (the web side) ---------------------------------------------------


def exports_of(user: User, limit: int = 10) -> list[DataExport]:
    return list(db.session.scalars(
        select(DataExport).where(DataExport.user_id == user.id)
        .order_by(DataExport.requested_at.desc(), DataExport.id.desc()).limit(limit)))


def _pending_refusal() -> ExportPending:
    return ExportPending(_("Your previous data export is still being prepared. You can ask "
                          "for a new one when it is ready."))


def request_export(user: User) -> DataExport:
    """Ask for a ZIP of the person's data; refused (409) while one is being prepared."""
    if db.session.scalar(select(DataExport.id).where(
            DataExport.user_id == user.id,
            DataExport.state.in_(PENDING_EXPORT_STATES))) is not None:
        raise _pending_refusal()
    export = DataExport(user_id=user.id, state=ExportState.REQUESTED, progress=0,
                        requested_at=clock.now())
    # A second request at the same moment meets the partial unique index.
    add_unless_taken(export, _pending_refusal)
    audit.record("data_export.requested", export, actor=user,
                 after={"state": export.state.value})
    from accounts.tasks import build_data_export
    from arbiter.tasks import enqueue_after_commit

    enqueue_after_commit(build_data_export, export.id)
    return export


def open_download(export_id: int, user) -> tuple[DataExport, bytes]:
    """The owner's ready ZIP. Someone else's (or no) export: 404; expired: 410; not ready
    or failed: 409."""
    export = db.session.get(DataExport, export_id)
    if export is None or not export.is_owner(user):
        raise NotFound(_("There is nothing here."))
    if export.state is ExportState.EXPIRED or (
            export.state is ExportState.READY and export.expires_at <= clock.now()):
        raise ExportExpired(_("This download link has expired: data exports can be downloaded "
                              "for 7 days. Ask for a new one on your account page."))
    if export.state is ExportState.FAILED:
        raise ExportNotReady(_("This data export could not be prepared. Ask for a new one on "
                               "your account page."))
    if export.state is not ExportState.READY:
        raise ExportNotReady(_("Your data export is still being prepared. Try again in a "
                               "minute."))
    return export, storage().get(export.storage_key)


def download_name(export: DataExport) -> str:
    return f"arbiter-data-{clock.to_local(export.ready_at):%Y-%m-%d}-{export.id}.zip"


# --- building the ZIP (the background side) --------------------------------------------------


def _lock(export_id: int) -> DataExport | None:
    return db.session.scalar(
        select(DataExport).where(DataExport.id == export_id)
        .with_for_update().execution_options(populate_existing=True))


def _transition(export: DataExport, target: ExportState, **changes) -> None:
    before = export.state
    export.state = target
    for name, value in changes.items():
        setattr(export, name, value)
    audit.record(f"data_export.{target.value}", export, actor=None,
                 before={"state": before.value}, after={"state": target.value})


def build(export_id: int) -> DataExport | None:
    """Prepare the ZIP of one request; safe to run again (a ready export is left alone)."""
    export = _lock(export_id)
    if export is None or export.state not in PENDING_EXPORT_STATES:
        db.session.rollback()
        return export
    if export.state is ExportState.REQUESTED:
        _transition(export, ExportState.PREPARING, started_at=clock.now(), progress=0)
    db.session.commit()
    try:
        data = _zip(export_id)
        blob = store_blob(data)  # removed again if what follows rolls back
        export = _lock(export_id)
        if export is None or export.state is not ExportState.PREPARING:
            db.session.rollback()  # deleted with its account, or given up meanwhile
            return export
        now = clock.now()
        _transition(export, ExportState.READY, ready_at=now, expires_at=now + EXPORT_LIFETIME,
                    storage_key=blob.key, sha256=blob.sha256, size=blob.size, progress=100)
        notify(export.user, "data_export.ready", export,
               expires_at=export.expires_at.isoformat())
        db.session.commit()
        return export
    except Exception as error:  # any failure must leave a visible state
        log.exception("data export %s failed", export_id)
        db.session.rollback()
        return _fail(export_id, type(error).__name__)


def _fail(export_id: int, reason: str) -> DataExport | None:
    export = _lock(export_id)
    if export is None or export.state not in PENDING_EXPORT_STATES:
        db.session.rollback()
        return export
    give_up(export, clock.now(), reason)
    db.session.commit()
    return export


def give_up(export: DataExport, now: datetime, reason: str = "not finished in time") -> None:
    """A request that failed or was lost: the person is told and may ask again."""
    _transition(export, ExportState.FAILED, finished_at=now, error=reason[:200])
    notify(export.user, "data_export.failed", export, email=False)


def expire(export: DataExport, now: datetime) -> None:
    """Sweeper: 7 days after it was ready, the ZIP is deleted (after the batch commits)."""
    key = export.storage_key
    _transition(export, ExportState.EXPIRED, storage_key=None, finished_at=now)
    if key:
        delete_blob_after_commit(key)


def expired_exports(now: datetime):
    return (select(DataExport)
            .where(DataExport.state == ExportState.READY, DataExport.expires_at <= now)
            .order_by(DataExport.expires_at, DataExport.id))


def stuck_exports(now: datetime):
    return (select(DataExport)
            .where(DataExport.state.in_(PENDING_EXPORT_STATES),
                   DataExport.requested_at <= now - STUCK_AFTER)
            .order_by(DataExport.requested_at, DataExport.id))


def _zip(export_id: int) -> bytes:
    export = db.session.get(DataExport, export_id)
    archive = Archive(export.user)
    # The account first, then each package's file in registration order, then the files
    # made of what the packages collected, then the person's notifications and audit trail.
    steps: list[Callable[[Archive], None]] = [
        _account, *(holder.export for holder in personal_data.HOLDERS if holder.export),
        _decisions, _evidence, _notifications, _audit_entries]
    for done, step in enumerate(steps, start=1):
        step(archive)
        export = db.session.get(DataExport, export_id, populate_existing=True)
        if export is None:
            raise LookupError("the export was deleted while it was being prepared")
        export.progress = 95 * done // len(steps)
        db.session.commit()  # the account page shows how far it got
    user = db.session.get(User, archive.user.id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("README.txt", _readme(user, archive))
        for name, content in archive.json_files.items():
            bundle.writestr(name, json.dumps(audit.jsonable(content), ensure_ascii=False,
                                             indent=2) + "\n")
        for path, data in archive.binary_files.items():
            bundle.writestr(path, data)
    return buffer.getvalue()


def _locale(user: User) -> str:
    return user.locale or current_app.config["DEFAULT_LOCALE"]


def _readme(user: User, archive: Archive) -> str:
    counts = {name: len(content) if isinstance(content, list) else 1
              for name, content in archive.json_files.items()}
    with force_locale(_locale(user)):
        return render_template("accounts/export_readme.txt", user=user, counts=counts,
                               generated_at=clock.now(),
                               decision_files=sum(p.startswith("decisions/")
                                                  for p in archive.binary_files),
                               evidence_files=sum(p.startswith("evidence/")
                                                  for p in archive.binary_files))


def _account(archive: Archive) -> None:
    user = archive.user
    archive.add("account.json", {
        "id": user.id, "name": user.name, "email": user.email, "language": user.locale,
        "staff_roles": sorted(user.roles), "registered_at": user.created_at,
        "updated_at": user.updated_at, "password_changed_at": user.password_changed_at})


def _decisions(archive: Archive) -> None:
    """The decision documents of the rows the packages named as the person's own."""
    documents = db.session.scalars(
        select(DecisionDocument).where(or_(false(), *(
            and_(DecisionDocument.object_type == object_type,
                 DecisionDocument.object_id.in_(ids))
            for object_type, (_, ids) in archive.owned.items())))
        .order_by(DecisionDocument.issued_at, DecisionDocument.id))
    result = []
    for document in documents:
        path = archive.add_stored(f"decisions/{document.filename}", document.storage_key)
        result.append({
            "number": document.number, "kind": document.kind, "language": document.locale,
            "about": archive.owned[document.object_type][0],
            "about_id": document.object_id, "issued_at": document.issued_at,
            "sha256": document.sha256, "file": path,
            "verify_at": f"/decisions/{document.number}/verify",
        })
    archive.add("decisions.json", result)


def _evidence(archive: Archive) -> None:
    """The files the person uploaded, as the packages listed them; copied after the
    decision PDFs, so the ZIP holds decisions/ before evidence/."""
    archive.add("evidence.json", [{**entry, "file": archive.add_stored(path, key)}
                                  for entry, path, key in archive.evidence])


def _notifications(archive: Archive) -> None:
    user = archive.user
    rows = db.session.scalars(
        select(Notification).where(Notification.user_id == user.id)
        .order_by(Notification.created_at, Notification.id))
    with force_locale(_locale(user)):
        archive.add("notifications.json", [
            {"kind": n.kind, "text": text_for(n), "about": n.object_type,
             "about_id": n.object_id, "created_at": n.created_at, "read_at": n.read_at}
            for n in rows])


def _as_text(ids: Select) -> Select:
    """The same ids as strings, as audit entries hold them."""
    return ids.with_only_columns(cast(ids.selected_columns[0], String))


def _audit_entries(archive: Archive) -> None:
    """Entries the person made, and entries about their account, their data exports and
    the rows the packages named as theirs (orders, discussions, claims, problem reports).
    Other people appear only as "someone else"."""
    user = archive.user
    own_exports = select(DataExport.id).where(DataExport.user_id == user.id)
    about = or_(
        AuditEntry.actor_id == user.id,
        and_(AuditEntry.object_type == "users", AuditEntry.object_id == str(user.id)),
        *(and_(AuditEntry.object_type == object_type, AuditEntry.object_id.in_(_as_text(ids)))
          for object_type, (_, ids) in archive.owned.items()),
        and_(AuditEntry.object_type == "data_exports",
             AuditEntry.object_id.in_(_as_text(own_exports))),
    )
    entries = db.session.scalars(select(AuditEntry).where(about).order_by(AuditEntry.id))
    result = []
    for entry in entries:
        if entry.actor_id == user.id:
            by = "you"
        elif entry.actor_id is None:
            by = "system"
        else:
            by = "someone else"
        result.append({"id": entry.id, "at": entry.at, "action": entry.action,
                       "object_type": entry.object_type, "object_id": entry.object_id,
                       "by": by, "before": _redact(entry.before, user.id),
                       "after": _redact(entry.after, user.id), "note": entry.note})
    archive.add("audit_log.json", result)


def _redact(payload, user_id: int):
    """Audit payloads with other people's ids left out (the person's own id is "you")."""
    if not isinstance(payload, dict):
        return payload
    clean = {}
    for key, value in payload.items():
        if key in USER_ID_KEYS and value is not None:
            if value == user_id:
                clean[key] = "you"
            continue
        clean[key] = value
    return clean
