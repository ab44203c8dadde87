"""Validation of claims input: the query of the public quote endpoint."""

from datetime import datetime

from marshmallow import EXCLUDE, Schema, ValidationError, fields, pre_load, validate

from arbiter import clock
from arbiter.schema_messages import request_gettext as _
from arbiter.schemas import AmountField, AwareDateTime
from claims.states import ClaimType
from orders.states import PaymentMethod


def _not_in_future(value: datetime) -> None:
    if value > clock.now():
        raise ValidationError(_("must not be in the future"))


class QuoteQuerySchema(Schema):
    """``GET /api/v1/policy/quote``: amounts as decimal strings, ``paid_at`` with an offset."""

    class Meta:
        unknown = EXCLUDE  # a cache-buster or tracking parameter is not a client error

    item_price = AmountField(required=True, positive=True)
    shipping_cost = AmountField(required=True)
    payment_method = fields.Enum(PaymentMethod, by_value=True, required=True)
    claim_type = fields.Enum(ClaimType, by_value=True, required=True)
    paid_at = AwareDateTime(required=True, validate=_not_in_future)
    claimed_amount = AmountField(load_default=None)
    version = fields.String(load_default=None,
                            validate=validate.Regexp(r"^[0-9A-Za-z._-]{1,16}$"),
                            metadata={"description": "quote under this published version "
                                                     "instead of the one in force at paid_at",
                                      "example": "2017-08"})

    @pre_load
    def _blank_claimed_amount_is_absent(self, data, **kwargs):
        # A GET form submits its empty "claimed amount" box as claimed_amount=.
        if data.get("claimed_amount") == "":
            data = {key: value for key, value in data.items() if key != "claimed_amount"}
        return data
