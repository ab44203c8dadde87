"""Staff pages for policy versions (admins): the list, a new draft, publishing by a second
admin and withdrawing before the date. The transitions are in :mod:`claims.versions`."""

from datetime import UTC, datetime, time

from flask import Blueprint, abort, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts.auth import role_required
from accounts.roles import Role
from arbiter import clock
from arbiter.errors import ValidationFailed
from arbiter.extensions import db
from arbiter.validation import form_amount
from arbiter.views import done
from claims import policy, services, versions
from claims.forms import PolicyDraftForm
from claims.models import PolicyVersion
from claims.states import CLAIM_TYPE_LABELS, ClaimType
from orders.states import PAYMENT_METHOD_LABELS, PaymentMethod

bp = Blueprint("policy_versions", __name__)


def _warsaw_midnight(day) -> datetime:
    """The first instant of ``day`` in Warsaw, in UTC (the version's effective instant)."""
    return datetime.combine(day, time(0), tzinfo=clock.WARSAW).astimezone(UTC)


def _fields(form: PolicyDraftForm) -> dict:
    """The form as the service's fields; amounts parsed (422 naming the field)."""
    return {
        "code": form.code.data.strip(),
        "effective_from": _warsaw_midnight(form.effective_on.data),
        "covered_payment_methods": form.covered_payment_methods.data or [],
        "shipping_covered_for": form.shipping_covered_for.data or [],
        "shipping_cap_minor": form_amount(form.shipping_cap.data, "shipping_cap") or 0,
        "total_cap_minor": form_amount(form.total_cap.data, "total_cap"),
        "filing_window_days": form.filing_window_days.data,
        "police_report_required_for": form.police_report_required_for.data or [],
        "per_buyer_cap_minor": form_amount(form.per_buyer_cap.data, "per_buyer_cap"),
        "per_buyer_window_days": form.per_buyer_window_days.data,
    }


# The service names the model's fields; the form names some of them differently.
FORM_FIELD = {"effective_from": "effective_on", "shipping_cap_minor": "shipping_cap",
              "total_cap_minor": "total_cap", "per_buyer_cap_minor": "per_buyer_cap"}


@bp.route("/staff/policy-versions")
@role_required(Role.ADMIN)
def overview():
    """Every version, the newest date first: drafts, scheduled, in force, withdrawn."""
    rows = db.session.scalars(select(PolicyVersion).order_by(
        PolicyVersion.effective_from.desc(), PolicyVersion.id.desc())).all()
    return render_template("claims/policy_versions.html", versions=rows, now=clock.now())


@bp.route("/staff/policy-versions/new", methods=["GET", "POST"])
@role_required(Role.ADMIN)
def new_draft():
    """Draft a version; another admin publishes it."""
    form = PolicyDraftForm()
    if form.validate_on_submit():
        try:
            fields = _fields(form)
        except ValidationFailed as bad_amount:  # its field names the form's own field
            getattr(form, next(iter(bad_amount.fields))).errors.append(bad_amount.message)
            return render_template("claims/policy_draft.html", form=form), 422
        try:
            version = versions.draft_version(current_user._get_current_object(), fields)
        except ValidationFailed as refused:
            db.session.rollback()
            for name, messages in refused.fields.items():
                getattr(form, FORM_FIELD.get(name, name)).errors.extend(messages)
            return render_template("claims/policy_draft.html", form=form), 422
        return done(url_for("policy_versions.show", version_id=version.id),
                    _("The draft is saved. Another administrator publishes it."))
    status = 422 if form.is_submitted() else 200
    return render_template("claims/policy_draft.html", form=form), status


def _version(version_id: int) -> PolicyVersion:
    version = db.session.get(PolicyVersion, version_id)
    if version is None:
        abort(404)
    return version


@bp.route("/staff/policy-versions/<int:version_id>")
@role_required(Role.ADMIN)
def show(version_id: int):
    """One version with what it changes from the one in force before it."""
    version = _version(version_id)
    rules = version.to_rules()
    earlier = [other for other in services.policy_versions()
               if other.effective_from < rules.effective_from and other.version != rules.version]
    before = earlier[0] if earlier else None  # newest first
    return render_template(
        "claims/policy_version.html", version=version, rules=rules, before=before,
        changes=policy.changed_fields(before, rules) if before else [], now=clock.now(),
        **_labels())


def _labels() -> dict:
    return {"payment_methods": list(PaymentMethod), "payment_method_labels": PAYMENT_METHOD_LABELS,
            "claim_types": list(ClaimType), "claim_type_labels": CLAIM_TYPE_LABELS}


@bp.route("/staff/policy-versions/<int:version_id>/publish", methods=["POST"])
@role_required(Role.ADMIN)
def publish(version_id: int):
    """Publish a draft (an admin other than its drafter)."""
    versions.publish_version(version_id, current_user._get_current_object())
    return done(url_for("policy_versions.show", version_id=version_id),
                _("The version is published: the rules page announces it."))


@bp.route("/staff/policy-versions/<int:version_id>/withdraw", methods=["POST"])
@role_required(Role.ADMIN)
def withdraw(version_id: int):
    """Take a scheduled version back before its date."""
    versions.withdraw_version(version_id, current_user._get_current_object())
    return done(url_for("policy_versions.show", version_id=version_id),
                _("The version is withdrawn: it will not apply."))
