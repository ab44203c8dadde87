"""Staff pages for policy versions (admins): the list, a new draft, publishing by a second
admin and withdrawing before the date. The transitions are in :mod:`claims.versions`."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

from flask import Blueprint, abort, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from accounts.auth import role_required
from accounts.roles import Role
from arbiter import clock
from arbiter.errors import TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.spreadsheets import csv_bytes
from arbiter.storage import send_download
from arbiter.validation import form_amount
from arbiter.views import done
from claims import impact as impact_runs
from claims import policy, services, versions
from claims.forms import PolicyDraftForm
from claims.models import PolicyVersion
from claims.states import (
    CLAIM_TYPE_LABELS,
    FILING_DOCUMENT_KINDS,
    FILING_DOCUMENT_LABELS,
    ClaimType,
)
from dashboards import policy as period_policy
from orders.states import PAYMENT_METHOD_LABELS, PaymentMethod

bp = Blueprint("policy_versions", __name__)
DEFAULT_IMPACT_DAYS = 365


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
        "documents_required": {claim_type.value: form[form.documents_field(claim_type)].data
                               or [] for claim_type in ClaimType},
        "per_buyer_cap_minor": form_amount(form.per_buyer_cap.data, "per_buyer_cap"),
        "per_buyer_window_days": form.per_buyer_window_days.data,
        "seller_answer_hours": form.seller_answer_hours.data,
        "appeal_window_days": form.appeal_window_days.data,
    }


# The service names the model's fields; the form names some of them differently.
FORM_FIELD = {"effective_from": "effective_on", "shipping_cap_minor": "shipping_cap",
              "total_cap_minor": "total_cap", "per_buyer_cap_minor": "per_buyer_cap",
              "documents_required": PolicyDraftForm.documents_field(ClaimType.NOT_RECEIVED)}


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
            "claim_types": list(ClaimType), "claim_type_labels": CLAIM_TYPE_LABELS,
            "document_kinds": FILING_DOCUMENT_KINDS,
            "document_kind_labels": FILING_DOCUMENT_LABELS,
            "compared_fields": policy.COMPARED_FIELDS}


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


def _zloty(minor: int) -> Decimal:
    """Grosze as a number of złoty that spreadsheets sum (negative changes included)."""
    return Decimal(minor).scaleb(-2)


def _impact_period():
    """The claims' period (Warsaw days, both included): by default the last 12 months."""
    now = clock.now()
    today = clock.to_local(now).date()
    default_from = (today - timedelta(days=DEFAULT_IMPACT_DAYS - 1)).isoformat()
    try:
        return period_policy.parse_period(request.values.get("from") or default_from,
                                          request.values.get("to"), now)
    except period_policy.PeriodError:
        message = _("Choose a period of at most %(days)d days, its start not after its end.",
                    days=period_policy.MAX_DAYS)
        raise ValidationFailed(message, fields={"from": [message]}) from None


def _period_query(period) -> dict:
    return {"from": period.start.isoformat(), "to": period.end.isoformat()}


@bp.route("/staff/policy-versions/<int:version_id>/impact")
@role_required(Role.ADMIN)
def impact(version_id: int):
    """What the version would have changed for past claims (each replayed under it and
    under the version that judged it): the newest replay of the period, its progress while
    it runs in the background, its figures once done."""
    version = _version(version_id)
    period = _impact_period()
    run = impact_runs.latest_run(version.id, period)
    return render_template("claims/policy_impact.html", version=version, period=period,
                           run=run, impact=impact_runs.figures(run) if run else None,
                           period_query=_period_query(period))


@bp.route("/staff/policy-versions/<int:version_id>/impact", methods=["POST"])
@role_required(Role.ADMIN)
def replay(version_id: int):
    """Replay the period's claims in the background (or join the replay already running)."""
    version = _version(version_id)
    period = _impact_period()
    impact_runs.request_impact(version, current_user._get_current_object(), period)
    return redirect(url_for("policy_versions.impact", version_id=version.id,
                            **_period_query(period)))


@bp.route("/staff/policy-versions/<int:version_id>/impact-runs/<int:run_id>")
@role_required(Role.ADMIN)
def impact_status(version_id: int, run_id: int):
    """How far a replay got, for the impact page's progress bar (polled each second)."""
    run = impact_runs.run_of(version_id, run_id)
    if run is None:
        abort(404)
    return jsonify(state=run.state.value, processed=run.processed, total=run.total,
                   percent=run.percent)


@bp.route("/staff/policy-versions/<int:version_id>/impact.csv")
@role_required(Role.ADMIN)
def impact_csv(version_id: int):
    """The figures of the period's newest finished replay and its largest changes, as a
    spreadsheet (409 while none has finished)."""
    version = _version(version_id)
    period = _impact_period()
    run = impact_runs.latest_run(version.id, period)
    figures = impact_runs.figures(run) if run is not None else None
    if figures is None:
        raise TransitionNotAllowed(
            _("No replay of this period has finished yet: replay it, then download."),
            code="impact_not_ready")
    rows = [["summary", "claims", "", "", "", figures.claims, ""],
            ["summary", "eligibility_changed", "", "", "", figures.eligibility_changed, ""],
            ["summary", "amount_changed", "", "", "", figures.amount_changed, ""],
            ["summary", "total_change", "", "", "", "", _zloty(figures.total_change)],
            ["summary", "median_change", "", "", "", "",
             _zloty(figures.median_change)]]
    rows += [["claim", change.claim_id, change.judged_by, _zloty(change.total_before),
              _zloty(change.total_after), int(change.eligible_after),
              _zloty(change.change)] for change in figures.largest]
    data = csv_bytes(["row", "claim_or_figure", "judged_by", "max_before", "max_after",
                      "count_or_eligible_after", "change"], rows)
    return send_download(data, filename=f"impact-{version.code}-{period.start}-{period.end}.csv",
                         mimetype="text/csv")
