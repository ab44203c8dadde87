"""The buyer's and the seller's order lists, and one order's page."""

from flask import Blueprint, abort, current_app, render_template, request
from flask_login import current_user, login_required

from arbiter.extensions import db
from arbiter.validation import page_number
from orders import services
from orders.models import Order
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


@bp.app_context_processor
def _labels():
    from settlements.services import owed_to_buyer

    return {"payment_method_label": lambda method: PAYMENT_METHOD_LABELS[PaymentMethod(method)],
            # what the seller promised the buyer and has not kept yet (the order page)
            "owed_to_buyer": owed_to_buyer}
