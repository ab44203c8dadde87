"""``Idempotency-Key`` on POST: the first answer is stored and replayed for 24 hours.

1. The key row is inserted as *in progress* and committed in its own transaction before
   the request does anything. A concurrent request with the same key (same owner) runs
   into the UNIQUE constraint and gets 409; nothing of it runs.
2. The request runs; its answer (status, type, body) is written onto the key row in the
   same transaction as its changes, so either both are committed or neither is. A 4xx
   answer is stored too (after rolling back the request's changes): a replay gets it
   again. An unexpected exception deletes the key, so the client may retry. A request that
   died without an answer (its worker killed) leaves the key in progress only for its lease
   (``IDEMPOTENCY_LEASE_SECONDS``, 60 s): after it, a retry with the same key and body
   takes the key over (one conditional UPDATE, so one retry wins) and runs.
3. The same key again with the same method, path and body: the stored answer, marked
   ``Idempotent-Replayed: true``, and no second side effect. With a different body: 422.

Keys belong to their owner (a user, whatever token they use; or one integration token)
and are deleted by the sweeper 24 hours after their first use.
"""

import hashlib
import re
from datetime import timedelta

from flask import Response, current_app, request
from flask_babel import gettext as _
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from arbiter import clock
from arbiter.errors import error_response
from arbiter.extensions import db
from arbiter.transactions import record_answer
from integrations.models import IdempotencyKey, IdempotencyState

HEADER = "Idempotency-Key"
KEPT_FOR = timedelta(hours=24)
REPLAYED_HEADERS = ("Content-Disposition", "Location", "X-Arbiter-Batch-Id")
MAX_KEY_LENGTH = 255
# 1 to 255 printable ASCII characters. HTTP drops the spaces around a header's value, so a
# key can neither start nor end with one. The OpenAPI document states this same pattern.
KEY_PATTERN = rf"^[\x21-\x7e]([\x20-\x7e]{{0,{MAX_KEY_LENGTH - 2}}}[\x21-\x7e])?$"
_KEY = re.compile(KEY_PATTERN)


def fingerprint() -> str:
    """SHA-256 of method, path and body (a multipart body by its fields and file hashes,
    since its boundary changes from one send to the next)."""
    digest = hashlib.sha256()
    digest.update(f"{request.method}\n{request.path}\n".encode())
    if request.mimetype == "multipart/form-data":
        for name, value in sorted(request.form.items(multi=True)):
            digest.update(f"form:{name}={value}\n".encode())
        for name, upload in sorted(request.files.items(multi=True), key=lambda kv: kv[0]):
            data = upload.stream.read()
            upload.stream.seek(0)
            digest.update(f"file:{name}:{upload.filename}:".encode())
            digest.update(hashlib.sha256(data).digest())
    else:
        digest.update(request.get_data(cache=True))
    return digest.hexdigest()


def _valid(key: str) -> bool:
    return _KEY.fullmatch(key) is not None


def _claim(owner: str, key: str, print_: str) -> IdempotencyKey | None:
    """Insert the in-progress row; return the existing row when the key is taken."""
    now = clock.now()
    for _attempt in range(2):
        row = IdempotencyKey(owner=owner, key=key, fingerprint=print_,
                             state=IdempotencyState.IN_PROGRESS, created_at=now)
        db.session.add(row)
        try:
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
        else:
            return None
        existing = db.session.scalar(select(IdempotencyKey).where(
            IdempotencyKey.owner == owner, IdempotencyKey.key == key))
        if existing is None:  # it expired and was swept meanwhile: try again
            continue
        if existing.created_at <= now - KEPT_FOR:  # expired, not swept yet
            db.session.delete(existing)
            db.session.commit()
            continue
        if existing.fingerprint == print_ and _take_over_lapsed(existing, now):
            return None
        return existing
    raise RuntimeError("could not claim the idempotency key")  # pragma: no cover


def _take_over_lapsed(existing: IdempotencyKey, now) -> bool:
    """Whether this retry took over a key whose request never answered within its lease;
    the lease (and the key's 24 hours) start again from now."""
    if existing.state is not IdempotencyState.IN_PROGRESS:
        return False
    lease = timedelta(seconds=int(current_app.config["IDEMPOTENCY_LEASE_SECONDS"]))
    taken = db.session.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.id == existing.id,
               IdempotencyKey.state == IdempotencyState.IN_PROGRESS,
               IdempotencyKey.created_at <= now - lease)
        .values(created_at=now)).rowcount
    db.session.commit()
    return taken == 1


def run_idempotent(caller, view, args, kwargs):
    from integrations.auth import answer

    key = request.headers.get(HEADER)
    if key is None:
        return answer(view, args, kwargs)
    if not _valid(key):
        return error_response(
            422, "invalid_idempotency_key",
            _("The Idempotency-Key header must be 1 to 255 printable ASCII characters."),
            {HEADER: ["invalid"]})
    print_ = fingerprint()
    existing = _claim(caller.owner, key, print_)
    if existing is not None:
        return _answer_for_existing(existing, print_)
    row_id = db.session.scalar(select(IdempotencyKey.id).where(
        IdempotencyKey.owner == caller.owner, IdempotencyKey.key == key))

    def store(response) -> None:
        row = db.session.get(IdempotencyKey, row_id)
        row.state = IdempotencyState.COMPLETED
        row.response_status = response.status_code
        row.response_content_type = response.content_type
        row.response_body = response.get_data(as_text=True)
        row.response_headers = {name: response.headers[name] for name in REPLAYED_HEADERS
                                if name in response.headers}
        row.completed_at = clock.now()

    record_answer(store)  # kept whatever the answer, a refusal included
    try:
        return answer(view, args, kwargs)
    except Exception:
        db.session.rollback()
        db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.id == row_id))
        db.session.commit()
        raise


def _answer_for_existing(existing: IdempotencyKey, print_: str):
    if existing.fingerprint != print_:
        return error_response(
            422, "idempotency_key_reused",
            _("This Idempotency-Key was used for a different request."), {HEADER: ["reused"]})
    if existing.state is IdempotencyState.IN_PROGRESS:
        return error_response(
            409, "idempotency_key_in_progress",
            _("A request with this Idempotency-Key is still being processed."),
            {HEADER: ["in_progress"]})
    response = Response(existing.response_body, status=existing.response_status,
                        content_type=existing.response_content_type)
    for name, value in (existing.response_headers or {}).items():
        response.headers[name] = value
    response.headers["Idempotent-Replayed"] = "true"
    return response


def expired(now):
    """Sweeper: keys past their 24 hours."""
    return (select(IdempotencyKey).where(IdempotencyKey.created_at <= now - KEPT_FOR)
            .order_by(IdempotencyKey.id))


def forget(row: IdempotencyKey, now) -> None:
    db.session.delete(row)
