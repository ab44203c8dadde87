"""The buyer's and the seller's order lists, and one order's page."""

from flask import Blueprint, abort, current_app, render_template, request
from flask_babel import format_datetime
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from arbiter import clock
from arbiter.extensions import db
from arbiter.validation import page_number
from orders import policy, services
from orders.models import Order
from orders.policy import ClaimHint, Headline, HeadlineMessage
from orders.states import PAYMENT_METHOD_LABELS, PaymentMethod

bp = Blueprint("orders", __name__)


def _page(query):
    return db.paginate(query, page=page_number(request.args.get("page")),
                       per_page=int(current_app.config["PAGE_SIZE"]), error_out=False)


@bp.route("/purchases")
@login_required
def purchases():
    """My purchases, newest first."""
    return render_template("orders/list.html", page=_page(services.purchases_query(current_user)),
                           mode="purchases")


@bp.route("/sales")
@login_required
def sales():
    """My sales, newest first."""
    return render_template("orders/list.html", page=_page(services.sales_query(current_user)),
                           mode="sales")


@bp.route("/orders/<int:order_id>")
@login_required
def detail(order_id: int):
    """One order, for its buyer, its seller and staff; 404 for anyone else."""
    order = db.session.get(Order, order_id)
    if order is None or not order.can_view(current_user):
        abort(404)
    return render_template("orders/detail.html", order=order)


# One message per state of the case (orders.policy.headline), for every reader of the page.
_HEADLINES = {
    Headline.FULLY_COMPENSATED: _l("This order has been compensated in full: nothing more "
                                   "can be claimed on it."),
    Headline.CLAIM_IN_REVIEW: _l("Protection claim #%(id)s is being reviewed by the platform."),
    Headline.CLAIM_AWAITING_DOCUMENTS: _l("The platform asked the buyer for documents for "
                                          "protection claim #%(id)s, due %(when)s."),
    Headline.CLAIM_APPROVED: _l("Protection claim #%(id)s was approved: the platform pays the "
                                "buyer."),
    Headline.CLAIM_PAID: _l("Protection claim #%(id)s was paid out."),
    Headline.PROMISE_PENDING: _l("The seller agreed to settle this order by %(when)s."),
    Headline.PROMISE_OVERDUE: _l("The seller's settlement was due on %(when)s and has not been "
                                 "confirmed."),
    Headline.AWAITING_SELLER: _l("A problem was reported: the seller has until %(when)s to "
                                 "answer."),
    Headline.SELLER_ANSWERED: _l("The seller answered. If the buyer and the seller do not "
                                 "agree, the buyer can ask the platform for help from "
                                 "%(when)s."),
    Headline.ESCALATION_OPEN: _l("The seller answered. If the buyer and the seller do not "
                                 "agree, the buyer can ask the platform for help now."),
    Headline.ESCALATED: _l("The platform is looking into the discussion and will decide."),
    Headline.AWAITING_FULFILMENT: _l("The buyer accepted the seller's offer: the discussion "
                                     "waits until it is kept."),
    Headline.DECIDED: _l("The platform decided the discussion on %(when)s."),
    Headline.RESOLVED: _l("The discussion was resolved on %(when)s: the buyer accepted a "
                          "solution, so buyer protection no longer applies."),
    Headline.CLOSED: _l("The discussion was closed on %(when)s (withdrawn, or without "
                        "activity). If the problem is still there, the buyer can report it "
                        "again."),
    Headline.SETTLED_BY_PLATFORM: _l("The platform settled this order through a protection "
                                     "claim."),
    Headline.NO_DISCUSSION: _l("No problem has been reported on this order."),
}
# Said to the buyer only: a claim is theirs to file.
_CLAIM_HINTS = {
    ClaimHint.CAN_FILE: _l("You can file a protection claim until %(when)s."),
    ClaimHint.CAN_FILE_FROM: _l("If it is not solved, you can file a protection claim from "
                                "%(when)s."),
    ClaimHint.REPORT_FIRST: _l("If something is wrong, report it to the seller first: a "
                               "protection claim needs a discussion, and the seller gets 24 "
                               "hours to answer."),
}


def _when(value) -> str:
    return format_datetime(value, "short") if value is not None else ""


def _headline_text(message: HeadlineMessage, order: Order) -> str:
    """The headline in the reader's language, with the claim hint for the buyer."""
    text = str(_HEADLINES[message.code] % {"id": message.claim_id,
                                           "when": _when(message.when)})
    if message.claim_hint is not None and current_user.id == order.buyer_id:
        text += " " + str(_CLAIM_HINTS[message.claim_hint] % {
            "when": _when(message.claim_when)})
    return text


@bp.app_context_processor
def _labels():
    from settlements.services import owed_to_buyer

    return {"payment_method_label": lambda method: PAYMENT_METHOD_LABELS[PaymentMethod(method)],
            "order_headline": lambda order: policy.headline(
                services.case_facts(order, clock.now())),
            "headline_text": _headline_text,
            # what the seller promised the buyer and has not kept yet (the order page)
            "owed_to_buyer": owed_to_buyer}
