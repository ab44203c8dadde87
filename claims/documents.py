"""The content of a claim decision's document, as plain, already-formatted strings.

One document goes to both parties (the seller of the order downloads it too), so it holds
nothing the seller may not see: no payout account, no police report reference number, and
the buyer's documents only by kind with their SHA-256, never by file name."""

from flask_babel import force_locale, ngettext
from flask_babel import gettext as _

from arbiter.documents import DecisionText, register_owner, verify_url
from arbiter.extensions import db
from claims.models import Claim, PolicyVersion
from claims.policy import Clause
from claims.states import (
    BUYER_DOCUMENT_KINDS,
    CLAIM_TYPE_LABELS,
    DOCUMENT_KIND_LABELS,
    REJECTION_REASON_LABELS,
    STATE_LABELS,
    ClaimState,
    ClaimType,
)
from orders.states import PAYMENT_METHOD_LABELS, PaymentMethod


def clause_text(clause: Clause, version: PolicyVersion, text: DecisionText) -> str:
    """A clause of the policy as a decision cites it, with the numbers of the version that
    judged the claim (never those of another version)."""
    def methods(values: list[str]) -> str:
        return ", ".join(str(PAYMENT_METHOD_LABELS[PaymentMethod(v)]) for v in values)

    match clause:
        case Clause.COVERED_PAYMENT_METHODS:
            return _("covered payment methods: %(methods)s",
                     methods=methods(version.covered_payment_methods))
        case Clause.ITEM_FULL_PRICE:
            return _("the full item price")
        case Clause.ITEM_DOCUMENTED_LOSS:
            return _("the documented loss, at most the item price")
        case Clause.SHIPPING_COVERED:
            return _("shipping covered for: %(methods)s",
                     methods=methods(version.shipping_covered_for))
        case Clause.SHIPPING_NOT_COVERED:
            return _("shipping not covered for this payment method")
        case Clause.SHIPPING_CAP:
            return _("shipping at most %(cap)s", cap=text.money(version.shipping_cap_minor))
        case Clause.TOTAL_CAP:
            return _("total at most %(cap)s", cap=text.money(version.total_cap_minor))
        case Clause.FILING_WINDOW:
            return ngettext("filed within %(num)d day of payment",
                            "filed within %(num)d days of payment", version.filing_window_days)
        case Clause.POLICE_REPORT_REQUIRED:
            return _("police-report acknowledgement required")
        case Clause.SUPPORTING_DOCUMENTS_REQUIRED:
            return _("supporting documents required")


def clause_texts(claim: Claim, locale: str) -> list[str]:
    """The clauses the claim's decision applied, in the reader's language."""
    text = DecisionText(locale, claim.order.currency)
    return [clause_text(Clause(clause), claim.policy_version, text) for clause in claim.clauses]


def locales_for(claim: Claim) -> list[str]:
    return ["pl", "en"] if claim.buyer.locale == "en" else ["pl"]


def claim_data(claim: Claim, locale: str, number: str) -> dict:
    from appeals.documents import appeal_notice

    order = claim.order
    text = DecisionText(locale, order.currency)
    money, when = text.money, text.when
    with force_locale(locale):
        granted = claim.approved_amount or 0
        if claim.state is ClaimState.REJECTED:
            outcome = _("Rejected: %(reason)s",
                        reason=REJECTION_REASON_LABELS[claim.rejection_reason])
            next_steps = _("The claim is rejected; nothing will be paid.")
        else:
            outcome = str(STATE_LABELS[claim.state]).capitalize()
            next_steps = _("The platform pays %(amount)s to the account given in the claim "
                           "with the next payout batch, normally within 5 working days.",
                           amount=money(granted))
        next_steps = " ".join((next_steps, appeal_notice(claim, text)))
        asked = [[_("Claim type"), str(CLAIM_TYPE_LABELS[claim.claim_type])],
                 [_("Filed"), when(claim.submitted_at)]]
        if claim.claim_type is ClaimType.OTHER and claim.claimed_amount is not None:
            asked.append([_("Amount claimed"), money(claim.claimed_amount)])
        if claim.police_report_reference:  # the number stays with the buyer and staff
            asked.append([_("Police report acknowledgement"), _("provided")])
        if claim.seller_answered_at is not None:
            asked.append([_("The seller's answer"), when(claim.seller_answered_at)])
        clauses = "; ".join(clause_texts(claim, locale))
        version = claim.policy_version
        amounts = [
            [_("Item amount"), money(claim.item_amount)],
            [_("Shipping amount"), money(claim.shipping_amount)],
            [_("Cap on the total"), money(version.total_cap_minor)],
            [_("Cap applied"), _("yes") if claim.cap_applied else _("no")],
            [_("Most the policy pays for this claim"), money(claim.max_total)],
        ]
        buyer_cap = None
        if version.per_buyer_cap_minor is not None:
            amounts.append([_("Cap per buyer"), ngettext(
                "%(cap)s in %(num)d day", "%(cap)s in %(num)d days",
                version.per_buyer_window_days, cap=money(version.per_buyer_cap_minor))])
        if claim.buyer_cap_lowered_from is not None:
            buyer_cap = ngettext(
                "The rules pay one buyer at most %(cap)s in %(num)d day. The approval of "
                "%(asked)s would exceed it: it pays the %(amount)s the buyer had left.",
                "The rules pay one buyer at most %(cap)s in %(num)d days. The approval of "
                "%(asked)s would exceed it: it pays the %(amount)s the buyer had left.",
                version.per_buyer_window_days, cap=money(version.per_buyer_cap_minor),
                asked=money(claim.buyer_cap_lowered_from), amount=money(granted))
        return {
            "title": _("Decision on buyer-protection claim #%(id)s", id=claim.id),
            "number": number,
            "issued_at": when(claim.decided_at),
            "advisor": claim.decided_by.name,
            "buyer": claim.buyer.name,
            "seller": order.seller.name,
            "order": text.order(order),
            "asked": asked,
            "outcome": outcome,
            "amounts": amounts,
            "buyer_cap": buyer_cap,
            "second_approver": claim.second_approver.name if claim.second_approver else None,
            "total": money(granted),
            "policy": _("Policy version %(version)s applied: %(clauses)s.",
                        version=claim.policy_version.code, clauses=clauses),
            "rationale": claim.rationale or _("Approved in full under the policy."),
            "evidence": _evidence(claim, text),
            "next_steps": next_steps,
            "verify_url": verify_url(number),
        }


def _evidence(claim: Claim, text: DecisionText) -> list[dict]:
    """Every document the decision rests on with its SHA-256; the buyer's by kind only."""
    rows = text.evidence(claim.documents)
    for row, document in zip(rows, claim.documents, strict=True):
        if document.kind in BUYER_DOCUMENT_KINDS:
            row["name"] = str(DOCUMENT_KIND_LABELS[document.kind])
    return rows


register_owner("claims", lambda object_id: db.session.get(Claim, object_id),
               page=("claims.claim", "claim_id"))
