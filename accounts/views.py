"""Browser pages for registration, login, logout and password change."""

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from accounts import services
from accounts.forms import ChangePasswordForm, LoginForm, RegistrationForm
from arbiter.errors import ValidationFailed
from arbiter.extensions import db, limiter
from arbiter.urls import safe_next_url

bp = Blueprint("accounts", __name__)


def _login_attempt_key() -> str:
    """Throttle per account (the e-mail typed), not per IP: a botnet cannot spread out.

    The browser's form and the API's JSON (``POST /api/v1/auth/tokens``) count together.
    """
    email = request.form.get("email")
    if email is None and request.is_json:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    return "login:" + services.normalise_email(email if isinstance(email, str) else "")


def _login_limit() -> str:
    from flask import current_app

    return f"{int(current_app.config['LOGIN_ATTEMPTS_PER_MINUTE'])} per minute"


def _failed_login(response) -> bool:
    return response.status_code not in (201, 302)  # 302: browser login, 201: API token


# One budget per account for every way of logging in (browser form and API token).
login_throttle = limiter.shared_limit(_login_limit, scope="login", key_func=_login_attempt_key,
                                      methods=["POST"], deduct_when=_failed_login)


def _begin_session(user) -> None:
    session.clear()  # a fresh session on login: no fixation
    services.start_session(user, request.headers.get("User-Agent"))
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
@login_throttle
def login():
    """Log in with e-mail and password; the same message for every failure."""
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            _begin_session(user)
            db.session.commit()
            flash(_("Welcome back, %(name)s.", name=user.name), "success")
            return redirect(safe_next_url(request.args.get("next")) or url_for("core.index"))
        form.password.errors.append(_("Unknown e-mail address or wrong password."))
        return render_template("accounts/login.html", form=form), 401
    return render_template("accounts/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """End this browser's session; the cookie is worthless afterwards."""
    services.end_session(current_user, current_user.session_token)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have been logged out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Create an account; any account can buy and sell."""
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    form = RegistrationForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(form.email.data, form.name.data, form.password.data)
        except ValidationFailed as error:
            form.email.errors.append(error.message)
        else:
            _begin_session(user)
            db.session.commit()
            flash(_("Your account is ready."), "success")
            return redirect(url_for("core.index"))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/register.html", form=form), status


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change the password; every other session of the account ends."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            services.change_password(user, form.current_password.data, form.new_password.data)
        except ValidationFailed as error:
            form.current_password.errors.append(error.message)
        else:
            _begin_session(user)
            db.session.commit()
            flash(_("Your password has been changed. Other sessions were logged out."),
                  "success")
            return redirect(url_for("core.index"))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/change_password.html", form=form), status
