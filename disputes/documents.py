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


def verdict_data(discussion: Discussion, locale: str, number: str) -> dict:
    order = discussion.order
    text = DecisionText(locale, order.currency)
    money, when = text.money, text.when
    with force_locale(locale):
        refund = discussion.refund_amount or 0
        if discussion.verdict is Verdict.SELLER_FAVOUR:
            next_steps = _("This verdict is final. No refund is due from the seller.")
        else:
            next_steps = _("This verdict is final. The seller is to refund %(amount)s to the "
                           "buyer within 14 days; if that does not happen, the buyer may file "
                           "a buyer-protection claim.", amount=money(refund))
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
