"""Orders over the API: the marketplace pushes and reads them (integration token)."""

import marshmallow as ma
from flask import abort
from sqlalchemy import select

from arbiter.api import Blueprint, MoneyOut, NoNulCharacters, OutSchema
from arbiter.extensions import db
from integrations import auth
from integrations.models import Scope
from orders.models import Order
from orders.schemas import OrderInSchema
from orders.services import UpsertOutcome, upsert_order
from orders.states import PaymentMethod

blp = Blueprint("Orders", __name__, url_prefix="/api/v1/orders",
                description="Orders as the marketplace reports them (integration token).")


class OrderPutSchema(NoNulCharacters, OrderInSchema):
    """The order's fields; its id is in the URL. Unknown fields are refused (422)."""

    class Meta:
        unknown = ma.RAISE
        exclude = ("external_id",)


class OrderOut(OutSchema):
    external_id = ma.fields.String(required=True)
    buyer_email = ma.fields.String(required=True, attribute="buyer.email")
    seller_email = ma.fields.String(required=True, attribute="seller.email")
    item_title = ma.fields.String(required=True)
    item_price = MoneyOut(required=True)
    shipping_cost = MoneyOut(required=True)
    currency = ma.fields.String(required=True)
    payment_method = ma.fields.Enum(PaymentMethod, by_value=True, required=True)
    paid_at = ma.fields.AwareDateTime(required=True)
    delivered_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    created_at = ma.fields.AwareDateTime(required=True)
    updated_at = ma.fields.AwareDateTime(required=True)


def _by_external_id(external_id: str) -> Order | None:
    return db.session.scalar(select(Order).where(Order.external_id == external_id))


@blp.route("/<string:external_id>", methods=["PUT"])
@auth.integration_required(Scope.ORDERS_WRITE)
@blp.arguments(OrderPutSchema)
@blp.response(200, OrderOut, description="updated, or unchanged")
@blp.alt_response(201, schema=OrderOut, description="created")
@blp.alt_response(403, description="another integration pushed this order")
@blp.alt_response(409, description="the buyer or seller changes on an order with a case")
def put_order(data, external_id: str):
    """Create or update the order with this id (the same data twice changes nothing).

    The integration that created the order alone changes it (403 for another one). Its
    buyer and seller are fixed once the order has a case: a discussion, a claim or a
    settlement row (409, code ``order_parties_fixed``)."""
    if not 1 <= len(external_id) <= 64 or "\x00" in external_id:
        abort(404)
    result = upsert_order({**data, "external_id": external_id},
                          integration=auth.current_caller().integration)
    db.session.flush()
    status = 201 if result.outcome is UpsertOutcome.CREATED else 200
    return result.order, status


@blp.route("/<string:external_id>", methods=["GET"])
@auth.integration_required(Scope.ORDERS_READ)
@blp.response(200, OrderOut)
def get_order(external_id: str):
    """One order."""
    order = _by_external_id(external_id) if "\x00" not in external_id else None
    if order is None:
        abort(404)
    return order
