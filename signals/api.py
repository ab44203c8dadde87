"""The abuse signals in the JSON API: one buyer's figures, which are above their
thresholds, the score, the other buyers paid to the same bank account and the staff notes.

Advisors (and seniors) only (403 for everyone else); an unknown account is 404, one's own
account 403. Signals are not sanctions: nothing here changes anything.
"""

import marshmallow as ma

from accounts.roles import Role
from arbiter import clock
from arbiter.api import Blueprint, OutSchema
from integrations import auth
from signals import queries, services
from signals.policy import Signal

blp = Blueprint("Signals", __name__, url_prefix="/api/v1",
                description="Abuse signals of buyers, for staff. Never sanctions.")


class FiguresOut(OutSchema):
    orders = ma.fields.Integer(required=True, metadata={
        "description": "orders paid in the last 12 months"})
    claims = ma.fields.Integer(required=True)
    discussions = ma.fields.Integer(required=True)
    rejected_claims = ma.fields.Integer(required=True)
    not_received_claims_on_delivered = ma.fields.Integer(required=True)
    not_received_discussions_on_delivered = ma.fields.Integer(required=True)
    other_buyers = ma.fields.Integer(required=True, metadata={
        "description": "other people whose claims or payouts name one of the buyer's "
                       "bank accounts (at any time)"})
    claims_percent = ma.fields.String(allow_none=True, required=True, metadata={
        "description": "claims per orders in per cent, one decimal; null without orders",
        "example": "12.5"})
    discussions_percent = ma.fields.String(allow_none=True, required=True, metadata={
        "description": "discussions per orders in per cent, one decimal", "example": "40.0"})


class RuleOut(OutSchema):
    signal = ma.fields.String(required=True, metadata={"enum": [s.value for s in Signal]})
    figure = ma.fields.String(required=True)
    at_least = ma.fields.Integer(required=True)
    share_above_percent = ma.fields.Integer(required=True, allow_none=True)
    weight = ma.fields.Integer(required=True)
    strong = ma.fields.Boolean(required=True, metadata={
        "description": "the figure is above this threshold"})


class SharedAccountOut(OutSchema):
    account = ma.fields.String(required=True, metadata={"description": "IBAN, no spaces"})
    user_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)


class NoteOut(OutSchema):
    id = ma.fields.Integer(required=True)
    author_id = ma.fields.Integer(required=True)
    author_name = ma.fields.String(required=True, attribute="author.name")
    body = ma.fields.String(required=True)
    created_at = ma.fields.DateTime(required=True)


class SignalsOut(OutSchema):
    user_id = ma.fields.Integer(required=True)
    name = ma.fields.String(required=True)
    window_start = ma.fields.DateTime(required=True, attribute="since")
    figures = ma.fields.Nested(FiguresOut, required=True)
    score = ma.fields.Integer(required=True, attribute="assessment.score", metadata={
        "description": "the sum of the weights of the rules above their threshold"})
    rules = ma.fields.List(ma.fields.Nested(RuleOut), required=True,
                           attribute="assessment.rules")
    shared_accounts = ma.fields.List(ma.fields.Nested(SharedAccountOut), required=True)
    notes = ma.fields.List(ma.fields.Nested(NoteOut), required=True,
                           metadata={"description": "staff notes, newest first"})


@blp.route("/staff/buyers/<id:user_id>/signals", methods=["GET"])
@auth.role_required(Role.ADVISOR)
@blp.response(200, SignalsOut)
def buyer_signals(user_id: int):
    """A buyer's abuse signals over the last 12 months, with every staff note (advisors
    only; not one's own account). Signals are shown to staff, never sanctions."""
    services.require_reader(auth.current_user(), user_id)
    return queries.buyer_signals(user_id, clock.now(), notes=None)
