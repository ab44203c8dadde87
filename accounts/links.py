"""E-mailed single-use links: staff invitations (:mod:`accounts.staff`) and address
verification (:mod:`accounts.verification`) share this machinery.

A link's token is never stored. The row the link opens keeps the token's SHA-256; the
e-mail waiting in the outbox keeps a random nonce, and the token is an HMAC of that nonce
under the application's secret key, computed only when the e-mail is rendered
(:func:`url`). A copy of the database alone therefore opens no link. ``purpose`` keeps
the links of different kinds apart: an invitation's nonce gives no verification token.

A row the link opens has ``token_hash``, ``expires_at`` and ``is_pending`` (neither used
nor replaced); :func:`find` refuses unknown tokens (404) and spent or expired ones (410).
"""

import base64
import hashlib
import hmac
import secrets

from flask import current_app
from sqlalchemy import select

from arbiter import clock
from arbiter.db import locked
from arbiter.errors import DomainError, NotFound
from arbiter.extensions import db
from arbiter.urls import public_url


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_nonce() -> str:
    return secrets.token_urlsafe(32)


def token(purpose: str, nonce: str) -> str:
    """The link's token for the outbox e-mail's ``nonce``."""
    key = current_app.config["SECRET_KEY"].encode()
    digest = hmac.new(key, f"{purpose}:{nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def url(endpoint: str, purpose: str, nonce: str) -> str:
    """The absolute link an e-mail carries (rendered when the outbox sends it)."""
    return public_url(endpoint, token=token(purpose, nonce))




def find(model, raw_token: str, *, lock: bool, not_found: str, unusable: DomainError):
    """The pending row of ``model`` whose link carries ``raw_token``, locked if asked."""
    row = db.session.scalar(select(model).where(
        model.token_hash == token_hash(raw_token or "")))
    if row is None:
        raise NotFound(not_found)
    if lock:
        row = locked(model, row.id)
    if not row.is_pending or row.expires_at <= clock.now():
        raise unusable
    return row

