"""Bearer authentication and the transaction of an API request.

Decorate every API view with one of :func:`user_required`, :func:`role_required`,
:func:`integration_required` or :func:`token_required`, directly under ``@blp.route``.
The decorator

- reads ``Authorization: Bearer <token>``: missing, unknown, revoked or expired -> 401;
  the wrong kind of token (a user token on an integration endpoint and vice versa), a
  user without the role a staff endpoint needs, or an integration token without the
  scope the endpoint names (``view.required_scope``) -> 403;
- answers a refusal as the API's JSON error (the request's one transaction, committed
  below 400 and rolled back otherwise, is :mod:`arbiter.transactions`', as for pages);
- on POST, honours ``Idempotency-Key`` (see :mod:`integrations.idempotency`).
"""

from dataclasses import dataclass
from datetime import timedelta
from functools import wraps

from flask import abort, g, make_response, request
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from accounts import second_factor, verification
from accounts.models import User
from accounts.roles import Role
from arbiter import clock
from arbiter.api import API_PREFIX, BEARER, Blueprint
from arbiter.errors import DomainError, domain_error_response, http_error_response
from arbiter.extensions import db
from integrations import tokens
from integrations.models import ApiToken, Scope, TokenKind

LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class Caller:
    token: ApiToken
    user: User | None

    @property
    def kind(self) -> TokenKind:
        return self.token.kind

    @property
    def integration(self) -> str | None:
        """The integration this token speaks for (its name); None for a user token."""
        return self.token.name if self.kind is TokenKind.INTEGRATION else None

    @property
    def owner(self) -> str:
        """Whose idempotency keys these are: a user's (any of their tokens) or one token's."""
        if self.user is not None:
            return f"user:{self.user.id}"
        return f"integration:{self.token.id}"


def current_caller() -> Caller:
    return g.api_caller


def current_user() -> User:
    return g.api_caller.user


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def note_token_use() -> None:
    """Before an API request's own transaction: when its token was last used, to the minute
    (not a write on every request), committed on its own, for reads too (a GET's
    transaction is read-only)."""
    raw = _bearer() if request.path.startswith(API_PREFIX) else None
    if raw is None:
        return
    row = tokens.find_live(raw)
    now = clock.now()
    if row is not None and (row.last_used_at is None
                            or now - row.last_used_at >= LAST_USED_RESOLUTION):
        row.last_used_at = now
    db.session.commit()  # ends this transaction either way: the request's begins afresh


def load_caller() -> Caller:
    raw = _bearer()
    row = tokens.find_live(raw) if raw else None
    if row is None:
        abort(401)
    user = row.user if row.kind is TokenKind.USER else None
    if user is not None:
        g._login_user = user  # Flask-Login's current_user: the user's language for messages
    return Caller(row, user)


def answer(view, args, kwargs):
    """The view's answer, a refusal (a domain or HTTP error) as the API's JSON error; the
    request's transaction (:mod:`arbiter.transactions`) then commits or rolls back."""
    try:
        return make_response(view(*args, **kwargs))
    except DomainError as error:
        return make_response(domain_error_response(error))
    except HTTPException as error:
        return make_response(http_error_response(error))


class MissingScope(DomainError):
    """An integration token without the scope the endpoint needs (403)."""

    status = 403
    code = "insufficient_scope"


def _scope_refusal(caller: Caller, scope: Scope | None) -> MissingScope | None:
    if scope is None or caller.kind is not TokenKind.INTEGRATION:
        return None
    if caller.token.has_scope(scope):
        return None
    return MissingScope(_("This token lacks the scope %(scope)s.", scope=scope.value),
                        fields={"scope": [scope.value]})


def _guard(kinds: frozenset[TokenKind], *, roles: frozenset[Role] = frozenset(),
           scope: Scope | None = None):
    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            caller = load_caller()
            if caller.kind not in kinds:
                abort(403)
            for refusal in (second_factor.token_refusal(caller.user),
                            verification.token_refusal(caller.user),
                            _scope_refusal(caller, scope)):
                if refusal is not None:  # no authenticator app, no confirmed address, or
                    raise refusal  # a scope the token lacks: nothing
            if roles and not caller.user.has_role(*roles):
                abort(403)
            g.api_caller = caller
            if request.method == "POST":
                from integrations.idempotency import run_idempotent

                return run_idempotent(caller, view, args, kwargs)
            return answer(view, args, kwargs)

        wrapped._api_auth = kinds
        wrapped.required_roles = roles
        wrapped.required_scope = scope
        return Blueprint.doc(security=BEARER)(wrapped)

    return decorator


def user_required(view):
    """A user token; the view acts as that user (same rules as the browser)."""
    return _guard(frozenset({TokenKind.USER}))(view)


def role_required(*roles: Role):
    """A user token of staff holding one of ``roles``; anyone else gets 403."""
    return _guard(frozenset({TokenKind.USER}), roles=frozenset(roles))


def integration_required(scope: Scope):
    """An integration token (the marketplace itself) holding ``scope``."""
    return _guard(frozenset({TokenKind.INTEGRATION}), scope=scope)


def token_required(scope: Scope | None):
    """Any valid token; an integration token must hold ``scope`` (None: only for what any
    token may do to itself). The view looks at :func:`current_caller` to decide what to
    show."""
    return _guard(frozenset(TokenKind), scope=scope)
