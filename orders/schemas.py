"""Validation of orders coming from the marketplace (import file, later the JSON API)."""


from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from arbiter import clock
from arbiter.schema_messages import request_gettext as _
from arbiter.schemas import AmountField, AwareDateTime
from orders.states import PaymentMethod


class OrderInSchema(Schema):
    external_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    buyer_email = fields.Email(required=True)
    seller_email = fields.Email(required=True)
    item_title = fields.String(required=True, validate=validate.Length(min=1, max=200))
    item_price = AmountField(required=True, positive=True)
    shipping_cost = AmountField(required=True)
    currency = fields.String(load_default="PLN", validate=validate.OneOf(["PLN"]))
    payment_method = fields.Enum(PaymentMethod, by_value=True, required=True)
    paid_at = AwareDateTime(required=True)
    delivered_at = AwareDateTime(load_default=None, allow_none=True)

    @validates_schema
    def _dates_make_sense(self, data, **kwargs):
        now = clock.now()
        if data["paid_at"] > now:
            raise ValidationError(_("must not be in the future"), "paid_at")
        delivered = data.get("delivered_at")
        if delivered is not None and delivered < data["paid_at"]:
            raise ValidationError(_("must not be before paid_at"), "delivered_at")
        if delivered is not None and delivered > now:
            raise ValidationError(_("must not be in the future"), "delivered_at")
        if data["buyer_email"].lower() == data["seller_email"].lower():
            raise ValidationError(_("buyer and seller must differ"), "seller_email")
