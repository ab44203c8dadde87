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

from accounts import deletion, exports, second_factor, services
from accounts.forms import ChangePasswordForm, DeleteAccountForm, LoginForm, RegistrationForm
from accounts.throttle import sign_in_succeeded, sign_in_throttle
from arbiter.errors import ValidationFailed
from arbiter.extensions import db
from arbiter.storage import send_download
from arbiter.urls import safe_next_url

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
        passed = user.second_factor_at  # the new session keeps this one's second factor
        try:
            services.change_password(user, form.current_password.data, form.new_password.data)
        except ValidationFailed as error:
            form.current_password.errors.append(error.message)
        else:
            _begin_session(user, second_factor_at=passed)
            flash(_("Your password has been changed. Other sessions were logged out."),
                  "success")
            return redirect(url_for("core.index"))
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/change_password.html", form=form), status


def _account_page(error: str | None = None, status: int = 200):
    user = current_user._get_current_object()
    items = exports.exports_of(user)
    return render_template("accounts/account.html", exports=items, error=error,
                           second_factor=second_factor.summary(user),
                           pending=any(item.is_pending for item in items),
                           lifetime_days=exports.EXPORT_LIFETIME.days), status


@bp.route("/account")
@login_required
def account():
    """My account: name and e-mail, my data exports with their progress, and the ways out
    (change password, delete the account)."""
    return _account_page()


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
