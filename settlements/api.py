"""The case file and the settlement ledger over the API.

``GET /orders/{external_id}/case`` answers the same read as the case page
(:func:`settlements.queries.case_file`) with the same privacy rules: the buyer and staff
see the buyer's payout account and police report reference, the seller and the
marketplace (integration token) never do; anyone else gets 404. The marketplace, which
moves the sellers' money, confirms or fails what a seller owes, and reads the recoveries
(seller -> platform) it settles with the sellers.
"""

import marshmallow as ma
from flask import Response
from flask_babel import gettext
from sqlalchemy import select

from arbiter import clock
from arbiter.api import Blueprint, InSchema, MoneyOut, OutSchema
from arbiter.errors import NotFound
from arbiter.extensions import db
from integrations import auth
from integrations.models import Scope
from orders.models import Order
from settlements import queries, recoveries, services
from settlements.models import Settlement
from settlements.queries import Viewer
from settlements.states import SettlementState

blp = Blueprint("Settlements", __name__, url_prefix="/api/v1",
                description="The case file of an order and its settlement ledger.")


# --- schemas ------------------------------------------------------------------------------


class SettlementOut(OutSchema):
    id = ma.fields.Integer(required=True)
    order_external_id = ma.fields.String(required=True, attribute="order.external_id")
    kind = ma.fields.String(required=True, metadata={"example": "refund"})
    payer = ma.fields.String(required=True, metadata={"example": "seller"})
    payee = ma.fields.String(required=True, metadata={"example": "buyer"})
    amount = MoneyOut(required=True, allow_none=True,
                      metadata={"description": "null for a replacement or a repair"})
    currency = ma.fields.String(required=True)
    source = ma.fields.String(required=True, metadata={"example": "offer"})
    discussion_id = ma.fields.Integer(required=True, allow_none=True)
    offer_id = ma.fields.Integer(required=True, allow_none=True)
    claim_id = ma.fields.Integer(required=True, allow_none=True)
    appeal_id = ma.fields.Integer(required=True, allow_none=True,
                                  metadata={"description": "source appeal: the appeal"})
    state = ma.fields.String(required=True, metadata={"example": "owed"})
    created_at = ma.fields.AwareDateTime(required=True)
    due_at = ma.fields.AwareDateTime(required=True)
    ship_by = ma.fields.AwareDateTime(required=True, allow_none=True)
    proof_reference = ma.fields.String(required=True, allow_none=True)
    proof_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    settled_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    settled_via = ma.fields.String(required=True, allow_none=True)
    note = ma.fields.String(required=True, allow_none=True)


class CaseEventOut(OutSchema):
    at = ma.fields.AwareDateTime(required=True)
    type = ma.fields.String(required=True, metadata={"example": "settlement.confirmed"})
    object_type = ma.fields.String(required=True, metadata={"example": "settlement"})
    object_id = ma.fields.Integer(required=True)
    state = ma.fields.String(required=True, allow_none=True)
    amount = MoneyOut(required=True, allow_none=True)
    discussion_id = ma.fields.Integer(required=True, allow_none=True)
    claim_id = ma.fields.Integer(required=True, allow_none=True)
    settlement_id = ma.fields.Integer(required=True, allow_none=True)
    appeal_id = ma.fields.Integer(required=True, allow_none=True)
    details = ma.fields.Dict(keys=ma.fields.String(), required=True, metadata={
        "description": "codes and references of the event (kind, verdict, reason, an "
                       "appeal's outcome and decision_number...)"})


class CaseOrderOut(OutSchema):
    external_id = ma.fields.String(required=True)
    item_title = ma.fields.String(required=True)
    currency = ma.fields.String(required=True)
    total = MoneyOut(required=True, metadata={"description": "item price + shipping"})


class CaseOut(OutSchema):
    order = ma.fields.Nested(CaseOrderOut, required=True)
    viewer = ma.fields.String(required=True, metadata={
        "description": "buyer, seller, staff or marketplace: whose view this is"})
    total = MoneyOut(required=True)
    committed = MoneyOut(required=True, metadata={
        "description": "owed or paid to the buyer (settlement rows owed or confirmed)"})
    remaining = MoneyOut(required=True, metadata={
        "description": "what may still be promised or paid to the buyer"})
    owed = ma.fields.List(ma.fields.Nested(SettlementOut), required=True, metadata={
        "description": "what is still owed, by whom and by when, soonest first"})
    settlements = ma.fields.List(ma.fields.Nested(SettlementOut), required=True)
    events = ma.fields.List(ma.fields.Nested(CaseEventOut), required=True,
                            metadata={"description": "everything in time order"})


class SettleIn(InSchema):
    note = ma.fields.String(load_default="", validate=ma.validate.Length(max=services.NOTE_MAX),
                            metadata={"description": "why, or the transfer's reference"})


class RecoveriesQuery(InSchema):
    class Meta:
        unknown = ma.EXCLUDE  # a cache-buster is not a client error

    state = ma.fields.Enum(SettlementState, by_value=True, load_default=None,
                           metadata={"description": "only the rows in this state"})


# --- the case file --------------------------------------------------------------------------


def _nothing_here() -> NotFound:
    return NotFound(gettext("There is nothing here."))


@blp.route("/orders/<string:external_id>/case", methods=["GET"])
@auth.token_required(Scope.CASES_READ)
@blp.response(200, CaseOut)
def get_case(external_id: str):
    """The case file of an order: every discussion, offer, verdict, claim, appeal,
    settlement row and payout in time order, and what is still owed. For the integration,
    the order's buyer and seller (user tokens) and staff; 404 for anyone else. The seller's
    and the integration's view holds no payout account or police report reference."""
    if not 1 <= len(external_id) <= 64 or "\x00" in external_id:
        raise _nothing_here()
    order = db.session.scalar(select(Order).where(Order.external_id == external_id))
    user = auth.current_caller().user
    case = queries.case_file(order, user or Viewer.MARKETPLACE) if order else None
    if case is None:
        raise _nothing_here()
    return {"order": case.order, "viewer": case.viewer.value, "total": case.total,
            "committed": case.committed, "remaining": case.remaining, "owed": case.owed,
            "settlements": case.settlements, "events": case.events}


# --- the marketplace settles what the sellers owe ------------------------------------------


def _settle(settlement_id: int, data: dict, *, confirmed: bool) -> Settlement:
    row = services.marketplace_settles(settlement_id, confirmed=confirmed, note=data["note"],
                                       integration=auth.current_caller().integration)
    db.session.flush()
    return row


@blp.route("/settlements/<id:settlement_id>/confirm", methods=["POST"])
@auth.integration_required(Scope.SETTLEMENTS_WRITE)
@blp.arguments(SettleIn)
@blp.response(200, SettlementOut)
@blp.alt_response(409, description="the row is not owed any more, or not the seller's to pay")
def confirm(data, settlement_id: int):
    """The marketplace says what the seller owes was paid or delivered (integration
    token). Safe to retry with the same Idempotency-Key."""
    return _settle(settlement_id, data, confirmed=True)


@blp.route("/settlements/<id:settlement_id>/fail", methods=["POST"])
@auth.integration_required(Scope.SETTLEMENTS_WRITE)
@blp.arguments(SettleIn)
@blp.response(200, SettlementOut)
@blp.alt_response(409, description="the row is not owed any more, or not the seller's to pay")
def fail(data, settlement_id: int):
    """The marketplace says what the seller owes did not happen (integration token): a
    promise to the buyer no longer counts against the order total and its discussion
    reopens. Safe to retry with the same Idempotency-Key."""
    return _settle(settlement_id, data, confirmed=False)


@blp.route("/recoveries.csv", methods=["GET"])
@auth.integration_required(Scope.RECOVERIES_READ)
@blp.arguments(RecoveriesQuery, location="query")
@blp.doc(responses={"200": {
    "description": "one line per recovery (seller -> platform), oldest first",
    "content": {"text/csv": {"schema": {"type": "string"}}}}})
def recoveries_csv(query):
    """What the sellers owe the platform for the claims it paid: the CSV the marketplace
    settles with the sellers (integration token)."""
    rows = queries.recoveries(query["state"])
    data = recoveries.recoveries_csv(recoveries.line_for(row) for row in rows)
    response = Response(data, status=200, mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="arbiter-recoveries-{clock.now():%Y%m%d}.csv"')
    response.headers["Cache-Control"] = "private, no-store"
    return response
