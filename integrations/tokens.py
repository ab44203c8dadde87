"""API tokens: integration tokens for the marketplace, user tokens that act as one user.

A token is ``arb_`` plus 43 random URL-safe characters; only its SHA-256 is stored, so a
leaked database does not leak usable tokens. Each function writes its audit entry and
leaves the commit to the caller.
"""

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select, update

from accounts.models import User
from arbiter import audit, clock
from arbiter.errors import NotFound, ValidationFailed
from arbiter.extensions import db
from integrations.models import ApiToken, Scope, TokenKind

PREFIX = "arb_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class IssuedToken:
    row: ApiToken
    token: str  # the only moment the raw token exists


def _issue(kind: TokenKind, name: str, *, user: User | None = None,
           lifetime: timedelta | None = None, scopes: str | None = None) -> IssuedToken:
    token = PREFIX + secrets.token_urlsafe(32)
    now = clock.now()
    row = ApiToken(kind=kind, name=name[:100], token_hash=token_hash(token),
                   user_id=user.id if user else None, created_at=now,
                   expires_at=now + lifetime if lifetime else None, scopes=scopes)
    db.session.add(row)
    db.session.flush()
    audit.record("api_token.created", row, actor=user,
                 after={"kind": kind.value, "name": row.name, "expires_at": row.expires_at,
                        "scopes": scopes})
    return IssuedToken(row, token)


def parse_scopes(names: Iterable[str]) -> frozenset[Scope]:
    """The scopes named (``orders:write`` ...); an unknown name or none at all is refused."""
    names = {name.strip() for name in names if name.strip()}
    unknown = sorted(names - {scope.value for scope in Scope})
    if unknown or not names:
        raise ValidationFailed(
            f"choose one or more scopes of {', '.join(scope.value for scope in Scope)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
            code="invalid_scopes", fields={"scopes": ["invalid"]})
    return frozenset(Scope(name) for name in names)


def create_integration_token(name: str, *, scopes: Iterable[str]) -> IssuedToken:
    """A token for the integration ``name`` allowed exactly ``scopes``. The integration is
    its name: a new token under the same name (after revoking the old one) keeps managing
    its webhooks and orders."""
    name = (name or "").strip()
    if not 1 <= len(name) <= 100:
        raise ValidationFailed("NAME must have 1 to 100 characters", fields={"name": ["length"]})
    chosen = parse_scopes(scopes)
    if live_integration_token(name) is not None:
        raise ValidationFailed(f"an integration named {name!r} already has a live token; "
                               "revoke it first", code="name_taken", fields={"name": ["taken"]})
    return _issue(TokenKind.INTEGRATION, name,
                  scopes=" ".join(sorted(scope.value for scope in chosen)))


def live_integration_token(name: str) -> ApiToken | None:
    return db.session.scalar(select(ApiToken).where(
        ApiToken.kind == TokenKind.INTEGRATION, ApiToken.name == name,
        ApiToken.revoked_at.is_(None)))


def revoke_integration(name: str) -> ApiToken:
    row = live_integration_token(name)
    if row is None:
        raise NotFound(f"no live integration token named {name!r}")
    revoke(row)
    return row


def issue_user_token(user: User, name: str = "api") -> IssuedToken:
    days = int(current_app.config["API_TOKEN_LIFETIME_DAYS"])
    return _issue(TokenKind.USER, name or "api", user=user, lifetime=timedelta(days=days))


def revoke(row: ApiToken) -> None:
    if row.revoked_at is not None:
        return
    row.revoked_at = clock.now()
    audit.record("api_token.revoked", row, actor=row.user_id,
                 after={"kind": row.kind.value, "name": row.name})


def revoke_all_of(user: User) -> int:
    """Revoke every live token of ``user`` now (a password change, a deactivation, a
    deletion); how many: the caller's audit entry says it."""
    return db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=clock.now())).rowcount


def live_tokens_of(user: User) -> list[ApiToken]:
    """The account page's list: the person's tokens that still work, newest first."""
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
                               ApiToken.expires_at > clock.now())
        .order_by(ApiToken.created_at.desc(), ApiToken.id.desc())))


def revoke_own(user: User, token_id: int) -> ApiToken:
    """Revoke one of ``user``'s own tokens (the account page); anyone else's, an unknown or
    an already revoked one: 404."""
    row = db.session.scalar(select(ApiToken).where(
        ApiToken.id == token_id, ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .with_for_update())
    if row is None:
        raise NotFound(_("There is nothing here."))
    revoke(row)
    return row


def find_live(token: str) -> ApiToken | None:
    """The token row for a raw bearer token: unknown, revoked and expired ones (and those of
    a deactivated account) are None."""
    if not token.startswith(PREFIX) or len(token) > 200:
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    if row.expires_at is not None and row.expires_at <= clock.now():
        return None
    if row.user is not None and row.user.deactivated_at is not None:
        return None  # a deactivated account's tokens are revoked; belt and braces
    return row
