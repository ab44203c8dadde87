"""The staff page for administrators (/staff/people) and the invitation link (/invitations/).

Views stay thin: load, check the role (``role_required``), call one service of
:mod:`accounts.staff`, redirect; a refusal shows the page again with its message and status.
"""

from datetime import datetime

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from flask_wtf import FlaskForm

from accounts import staff
from accounts.auth import role_required
from accounts.forms import AcceptInvitationForm, InviteStaffForm, StaffRolesForm
from accounts.roles import LABELS, Role
from arbiter import clock, handover
from arbiter.errors import DomainError, ValidationFailed
from arbiter.extensions import db

bp = Blueprint("staff", __name__)


@bp.app_template_global()
def staff_role_label(role) -> str:
    return str(LABELS[Role(role)])


@bp.app_template_filter("iso_local_dt")
def iso_local_dt(value: str) -> str:
    """A moment kept as an ISO string (an outbox row's context) in Warsaw time."""
    return format_datetime(clock.ensure_aware(datetime.fromisoformat(value)), "short")


@bp.app_template_global()
def handover_panel(case):
    """Hand-over history and form of a case for the signed-in staff member, or None."""
    return handover.panel(case, current_user)


@bp.app_template_global()
def staff_invitation_url(nonce: str) -> str:
    """The invitation link of an outbox e-mail (templates/emails/staff_invitation/)."""
    return staff.invitation_url(nonce)


@bp.app_template_global()
def staff_reaches(endpoint: str) -> bool:
    """Does the signed-in person hold a role the page at ``endpoint`` requires? (The staff
    navigation shows only those.)"""
    view = current_app.view_functions.get(endpoint)
    roles = getattr(view, "required_roles", None)
    return bool(roles) and current_user.is_authenticated and current_user.has_role(*roles)


def _roles_form(user, formdata=None) -> StaffRolesForm:
    form = StaffRolesForm(formdata=formdata, prefix=f"user-{user.id}")
    if formdata is None:
        form.roles.data = [grant.role.value for grant in user.role_grants]
    return form


def _people_page(status: int = 200, *, invite_form=None, error: str | None = None):
    return render_template(
        "staff/people.html", people=staff.staff_members(),
        invitations=staff.pending_invitations(), invite_form=invite_form or InviteStaffForm(),
        roles_form=_roles_form, action_form=FlaskForm(), error=error, now=clock.now(),
        lifetime_hours=int(staff.INVITATION_LIFETIME.total_seconds() // 3600)), status


def _refused(error: DomainError):
    db.session.rollback()
    return _people_page(error.status, error=error.message)


@bp.route("/staff/people")
@role_required(Role.ADMIN)
def people():
    """Staff with their roles, pending invitations, and the invitation form."""
    return _people_page()


@bp.route("/staff/people/invite", methods=["POST"])
@role_required(Role.ADMIN)
def invite():
    form = InviteStaffForm()
    if not form.validate():
        return _people_page(422, invite_form=form)
    try:
        staff.invite(current_user._get_current_object(), form.email.data, form.roles.data)
    except ValidationFailed as error:
        db.session.rollback()
        form.email.errors.append(error.message)
        return _people_page(422, invite_form=form)
    except DomainError as error:
        return _refused(error)
    flash(_("The invitation was sent to %(email)s.", email=form.email.data.strip().lower()),
          "success")
    return redirect(url_for("staff.people"))


@bp.route("/staff/people/<int:user_id>/roles", methods=["POST"])
@role_required(Role.ADMIN)
def change_roles(user_id: int):
    form = StaffRolesForm(prefix=f"user-{user_id}")
    if not form.validate():
        return _people_page(422, error=_("The form has expired. Please try again."))
    try:
        user = staff.set_roles(current_user._get_current_object(), user_id, form.roles.data)
    except DomainError as error:
        return _refused(error)
    flash(_("The roles of %(name)s were saved.", name=user.name), "success")
    if not current_user.has_role(Role.ADMIN):  # an administrator who stepped down
        return redirect(url_for("core.index"))
    return redirect(url_for("staff.people"))


def _confirmed() -> bool:
    return FlaskForm().validate()


@bp.route("/staff/people/<int:user_id>/deactivate", methods=["POST"])
@role_required(Role.ADMIN)
def deactivate(user_id: int):
    """Deactivate: every session and API token of the person ends now."""
    if not _confirmed():
        return _people_page(422, error=_("The form has expired. Please try again."))
    try:
        staff.deactivate(current_user._get_current_object(), user_id)
    except DomainError as error:
        return _refused(error)
    flash(_("The account was deactivated; its sessions and API tokens were revoked."),
          "success")
    if current_user.is_deactivated:  # an administrator who deactivated themselves
        return redirect(url_for("accounts.login"))
    return redirect(url_for("staff.people"))


@bp.route("/staff/people/<int:user_id>/reactivate", methods=["POST"])
@role_required(Role.ADMIN)
def reactivate(user_id: int):
    if not _confirmed():
        return _people_page(422, error=_("The form has expired. Please try again."))
    try:
        staff.reactivate(current_user._get_current_object(), user_id)
    except DomainError as error:
        return _refused(error)
    flash(_("The account was reactivated."), "success")
    return redirect(url_for("staff.people"))


@bp.route("/staff/invitations/<int:invitation_id>/withdraw", methods=["POST"])
@role_required(Role.ADMIN)
def withdraw_invitation(invitation_id: int):
    if not _confirmed():
        return _people_page(422, error=_("The form has expired. Please try again."))
    try:
        staff.withdraw_invitation(current_user._get_current_object(), invitation_id)
    except DomainError as error:
        return _refused(error)
    flash(_("The invitation was withdrawn."), "success")
    return redirect(url_for("staff.people"))


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def invitation(token: str):
    """The e-mailed link: a new person sets a name and password; the owner of an existing
    account signs in with it and accepts. Unknown link 404; used or expired 410."""
    from accounts.views import _begin_session

    found = staff.find_invitation(token)
    account = staff.account_for(found)
    signed_in = current_user.is_authenticated
    if account is None:
        form = AcceptInvitationForm()
        if signed_in:
            return render_template("staff/invitation.html", invitation=found,
                                   situation="sign_out"), 403
        if form.validate_on_submit():
            try:
                user = staff.accept_as_new(token, form.name.data, form.password.data)
            except ValidationFailed as error:
                db.session.rollback()
                target = form.name if "name" in error.fields else form.password
                target.errors.append(error.message)
            else:
                _begin_session(user)
                flash(_("Welcome to the staff, %(name)s.", name=user.name), "success")
                return redirect(url_for("core.index"))
        status = 422 if form.is_submitted() else 200
        return render_template("staff/invitation.html", invitation=found, form=form,
                               situation="new"), status
    if not signed_in:
        return render_template("staff/invitation.html", invitation=found, situation="sign_in",
                               login_url=url_for("accounts.login", next=request.path))
    if current_user.id != account.id:
        return render_template("staff/invitation.html", invitation=found,
                               situation="wrong_account"), 403
    form = FlaskForm()
    if form.validate_on_submit():
        staff.accept_as_member(token, current_user._get_current_object())
        flash(_("You now hold the roles of the invitation."), "success")
        return redirect(url_for("core.index"))
    return render_template("staff/invitation.html", invitation=found, form=form,
                           situation="member")
