"""The second step of a staff member's sign-in, the enrolment of their authenticator app and
new recovery codes (see :mod:`accounts.second_factor`).

A staff session that has not passed the second factor reaches only these pages and logout
(:func:`accounts.second_factor.gate`). Wrong codes count against the same per-account
budgets as wrong passwords (:mod:`accounts.throttle`).
"""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from accounts import second_factor
from accounts.forms import EnrolmentForm, RegenerateRecoveryCodesForm, SecondFactorForm
from accounts.throttle import sign_in_succeeded, sign_in_throttle
from arbiter.errors import DomainError
from arbiter.extensions import db
from arbiter.urls import safe_next_url

bp = Blueprint("second_factor", __name__)

def _user():
    return current_user._get_current_object()


def _continue():
    return redirect(safe_next_url(request.args.get("next")) or url_for("core.index"))


@bp.route("/login/second-factor", methods=["GET", "POST"])
@login_required
@sign_in_throttle
def verify():
    """The second step of a staff member's sign-in: a code from the authenticator app or a
    recovery code; wrong and reused codes are refused (401) and count as failed logins."""
    user = _user()
    if not second_factor.session_pending(user):
        return _continue()
    if not second_factor.is_enrolled(user):
        return redirect(url_for("second_factor.enrol", next=request.args.get("next")))
    form = SecondFactorForm()
    if form.validate_on_submit():
        try:
            used = second_factor.verify(user, form.code.data, user.session_token)
        except second_factor.CodeRefused as refusal:
            db.session.rollback()
            form.code.errors.append(refusal.message)
            return render_template("accounts/second_factor_verify.html", form=form), 401
        if used == "recovery_code":
            flash(_("You used a recovery code; %(count)d are left. Make new ones on your "
                    "account page if you are running out.",
                    count=second_factor.recovery_codes_left(user)), "warning")
        sign_in_succeeded(user.email)
        flash(_("Welcome back, %(name)s.", name=user.name), "success")
        return _continue()
    status = 422 if form.is_submitted() else 200
    return render_template("accounts/second_factor_verify.html", form=form), status


def _enrolment_page(form, status: int = 200):
    user = _user()
    factor = second_factor.factor_of(user)
    pending = factor is not None and factor.confirmed_at is None
    qr = secret = None
    if pending:
        qr = second_factor.qr_code_svg(second_factor.provisioning_uri(user, factor),
                                       _("QR code for your authenticator app"))
        secret = second_factor.grouped(factor.secret)
    return render_template("accounts/second_factor_enrol.html", form=form, pending=pending,
                           qr=qr, secret=secret, account=user.email,
                           issuer=second_factor.ISSUER), status


@bp.route("/account/second-factor", methods=["GET", "POST"])
@login_required
@sign_in_throttle
def enrol():
    """Set up the authenticator app: its QR code (drawn here) and secret, then a code from
    it; the ten recovery codes are shown once, on the answer."""
    user = _user()
    if not second_factor.required(user) and not second_factor.is_enrolled(user):
        return redirect(url_for("accounts.account"))
    if second_factor.is_enrolled(user):
        if second_factor.session_pending(user):
            return redirect(url_for("second_factor.verify", next=request.args.get("next")))
        return redirect(url_for("accounts.account"))
    form = EnrolmentForm()
    if form.validate_on_submit():
        try:
            codes = second_factor.confirm_enrolment(user, form.code.data, user.session_token)
        except DomainError as refusal:
            db.session.rollback()
            form.code.errors.append(refusal.message)
            return _enrolment_page(form, 422)
        sign_in_succeeded(user.email)
        flash(_("Your authenticator app is set up. You will be asked for a code each time "
                "you log in."), "success")
        return render_template("accounts/recovery_codes.html", codes=codes,
                               next_url=safe_next_url(request.args.get("next"))
                               or url_for("core.index"))
    return _enrolment_page(form, 422 if form.is_submitted() else 200)


@bp.route("/account/second-factor/start", methods=["POST"])
@login_required
def start_enrolment():
    """A new secret to scan (an unfinished earlier one stops working)."""
    user = _user()
    if second_factor.required(user) and not second_factor.is_enrolled(user):
        second_factor.begin_enrolment(user)
    return redirect(url_for("second_factor.enrol", next=request.args.get("next")))


@bp.route("/account/second-factor/recovery-codes", methods=["GET", "POST"])
@login_required
@sign_in_throttle
def regenerate_recovery_codes():
    """Ten new recovery codes for a current code from the app, shown once; the old ones stop
    working. A wrong code is refused (401) and counts as a failed login."""
    user = _user()
    if not second_factor.is_enrolled(user):
        return redirect(url_for("accounts.account"))
    form = RegenerateRecoveryCodesForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = second_factor.regenerate_recovery_codes(user, form.code.data)
        except DomainError as refusal:
            db.session.rollback()
            form.code.errors.append(refusal.message)
            status = refusal.status
        else:
            flash(_("New recovery codes are ready; the old ones no longer work."), "success")
            return render_template("accounts/recovery_codes.html", codes=codes,
                                   next_url=url_for("accounts.account"))
    elif form.is_submitted():
        status = 422
    return render_template("accounts/regenerate_recovery_codes.html", form=form,
                           left=second_factor.recovery_codes_left(user)), status
