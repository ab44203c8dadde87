"""The content of a claim decision's document, as plain, already-formatted strings."""

from flask import current_app
from flask_babel import force_locale, format_datetime
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from arbiter.documents import register_owner
from arbiter.extensions import db
from arbiter.money import format_money
from claims.models import Claim
from claims.policy import Clause
from claims.states import (
    CLAIM_TYPE_LABELS,
    REJECTION_REASON_LABELS,
    STATE_LABELS,
    ClaimState,
    ClaimType,
)
from orders.states import PAYMENT_METHOD_LABELS

CLAUSE_LABELS = {
    Clause.COVERED_PAYMENT_METHODS: _l("covered payment methods: platform payments and "
                                       "bank transfer"),
    Clause.ITEM_FULL_PRICE: _l("the full item price"),
    Clause.ITEM_DOCUMENTED_LOSS: _l("the documented loss, at most the item price"),
    Clause.SHIPPING_COVERED: _l("shipping covered for platform payments"),
    Clause.SHIPPING_NOT_COVERED: _l("shipping not covered for this payment method"),
    Clause.SHIPPING_CAP: _l("shipping at most 100.00 zł"),
    Clause.TOTAL_CAP: _l("total at most 10,000.00 zł"),
    Clause.FILING_WINDOW: _l("filed within 90 days of payment"),
    Clause.POLICE_REPORT_REQUIRED: _l("police-report acknowledgement required"),
}


def locales_for(claim: Claim) -> list[str]:
    return ["pl", "en"] if claim.buyer.locale == "en" else ["pl"]


def claim_data(claim: Claim, locale: str, number: str) -> dict:
    order = claim.order
    with force_locale(locale):
        def money(minor: int) -> str:
            return format_money(minor, order.currency, locale)

        def when(value) -> str:
            return format_datetime(value, "medium")

        granted = claim.approved_amount or 0
        if claim.state is ClaimState.REJECTED:
            outcome = _("Rejected: %(reason)s",
                        reason=REJECTION_REASON_LABELS[claim.rejection_reason])
            next_steps = _("The claim is rejected; nothing will be paid. The buyer may file "
                           "a new claim while the filing window is open.")
        else:
            outcome = str(STATE_LABELS[claim.state]).capitalize()
            next_steps = _("The platform pays %(amount)s to the account given in the claim "
                           "with the next payout batch, normally within 5 working days.",
                           amount=money(granted))
        asked = [[_("Claim type"), str(CLAIM_TYPE_LABELS[claim.claim_type])],
                 [_("Filed"), when(claim.submitted_at)]]
        if claim.claim_type is ClaimType.OTHER and claim.claimed_amount is not None:
            asked.append([_("Amount claimed"), money(claim.claimed_amount)])
        if claim.police_report_reference:
            asked.append([_("Police report reference"), claim.police_report_reference])
        clauses = "; ".join(str(CLAUSE_LABELS[Clause(c)]) for c in claim.clauses)
        return {
            "title": _("Decision on buyer-protection claim #%(id)s", id=claim.id),
            "number": number,
            "issued_at": when(claim.decided_at),
            "advisor": claim.decided_by.name,
            "buyer": claim.buyer.name,
            "seller": order.seller.name,
            "order": {
                "external_id": order.external_id,
                "item": order.item_title,
                "price": money(order.item_price),
                "shipping": money(order.shipping_cost),
                "payment_method": str(PAYMENT_METHOD_LABELS[order.payment_method]),
                "paid_at": when(order.paid_at),
            },
            "asked": asked,
            "outcome": outcome,
            "amounts": [
                [_("Item amount"), money(claim.item_amount)],
                [_("Shipping amount"), money(claim.shipping_amount)],
                [_("Cap on the total"), money(1_000_000)],
                [_("Cap applied"), _("yes") if claim.cap_applied else _("no")],
                [_("Most the policy pays for this claim"), money(claim.max_total)],
            ],
            "total": money(granted),
            "policy": _("Policy version %(version)s applied: %(clauses)s.",
                        version=claim.policy_version.code, clauses=clauses),
            "rationale": claim.rationale or _("Approved in full under the policy."),
            "evidence": [
                {"name": document.filename, "by": document.uploaded_by.name,
                 "at": when(document.created_at), "sha256": document.sha256}
                for document in claim.documents
            ],
            "next_steps": next_steps,
            "verify_url": f"{current_app.config['BASE_URL'].rstrip('/')}/decisions/"
                          f"{number}/verify",
        }


register_owner("claims", lambda object_id: db.session.get(Claim, object_id))
