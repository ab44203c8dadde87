"""The case file page, the way a settlement's notification leads to it, and finance's
recoveries (the page, its CSV, marking one recovered or written off)."""

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from accounts.auth import role_required
from accounts.roles import Role
from appeals.states import APPELLANT_LABELS, AppealState, Appellant
from appeals.states import STATE_LABELS as APPEAL_STATE_LABELS
from arbiter import clock
from arbiter.errors import ValidationFailed
from arbiter.extensions import db
from arbiter.storage import send_download
from arbiter.views import done
from settlements import queries, recoveries, services
from settlements.queries import Viewer
from settlements.states import (
    KIND_LABELS,
    SETTLED_VIA_LABELS,
    STATE_LABELS,
    Party,
    SettledVia,
    SettlementKind,
    SettlementState,
)

bp = Blueprint("settlements", __name__)

EVENT_LABELS = {
    "discussion.opened": _l("Discussion opened"),
    "offer.made": _l("The seller made an offer"),
    "offer.accepted": _l("The buyer accepted the offer"),
    "offer.declined": _l("The buyer declined the offer"),
    "discussion.escalated": _l("The buyer asked the platform for help"),
    "discussion.decided": _l("Verdict of the platform"),
    "discussion.resolved": _l("Discussion resolved"),
    "discussion.closed": _l("Discussion closed"),
    "discussion.settled_by_platform": _l("Discussion ended: the platform compensates the buyer"),
    "claim.filed": _l("Protection claim filed"),
    "claim.withdrawn": _l("Protection claim withdrawn"),
    "claim.decided": _l("Protection claim decided"),
    "claim.paid": _l("Protection claim paid"),
    "appeal.filed": _l("Appeal filed"),
    "appeal.answered": _l("The other party answered the appeal"),
    "appeal.decided": _l("Appeal decided"),
    "payout.created": _l("Payout approved, waiting for the transfer"),
    "payout.paid": _l("Payout transferred"),
    "payout.failed": _l("The bank returned the payout; it is paid again to a corrected account"),
    "settlement.recorded": _l("Settlement recorded"),
    "settlement.proof_submitted": _l("The seller gave proof"),
    "settlement.confirmed": _l("Settlement confirmed"),
    "settlement.failed": _l("Settlement not fulfilled"),
    "settlement.cancelled": _l("Settlement cancelled"),
}
DIRECTION_LABELS = {
    (Party.SELLER, Party.BUYER): _l("seller → buyer"),
    (Party.PLATFORM, Party.BUYER): _l("platform → buyer"),
    (Party.SELLER, Party.PLATFORM): _l("seller → platform"),
}
VIEWER_LABELS = {
    Viewer.BUYER: _l("You are the buyer."),
    Viewer.SELLER: _l("You are the seller."),
    Viewer.STAFF: _l("Staff view: everything in the case."),
    Viewer.MARKETPLACE: _l("The marketplace's view."),
}


def _case_or_404(order_id: int) -> queries.CaseFile:
    case = queries.case_file(order_id, current_user)
    if case is None:
        abort(404)
    return case


@bp.route("/orders/<int:order_id>/case")
@login_required
def case(order_id: int):
    """The case file of one order: everything that happened about it, in time order, and
    what is still owed. For its buyer, its seller and staff; 404 for anyone else."""
    return render_template("settlements/case.html", case=_case_or_404(order_id),
                           now=clock.now())


@bp.route("/settlements/<int:settlement_id>")
@login_required
def show(settlement_id: int):
    """A settlement row (where its notifications lead): its place in the case file."""
    row = queries.settlement(settlement_id)
    if row is None:
        abort(404)
    _case_or_404(row.order_id)
    if row.discussion_id is not None and row.payer is Party.SELLER and row.payee is Party.BUYER:
        # A seller's promise is followed through on its discussion's page (its buttons).
        return redirect(url_for("disputes.thread", discussion_id=row.discussion_id,
                                _anchor=f"settlement-{row.id}-heading"))
    return redirect(url_for("settlements.case", order_id=row.order_id,
                            _anchor=f"settlement-{row.id}"))


@bp.route("/staff/recoveries.csv")
@role_required(Role.FINANCE)
def recoveries_csv():
    """Every recovery (seller -> platform), the CSV the marketplace settles with the
    sellers."""
    data = recoveries.recoveries_csv(recoveries.line_for(row) for row in queries.recoveries())
    return send_download(data, filename=f"arbiter-recoveries-{clock.now():%Y%m%d}.csv",
                         mimetype="text/csv")


@bp.route("/staff/recoveries")
@role_required(Role.FINANCE)
def recoveries_page():
    """What each seller owes the platform for the claims it paid, grouped by seller with
    totals; each owed recovery can be marked recovered or written off (with a reason)."""
    return render_template("settlements/recoveries.html",
                           sellers=queries.recoveries_by_seller())


@bp.route("/staff/recoveries/<int:settlement_id>/recovered", methods=["POST"])
@role_required(Role.FINANCE)
def mark_recovered(settlement_id: int):
    """The seller's repayment arrived: the recovery is confirmed."""
    row = services.mark_recovered(settlement_id, current_user._get_current_object(),
                                  request.form.get("note", ""))
    return done(url_for("settlements.recoveries_page", _anchor=f"recovery-{row.id}"),
                _("Recovery #%(id)s is marked as recovered.", id=row.id))


@bp.route("/staff/recoveries/<int:settlement_id>/write-off", methods=["POST"])
@role_required(Role.FINANCE)
def write_off(settlement_id: int):
    """The platform gives a recovery up, with the reason (audited)."""
    try:
        row = services.write_off(settlement_id, current_user._get_current_object(),
                                 request.form.get("reason", ""))
    except ValidationFailed as error:
        db.session.rollback()
        flash(error.message, "danger")
        return render_template("settlements/recoveries.html",
                               sellers=queries.recoveries_by_seller()), 422
    return done(url_for("settlements.recoveries_page", _anchor=f"recovery-{row.id}"),
                _("Recovery #%(id)s is written off.", id=row.id))


def appeal_page_url(appeal_id: int) -> str | None:
    """The appeal's own page, once the appeals pages are there (``appeals.appeal``)."""
    if "appeals.appeal" not in current_app.view_functions:
        return None
    return url_for("appeals.appeal", appeal_id=appeal_id)


def case_summary_for(order):
    """The staff summary beside an escalation or a claim (templates/settlements/
    _case_summary.html): the case as the current user may see it, or None."""
    return queries.case_file(order.id, current_user)


@bp.app_context_processor
def _helpers():
    return _HELPERS


_HELPERS = {
    "case_summary_for": case_summary_for,
    "case_event_label": lambda kind: EVENT_LABELS.get(kind, kind),
    "case_viewer_label": lambda viewer: VIEWER_LABELS[Viewer(viewer)],
    "settlement_kind_label": lambda value: KIND_LABELS[SettlementKind(value)],
    "settlement_state_label": lambda value: STATE_LABELS[SettlementState(value)],
    "settlement_direction_label": lambda payer, payee: DIRECTION_LABELS[
        (Party(payer), Party(payee))],
    "settled_via_label": lambda value: SETTLED_VIA_LABELS[SettledVia(value)],
    "appeal_page_url": appeal_page_url,
    "appeal_state_label": lambda value: APPEAL_STATE_LABELS[AppealState(value)],
    "appellant_label": lambda value: APPELLANT_LABELS[Appellant(value)],
}
