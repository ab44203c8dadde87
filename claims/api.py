"""The claims JSON API: the public policy quote."""

from flask import Blueprint, jsonify, request
from flask_babel import gettext
from marshmallow import ValidationError

from arbiter.errors import ValidationFailed
from arbiter.money import DEFAULT_CURRENCY, to_decimal_string
from claims import services
from claims.policy import Quote
from claims.schemas import QuoteQuerySchema

bp = Blueprint("claims_api", __name__, url_prefix="/api/v1")


def quote_json(quote: Quote) -> dict:
    """The wire format of a quote: amounts as decimal strings with two decimals."""
    return {
        "eligible": quote.eligible,
        "reasons": [str(reason) for reason in quote.reasons],
        "policy_version": quote.policy_version,
        "item_amount": to_decimal_string(quote.item_amount),
        "shipping_amount": to_decimal_string(quote.shipping_amount),
        "total": to_decimal_string(quote.total),
        "cap_applied": quote.cap_applied,
        "currency": DEFAULT_CURRENCY,
    }


@bp.get("/policy/quote")
def policy_quote():
    """What buyer protection pays for a purchase; public, read-only, changes nothing."""
    try:
        params = QuoteQuerySchema().load(request.args.to_dict())
    except ValidationError as error:
        raise ValidationFailed(gettext("Some query parameters are missing or invalid."),
                               fields=error.normalized_messages()) from error
    return jsonify(quote_json(services.quote_for(**params)))
