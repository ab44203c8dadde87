"""Browser pages for registration, login, logout, password change, the account page with
its data rights (download my data, delete my account) and the public privacy page."""


from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm

from accounts import deletion, exports, second_factor, services, verification
from accounts.forms import ChangePasswordForm, DeleteAccountForm, LoginForm, RegistrationForm
from accounts.throttle import sign_in_succeeded, sign_in_throttle
from arbiter.errors import DomainError, ValidationFailed
from arbiter.extensions import db, limiter
from arbiter.storage import send_download
from arbiter.urls import public_url, safe_next_url
from integrations import tokens

bp = Blueprint("accounts", __name__)


def _begin_session(user, second_factor_at=None) -> None:
    session.clear()  # a fresh session on login: no fixation
    services.start_session(user, request.headers.get("User-Agent"),
                           second_factor_at=second_factor_at)
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
@sign_in_throttle
def login():
    """Log in with e-mail and password; the same message for every failure."""
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = services.authenticate(form.email.data, form.password.data)
        if user is not None:
            _begin_session(user)
            if second_factor.required(user):  # staff: a code before the session counts
                return second_factor.second_step(user, request.args.get("next"))
            sign_in_succeeded(user.email)
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
    logout_user()
    session.clear()
    flash(_("You have been logged out."), "info")
    return redirect(url_for("accounts.login"))


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Create an account; any account can buy and sell once its address is confirmed.

    The answer is the same whether the address is new or already has an account (only the
    e-mail differs: a link, or a warning to the owner), so this page tells nobody who has
    an account here."""
    if current_user.is_authenticated:
        return redirect(url_for("core.index"))
    form = RegistrationForm()
    if form.validate_on_submit():
        try:
            verification.register(form.email.data, form.name.data, form.password.data)
        except ValidationFailed as error:
            db.session.rollback()
            form.password.errors.append(error.message)
        else:
            flash(_("We have sent an e-mail to %(email)s. Open the link in it within 24 hours "
                    "to confirm your address, then log in.",
                    email=services.normalise_email(form.email.data)), "success")
            return redirect(url_for("accounts.login"))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/register.html", form=form), status


@bp.app_template_global()
def email_verification_url(nonce: str) -> str:
    """The confirmation link of an outbox e-mail (templates/emails/email_verification/)."""
    return verification.verification_url(nonce)


@bp.app_template_global()
def login_page_url() -> str:
    """The login page's address for an e-mail (templates/emails/registration_attempt/)."""
    return public_url("accounts.login")


@bp.route("/verify-email/<token>", methods=["GET", "POST"])
def verify_email(token: str):
    """The e-mailed link: a button confirms the address (a POST, so that mail scanners
    that open links do not spend it). Unknown link 404; used, replaced or expired 410."""
    verification.find_link(token)
    form = FlaskForm()
    if form.validate_on_submit():
        user = verification.verify(token)
        flash(_("Thank you: your e-mail address %(email)s is confirmed.", email=user.email),
              "success")
        signed_in = current_user.is_authenticated and current_user.id == user.id
        return redirect(url_for("core.index" if signed_in else "accounts.login"))
    return render_template("accounts/verify_email.html", form=form)


@bp.route("/account/verification", methods=["POST"])
@login_required
@limiter.limit("5 per hour", key_func=lambda: f"verification:{current_user.id}")
def resend_verification():
    """E-mail a new confirmation link (the older one stops working); 409 once confirmed."""
    try:
        verification.send_link(current_user._get_current_object())
    except DomainError as error:
        db.session.rollback()
        flash(error.message, "warning")
        return _account_page(status=error.status)
    flash(_("We have sent a new link to %(email)s. It works for 24 hours.",
            email=current_user.email), "success")
    return redirect(url_for("accounts.account"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    """Change the password; every other session of the account ends and every API token
    of it is revoked."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        passed = user.second_factor_at  # the new session keeps this one's second factor
        try:
            services.change_password(user, form.current_password.data, form.new_password.data)
        except ValidationFailed as error:
            db.session.rollback()
            field = form.new_password if "new_password" in error.fields else \
                form.current_password
            field.errors.append(error.message)
        else:
            _begin_session(user, second_factor_at=passed)
            flash(_("Your password has been changed. Other sessions were logged out and "
                    "your API tokens were revoked."), "success")
            return redirect(url_for("core.index"))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/change_password.html", form=form), status


def _account_page(error: str | None = None, status: int = 200):
    user = current_user._get_current_object()
    items = exports.exports_of(user)
    return render_template("accounts/account.html", exports=items, error=error,
                           second_factor=second_factor.summary(user),
                           api_tokens=tokens.live_tokens_of(user),
                           pending=any(item.is_pending for item in items),
                           lifetime_days=exports.EXPORT_LIFETIME.days), status


@bp.route("/account")
@login_required
def account():
    """My account: name and e-mail, my API tokens, my data exports with their progress, and
    the ways out (change password, delete the account)."""
    return _account_page()


@bp.route("/account/tokens/<int:token_id>/revoke", methods=["POST"])
@login_required
def revoke_api_token(token_id: int):
    """Revoke one of my API tokens (audited); someone else's token: 404."""
    row = tokens.revoke_own(current_user._get_current_object(), token_id)
    flash(_("The API token “%(name)s” has been revoked.", name=row.name), "success")
    return redirect(url_for("accounts.account", _anchor="api-tokens"))


@bp.route("/account/data-export", methods=["POST"])
@login_required
def request_data_export():
    """Ask for a ZIP of all my data (prepared in the background); 409 while one is pending."""
    try:
        exports.request_export(current_user._get_current_object())
    except exports.ExportPending as error:
        db.session.rollback()
        return _account_page(error.message, 409)
    flash(_("We are preparing your data. You will be told in the app and by e-mail when it "
            "is ready."), "success")
    return redirect(url_for("accounts.account"))


@bp.route("/account/data-export/<int:export_id>/download")
@login_required
def download_data_export(export_id: int):
    """My data as a ZIP: only for its owner (404 for anyone else), for 7 days (then 410)."""
    export, data = exports.open_download(export_id, current_user)
    return send_download(data, filename=exports.download_name(export),
                         mimetype="application/zip")


@bp.route("/account/delete", methods=["GET", "POST"])
@login_required
def delete_account():
    """Delete my account: asks for the password again, anonymises me and logs me out
    everywhere; refused (409) while I have open cases."""
    user = current_user._get_current_object()
    form = DeleteAccountForm()
    status, error = 200, None
    if form.validate_on_submit():
        try:
            deletion.delete_account(user, form.password.data)
        except ValidationFailed as failure:
            db.session.rollback()
            form.password.errors.append(failure.message)
        except deletion.DeletionRefused as refusal:
            db.session.rollback()
            status, error = 409, refusal.message
        else:
            logout_user()
            session.clear()
            flash(_("Your account has been deleted and you have been logged out everywhere. "
                    "Thank you for using Arbiter."), "info")
            return redirect(url_for("core.index"))
    if form.is_submitted() and status == 200:
        status = 422
    return render_template("accounts/delete.html", form=form, error=error,
                           blockers=deletion.deletion_blockers(user)), status


@bp.route("/privacy")
def privacy():
    """What Arbiter stores about people, why, for how long, and how to use each right."""
    return render_template("accounts/privacy.html", lifetime_days=exports.EXPORT_LIFETIME.days,
                           support_email=current_app.config["SUPPORT_EMAIL"])
