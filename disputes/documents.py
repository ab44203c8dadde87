"""The content of a verdict's decision document, as plain, already-formatted strings."""

from flask_babel import force_locale
from flask_babel import gettext as _

from arbiter.documents import DecisionText, register_owner, verify_url
from arbiter.extensions import db
from disputes.models import Discussion
from disputes.states import OUTCOME_LABELS, REASON_LABELS, VERDICT_LABELS, Verdict


def locales_for(discussion: Discussion) -> list[str]:
    """Polish always (the official version); English too when a party reads English."""
    wanted = {"pl"} | {person.locale for person in (discussion.buyer, discussion.seller)
                       if person.locale == "en"}
    return sorted(wanted, key=lambda locale: locale != "pl")


def recourse(order, text: DecisionText) -> str:
    """What the buyer can do if the seller does not pay: a protection claim only when the
    policy in force covers the order; otherwise, plainly, the route that remains."""
    from claims import services as claims
    from claims.policy import Reason
    from claims.states import ClaimType
    from orders.states import PAYMENT_METHOD_LABELS

    quote = claims.order_quote(order, ClaimType.NOT_AS_DESCRIBED)
    remains = _("the seller's obligation can be pursued through the marketplace or in court.")
    if Reason.PAYMENT_METHOD_NOT_COVERED in quote.reasons:
        return _("This order was paid by “%(method)s”, which buyer protection does not "
                 "cover, so no buyer-protection claim is possible; if the seller does not "
                 "pay, %(remains)s",
                 method=PAYMENT_METHOD_LABELS[order.payment_method], remains=remains)
    if Reason.NO_POLICY_IN_FORCE in quote.reasons:
        return _("No buyer-protection rules were in force when this order was paid, so no "
                 "buyer-protection claim is possible; if the seller does not pay, "
                 "%(remains)s", remains=remains)
    if Reason.FILING_WINDOW_EXPIRED in quote.reasons:
        return _("The time for a buyer-protection claim on this order ended on %(when)s; "
                 "if the seller does not pay, %(remains)s",
                 when=text.when(quote.filing_deadline), remains=remains)
    return _("If that does not happen, the buyer can report it on the discussion page and "
             "file a buyer-protection claim until %(when)s.",
             when=text.when(quote.filing_deadline))


def _refund_due(discussion: Discussion):
    """The ledger's due date of the verdict's amount (settlements.policy), not a number
    written twice."""
    from settlements.policy import due_dates
    from settlements.services import terms
    from settlements.states import SettlementKind

    return due_dates(SettlementKind.VERDICT, discussion.decided_at, terms()).due_at


def verdict_data(discussion: Discussion, locale: str, number: str) -> dict:
    from appeals.documents import appeal_notice

    order = discussion.order
    text = DecisionText(locale, order.currency)
    money, when = text.money, text.when
    with force_locale(locale):
        refund = discussion.refund_amount or 0
        if discussion.verdict is Verdict.SELLER_FAVOUR:
            next_steps = " ".join((_("No refund is due from the seller."),
                                   appeal_notice(discussion, text)))
        else:
            next_steps = " ".join((
                _("The seller is to refund %(amount)s to the buyer by %(when)s.",
                  amount=money(refund), when=when(_refund_due(discussion))),
                recourse(order, text), appeal_notice(discussion, text)))
        evidence = text.evidence(attachment for entry in discussion.entries
                                 for attachment in entry.attachments)
        return {
            "title": _("Decision on discussion #%(id)s", id=discussion.id),
            "number": number,
            "issued_at": when(discussion.decided_at),
            "advisor": discussion.decided_by.name,
            "buyer": discussion.buyer.name,
            "seller": discussion.seller.name,
            "order": text.order(order),
            "asked": [
                [_("Problem"), str(REASON_LABELS[discussion.reason])],
                [_("Expected outcome"), str(OUTCOME_LABELS[discussion.expected_outcome])],
                [_("Amount at stake (order total)"), money(order.total)],
                [_("Escalated"), when(discussion.escalated_at)],
                [_("Reason given for escalation"), discussion.escalation_reason or ""],
            ],
            "outcome": str(VERDICT_LABELS[discussion.verdict]),
            "amounts": [
                [_("Upper limit: the order total"), money(order.total)],
                [_("Upper limit applied"), _("yes") if refund == order.total and refund
                 else _("no")],
            ],
            "total": money(refund),
            "policy": None,
            "rationale": discussion.rationale,
            "evidence": evidence,
            "next_steps": next_steps,
            "verify_url": verify_url(number),
        }


register_owner("discussions", lambda object_id: db.session.get(Discussion, object_id),
               page=("disputes.thread", "discussion_id"))
