"""Download my data: one ZIP per request, prepared in the background, kept for 7 days.

:func:`request_export` records the request and queues :func:`build` after the commit (a
Celery worker in production, in process in the embedded default). :func:`build` collects
one JSON file per kind of data, the decision PDFs of the person's cases and the evidence
files they uploaded, writes a README.txt in their language, stores the ZIP through
:mod:`arbiter.storage` and tells them (in the app and by e-mail). It commits its progress
after each part, so the account page can show how far it got. Only the owner may download
the ZIP (anyone else gets 404), for 7 days (then 410); the sweeper deletes expired files.

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
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import String, and_, cast, or_, select
from sqlalchemy.exc import IntegrityError

from accounts import notifications as _notification_texts  # noqa: F401 - registers texts
from accounts.models import PENDING_EXPORT_STATES, DataExport, ExportState, User
from arbiter import audit, clock
from arbiter.audit import AuditEntry
from arbiter.documents import DecisionDocument
from arbiter.errors import DomainError, NotFound, TransitionNotAllowed
from arbiter.extensions import db
from arbiter.files import delete_blob_after_commit, store_blob
from arbiter.money import to_decimal_string
from arbiter.notifications import Notification, notify, text_for
from arbiter.storage import storage
from claims.models import Claim, ClaimDocument
from disputes.models import Attachment, Discussion
from disputes.states import Role
from incidents.models import ProblemReport
from orders.models import Order

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
    "approved_by_id", "marked_paid_by_id", "uploaded_by_id", "advisor_id",
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
    db.session.add(export)
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:  # a second request at the same moment: the partial unique index
        raise _pending_refusal() from None
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


@dataclass
class _Archive:
    """What goes into the ZIP: JSON documents by file name, and files by path."""

    user: User
    json_files: dict[str, object] = field(default_factory=dict)
    binary_files: dict[str, bytes] = field(default_factory=dict)

    def add_stored(self, path: str, key: str | None) -> str | None:
        """Copy a stored file into the archive; None when it is not (or no longer) there."""
        if not key:
            return None
        try:
            self.binary_files[path] = storage().get(key)
        except FileNotFoundError:
            return None
        return path


def _zip(export_id: int) -> bytes:
    export = db.session.get(DataExport, export_id)
    user = export.user
    archive = _Archive(user)
    parts: list[tuple[str, Callable[[_Archive], object], int]] = [
        ("account.json", _account, 5),
        ("orders.json", _orders, 15),
        ("discussions.json", _discussions, 35),
        ("claims.json", _claims, 50),
        ("decisions.json", _decisions, 65),
        ("evidence.json", _evidence, 80),
        ("problem_reports.json", _problem_reports, 85),
        ("notifications.json", _notifications, 90),
        ("audit_log.json", _audit_entries, 95),
    ]
    for name, collect, progress in parts:
        archive.json_files[name] = collect(archive)
        export = db.session.get(DataExport, export_id, populate_existing=True)
        if export is None:
            raise LookupError("the export was deleted while it was being prepared")
        export.progress = progress
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


def _readme(user: User, archive: _Archive) -> str:
    counts = {name: len(content) if isinstance(content, list) else 1
              for name, content in archive.json_files.items()}
    with force_locale(_locale(user)):
        return render_template("accounts/export_readme.txt", user=user, counts=counts,
                               generated_at=clock.now(),
                               decision_files=sum(p.startswith("decisions/")
                                                  for p in archive.binary_files),
                               evidence_files=sum(p.startswith("evidence/")
                                                  for p in archive.binary_files))


def _amount(minor: int | None) -> str | None:
    return None if minor is None else to_decimal_string(minor)


def _account(archive: _Archive) -> dict:
    user = archive.user
    return {"id": user.id, "name": user.name, "email": user.email, "language": user.locale,
            "staff": user.is_staff, "registered_at": user.created_at,
            "updated_at": user.updated_at, "password_changed_at": user.password_changed_at}


def _orders(archive: _Archive) -> list[dict]:
    user = archive.user
    orders = db.session.scalars(
        select(Order).where(or_(Order.buyer_id == user.id, Order.seller_id == user.id))
        .order_by(Order.paid_at, Order.id))
    result = []
    for order in orders:
        buying = order.buyer_id == user.id
        result.append({
            "id": order.id, "external_id": order.external_id,
            "your_role": "buyer" if buying else "seller",
            "other_party": (order.seller if buying else order.buyer).name,
            "item_title": order.item_title, "item_price": _amount(order.item_price),
            "shipping_cost": _amount(order.shipping_cost), "currency": order.currency,
            "payment_method": order.payment_method, "paid_at": order.paid_at,
            "delivered_at": order.delivered_at,
        })
    return result


def _own_discussions(user: User) -> list[Discussion]:
    return list(db.session.scalars(
        select(Discussion)
        .where(or_(Discussion.buyer_id == user.id, Discussion.seller_id == user.id))
        .order_by(Discussion.opened_at, Discussion.id)))


def _author(author_role: Role, author_id: int | None, user: User) -> str:
    if author_role is Role.STAFF:
        return "platform"
    if author_id is None:
        return "system"
    if author_id == user.id:
        return "you"
    return author_role.value


def _attachment_path(attachment: Attachment) -> str:
    return f"evidence/discussion-{attachment.discussion_id}-{attachment.id}-{attachment.filename}"


def _discussions(archive: _Archive) -> list[dict]:
    user = archive.user
    result = []
    for discussion in _own_discussions(user):
        buying = discussion.buyer_id == user.id
        messages = []
        for entry in discussion.entries:
            messages.append({
                "id": entry.id, "kind": entry.kind,
                "author": _author(entry.author_role, entry.author_id, user),
                "body": entry.body, "details": entry.data, "written_at": entry.created_at,
                "attachments": [{
                    "filename": a.filename, "content_type": a.content_type, "size": a.size,
                    "sha256": a.sha256,
                    "uploaded_by": "you" if a.uploaded_by_id == user.id else "someone else",
                    "file": _attachment_path(a) if a.uploaded_by_id == user.id else None,
                } for a in entry.attachments],
            })
        result.append({
            "id": discussion.id, "order": discussion.order.external_id,
            "your_role": "buyer" if buying else "seller",
            "other_party": (discussion.seller if buying else discussion.buyer).name,
            "state": discussion.state, "reason": discussion.reason,
            "expected_outcome": discussion.expected_outcome,
            "description": discussion.description, "opened_at": discussion.opened_at,
            "respond_by": discussion.respond_by,
            "seller_first_response_at": discussion.seller_first_response_at,
            "escalated_at": discussion.escalated_at,
            "escalation_reason": discussion.escalation_reason,
            "verdict": discussion.verdict, "refund_amount": _amount(discussion.refund_amount),
            "rationale": discussion.rationale, "decided_at": discussion.decided_at,
            "resolved_at": discussion.resolved_at, "closed_at": discussion.closed_at,
            "currency": discussion.order.currency,
            "messages": messages,
            "offers": [{"id": o.id, "kind": o.kind, "amount": _amount(o.amount),
                        "state": o.state, "made_at": o.created_at,
                        "answered_at": o.answered_at} for o in discussion.offers],
        })
    return result


def _own_claims(user: User) -> list[Claim]:
    return list(db.session.scalars(
        select(Claim).where(Claim.buyer_id == user.id).order_by(Claim.submitted_at, Claim.id)))


def _claims(archive: _Archive) -> list[dict]:
    result = []
    for claim in _own_claims(archive.user):
        payout = claim.payout
        result.append({
            "id": claim.id, "order": claim.order.external_id,
            "discussion_id": claim.discussion_id, "claim_type": claim.claim_type,
            "state": claim.state, "description": claim.description,
            "claimed_amount": _amount(claim.claimed_amount),
            "police_report_reference": claim.police_report_reference,
            "payout_account": claim.payout_account or None,
            "submitted_at": claim.submitted_at, "policy_version": claim.policy_version.code,
            "quote": {"item_amount": _amount(claim.item_amount),
                      "shipping_amount": _amount(claim.shipping_amount),
                      "max_total": _amount(claim.max_total),
                      "cap_applied": claim.cap_applied, "clauses": claim.clauses},
            "currency": claim.order.currency,
            "approved_amount": _amount(claim.approved_amount),
            "rejection_reason": claim.rejection_reason, "rationale": claim.rationale,
            "decided_at": claim.decided_at, "withdrawn_at": claim.withdrawn_at,
            "paid_at": claim.paid_at,
            "documents": [{
                "kind": d.kind, "filename": d.filename, "content_type": d.content_type,
                "size": d.size, "sha256": d.sha256, "uploaded_at": d.created_at,
                "file": _claim_document_path(d) if d.uploaded_by_id == archive.user.id
                else None,
            } for d in claim.documents],
            "document_requests": [{"what": r.what, "requested_at": r.requested_at,
                                   "due_at": r.due_at, "fulfilled_at": r.answered_at}
                                  for r in claim.document_requests],
            "payout": None if payout is None else {
                "amount": _amount(payout.amount), "currency": payout.currency,
                "state": payout.state, "beneficiary_name": payout.beneficiary_name or None,
                "account": payout.account or None, "paid_at": payout.paid_at},
        })
    return result


def _claim_document_path(document) -> str:
    return f"evidence/claim-{document.claim_id}-{document.id}-{document.filename}"


def _decisions(archive: _Archive) -> list[dict]:
    user = archive.user
    discussion_ids = [d.id for d in _own_discussions(user)]
    claim_ids = [c.id for c in _own_claims(user)]
    documents = db.session.scalars(
        select(DecisionDocument).where(or_(
            and_(DecisionDocument.object_type == "discussions",
                 DecisionDocument.object_id.in_(discussion_ids)),
            and_(DecisionDocument.object_type == "claims",
                 DecisionDocument.object_id.in_(claim_ids))))
        .order_by(DecisionDocument.issued_at, DecisionDocument.id))
    result = []
    for document in documents:
        path = archive.add_stored(f"decisions/{document.filename}", document.storage_key)
        result.append({
            "number": document.number, "kind": document.kind, "language": document.locale,
            "about": {"discussions": "discussion", "claims": "claim"}[document.object_type],
            "about_id": document.object_id, "issued_at": document.issued_at,
            "sha256": document.sha256, "file": path,
            "verify_at": f"/decisions/{document.number}/verify",
        })
    return result


def _evidence(archive: _Archive) -> list[dict]:
    user = archive.user
    result = []
    attachments = db.session.scalars(
        select(Attachment).where(Attachment.uploaded_by_id == user.id).order_by(Attachment.id))
    for a in attachments:
        result.append({"where": "discussion", "discussion_id": a.discussion_id,
                       "filename": a.filename, "content_type": a.content_type,
                       "size": a.size, "sha256": a.sha256, "uploaded_at": a.created_at,
                       "file": archive.add_stored(_attachment_path(a), a.storage_key)})
    documents = db.session.scalars(
        select(ClaimDocument).where(ClaimDocument.uploaded_by_id == user.id)
        .order_by(ClaimDocument.id))
    for d in documents:
        result.append({"where": "claim", "claim_id": d.claim_id, "kind": d.kind,
                       "filename": d.filename, "content_type": d.content_type,
                       "size": d.size, "sha256": d.sha256, "uploaded_at": d.created_at,
                       "file": archive.add_stored(_claim_document_path(d), d.storage_key)})
    for report in _own_problem_reports(user):
        if report.screenshot_key:
            path = f"evidence/problem-report-{report.id}-{report.screenshot_filename}"
            result.append({"where": "problem_report", "problem_report_id": report.id,
                           "filename": report.screenshot_filename,
                           "content_type": report.screenshot_content_type,
                           "sha256": report.screenshot_sha256,
                           "uploaded_at": report.reported_at,
                           "file": archive.add_stored(path, report.screenshot_key)})
    return result


def _own_problem_reports(user: User) -> list[ProblemReport]:
    return list(db.session.scalars(
        select(ProblemReport).where(ProblemReport.user_id == user.id)
        .order_by(ProblemReport.reported_at, ProblemReport.id)))


def _problem_reports(archive: _Archive) -> list[dict]:
    return [{
        "id": r.id, "what_happened": r.what_happened, "happened_at": r.happened_at,
        "what_you_were_doing": r.doing, "reported_at": r.reported_at,
        "screenshot": r.screenshot_filename,
        "incident": r.incident.title if r.incident is not None else None,
    } for r in _own_problem_reports(archive.user)]


def _notifications(archive: _Archive) -> list[dict]:
    user = archive.user
    rows = db.session.scalars(
        select(Notification).where(Notification.user_id == user.id)
        .order_by(Notification.created_at, Notification.id))
    with force_locale(_locale(user)):
        return [{"kind": n.kind, "text": text_for(n), "about": n.object_type,
                 "about_id": n.object_id, "created_at": n.created_at, "read_at": n.read_at}
                for n in rows]


def _audit_entries(archive: _Archive) -> list[dict]:
    """Entries the person made, and entries about their account, their orders, discussions,
    claims, problem reports and data exports. Other people appear only as "someone else"."""
    user = archive.user
    own_orders = select(cast(Order.id, String)).where(
        or_(Order.buyer_id == user.id, Order.seller_id == user.id))
    own_discussions = select(cast(Discussion.id, String)).where(
        or_(Discussion.buyer_id == user.id, Discussion.seller_id == user.id))
    own_claims = select(cast(Claim.id, String)).where(Claim.buyer_id == user.id)
    own_reports = select(cast(ProblemReport.id, String)).where(ProblemReport.user_id == user.id)
    own_exports = select(cast(DataExport.id, String)).where(DataExport.user_id == user.id)
    about = or_(
        AuditEntry.actor_id == user.id,
        and_(AuditEntry.object_type == "users", AuditEntry.object_id == str(user.id)),
        and_(AuditEntry.object_type == "orders", AuditEntry.object_id.in_(own_orders)),
        and_(AuditEntry.object_type == "discussions",
             AuditEntry.object_id.in_(own_discussions)),
        and_(AuditEntry.object_type == "claims", AuditEntry.object_id.in_(own_claims)),
        and_(AuditEntry.object_type == "problem_reports",
             AuditEntry.object_id.in_(own_reports)),
        and_(AuditEntry.object_type == "data_exports", AuditEntry.object_id.in_(own_exports)),
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
    return result


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
