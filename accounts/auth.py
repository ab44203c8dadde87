"""Flask-Login wiring: the cookie carries a server-side session token, never a user id."""

from functools import wraps

from flask import abort, redirect, request, url_for
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user, login_required

from accounts.roles import Role
from accounts.services import load_session_user
from arbiter.errors import error_response, wants_json


def init_login(manager: LoginManager) -> None:
    manager.login_view = "accounts.login"
    manager.login_message = _l("Please log in to see this page.")
    manager.login_message_category = "info"
    manager.session_protection = "basic"
    manager.user_loader(load_session_user)

    @manager.unauthorized_handler
    def unauthorized():
        if wants_json():
            return error_response(401, "unauthorized", "authentication required")
        return redirect(url_for("accounts.login", next=request.full_path.rstrip("?")))


def role_required(*roles: Role):
    """Staff holding one of ``roles`` only: anonymous users go to login, everyone else
    gets 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if not current_user.has_role(*roles):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_roles = frozenset(roles)
        return wrapped

    return decorator
