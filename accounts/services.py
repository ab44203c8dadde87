"""Account transitions: register, log in, log out, change password.

Each function changes state, writes the audit entry and leaves the commit to the caller
(one commit per request).
"""

import secrets
from collections.abc import Callable
from datetime import timedelta
from functools import cache

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import ColumnElement, bindparam, delete, select

from accounts.links import token_hash as _token_hash
from accounts.models import RoleGrant, User, UserSession
from accounts.passwords import hash_password, password_problem, verify_password
from accounts.roles import Role
from arbiter import audit, clock
from arbiter.errors import ValidationFailed
from arbiter.extensions import db


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password_rules(password: str, *, email: str, name: str,
                         field: str = "password") -> None:
    """Refuse a password that breaks the rules (:mod:`accounts.passwords`) with a 422 naming
    ``field``; ``email`` and ``name`` are the account's, refused as the password."""
    problem = password_problem(password, context=(email, name))
    if problem:
        raise ValidationFailed(problem, code="weak_password", fields={field: [problem]})


def create_user(
    email: str, name: str, password: str, *, roles=(), actor=None, verified: bool = True
) -> User:
    """Create an account. ``verified``: whoever creates it vouches for the address (the
    command line, the demo seed, a staff invitation's link); registration passes False and
    e-mails a link (:mod:`accounts.verification`)."""
    email = normalise_email(email)
    check_password_rules(password, email=email, name=name)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationFailed(
            str(_l("An account with this e-mail address already exists.")),
            code="email_taken",
            fields={"email": ["taken"]},
        )
    user = User(email=email, name=name.strip(), password_hash=hash_password(password),
                verified_at=clock.now() if verified else None)
    user.role_grants = [RoleGrant(role=Role(role), granted_at=clock.now(),
                                  granted_by_id=getattr(actor, "id", None))
                        for role in sorted(set(roles))]
    db.session.add(user)
    audit.record("user.registered", user, actor=actor or user,
                 after={"email": email, "roles": sorted(set(roles)), "verified": verified})
    return user


def authenticate(email: str, password: str) -> User | None:
    """The user for these credentials, or None: unknown e-mail and wrong password alike."""
    user = db.session.scalar(select(User).where(User.email == normalise_email(email),
                                                User.deleted_at.is_(None),
                                                User.deactivated_at.is_(None)))
    if not verify_password(user.password_hash if user else None, password):
        return None
    return user


def start_session(user: User, user_agent: str | None = None, *,
                  second_factor_at=None) -> str:
    """Create a server-side session row; the raw token goes into the signed cookie.

    ``second_factor_at``: the session replaces one that passed the second factor then (a
    password change); otherwise a staff member's new session has yet to pass it."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    lifetime = timedelta(days=int(current_app.config["SESSION_LIFETIME_DAYS"]))
    db.session.add(UserSession(
        user_id=user.id, token_hash=_token_hash(token), created_at=now,
        expires_at=now + lifetime, user_agent=(user_agent or "")[:255] or None,
        second_factor_at=second_factor_at,
    ))
    audit.record("user.logged_in", user, actor=user)
    user.session_token = token
    user.second_factor_at = second_factor_at
    return token


# Figures every page of a logged-in user shows (the unread count, the incident banner),
# registered by the packages that own them as scalar subqueries (correlated with
# ``User.id`` or not). They are read in the same statement as the session's user, so a
# page pays one database round trip for all of them, not one each.
_PAGE_EXTRAS: dict[str, Callable[[], ColumnElement]] = {}


def register_page_extra(name: str, column: Callable[[], ColumnElement]) -> None:
    _PAGE_EXTRAS[name] = column


@cache
def _session_statement(names: tuple[str, ...]):
    """Built once: SQLAlchemy then reuses its compiled form and cache key on every request."""
    return (select(User, UserSession.expires_at, UserSession.second_factor_at,
                   *(_PAGE_EXTRAS[name]().label(f"extra_{name}") for name in names))
            .join(UserSession, UserSession.user_id == User.id)
            .where(UserSession.token_hash == bindparam("token_hash"),
                   User.deleted_at.is_(None), User.deactivated_at.is_(None)))


def load_session_user(token: str) -> User | None:
    names = tuple(_PAGE_EXTRAS)
    row = db.session.execute(_session_statement(names),
                             {"token_hash": _token_hash(token)}).first()
    if row is None or row.expires_at <= clock.now():
        return None
    user = row.User
    user.session_token = token
    user.second_factor_at = row.second_factor_at
    user.page_extras = dict(zip(names, row[3:], strict=True))
    return user


def page_extra(user, name: str):
    """A figure read with this request's user (see :func:`register_page_extra`), or None
    when it was not (an API caller, a user loaded another way)."""
    return (getattr(user, "page_extras", None) or {}).get(name)


def end_session(user: User, token: str | None) -> None:
    if token:
        db.session.execute(
            delete(UserSession).where(UserSession.token_hash == _token_hash(token))
        )
    audit.record("user.logged_out", user, actor=user)


def end_all_sessions(user: User) -> None:
    db.session.execute(delete(UserSession).where(UserSession.user_id == user.id))


def change_password(user: User, current_password: str, new_password: str) -> None:
    """Change the password, end every session of the user (this one included) and revoke
    every API token: whoever learnt the old password may have made one."""
    from integrations.tokens import revoke_all_of  # integrations builds on accounts
    if not verify_password(user.password_hash, current_password):
        raise ValidationFailed(
            str(_l("The current password is not correct.")),
            code="wrong_password",
            fields={"current_password": ["incorrect"]},
        )
    check_password_rules(new_password, email=user.email, name=user.name,
                         field="new_password")
    user.password_hash = hash_password(new_password)
    user.password_changed_at = clock.now()
    end_all_sessions(user)
    audit.record("user.password_changed", user, actor=user,
                 after={"api_tokens_revoked": revoke_all_of(user)})


def set_locale(user: User, locale: str) -> None:
    before = user.locale
    user.locale = locale
    if before != locale:
        audit.record("user.locale_changed", user, actor=user,
                     before={"locale": before}, after={"locale": locale})
