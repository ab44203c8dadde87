"""The order page's headline (#22 item 5): one pure function gives every state of the case
exactly one message, and the page says nothing that contradicts it. Pure tests for each
state, then the page in the states people met."""

import re
from datetime import UTC, datetime, timedelta

import pytest

from orders.policy import (
    CaseFacts,
    ClaimFacts,
    ClaimHint,
    DiscussionFacts,
    Headline,
    headline,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
DEADLINE = NOW + timedelta(days=80)


def _discussion(state, *, opened_hours_ago=2, ended=None):
    opened = NOW - opened_hours_ago * H
    return DiscussionFacts(state, opened, opened + 24 * H, opened + 24 * H, ended)


def _facts(**overrides):
    values = {"now": NOW, "covered": True, "filing_deadline": DEADLINE}
    values.update(overrides)
    return CaseFacts(**values)


@pytest.mark.parametrize(("facts", "code", "when", "hint"), [
    # no discussion: a claim needs one first (covered), nothing about claims otherwise
    (_facts(filing_refusal="no_discussion"), Headline.NO_DISCUSSION, None,
     ClaimHint.REPORT_FIRST),
    (_facts(covered=False, filing_refusal="no_discussion"), Headline.NO_DISCUSSION, None,
     None),
    # each discussion state
    (_facts(discussion=_discussion("awaiting_seller"), filing_refusal="discussion_too_recent",
            filing_available_at=NOW + 22 * H),
     Headline.AWAITING_SELLER, NOW + 22 * H, ClaimHint.CAN_FILE_FROM),
    (_facts(discussion=_discussion("in_progress"), filing_refusal="discussion_too_recent",
            filing_available_at=NOW + 22 * H),
     Headline.SELLER_ANSWERED, NOW + 22 * H, ClaimHint.CAN_FILE_FROM),
    (_facts(discussion=_discussion("in_progress", opened_hours_ago=30)),
     Headline.ESCALATION_OPEN, None, ClaimHint.CAN_FILE),
    (_facts(discussion=_discussion("escalated", opened_hours_ago=30)),
     Headline.ESCALATED, None, ClaimHint.CAN_FILE),
    (_facts(discussion=_discussion("awaiting_fulfilment", opened_hours_ago=30),
            filing_refusal="settlement_pending"),
     Headline.AWAITING_FULFILMENT, None, None),
    (_facts(discussion=_discussion("decided", opened_hours_ago=90, ended=NOW - H)),
     Headline.DECIDED, NOW - H, ClaimHint.CAN_FILE),
    (_facts(discussion=_discussion("resolved", opened_hours_ago=30, ended=NOW - H),
            filing_refusal="discussion_resolved"),
     Headline.RESOLVED, NOW - H, None),
    # withdrawn within its first day, on an order protection does not cover: the issue's
    # page said "not covered" and "the seller has 24 h to answer" at once
    (_facts(covered=False, discussion=_discussion("closed", ended=NOW - H),
            filing_refusal="discussion_too_recent", filing_available_at=NOW + 22 * H),
     Headline.CLOSED, NOW - H, None),
    (_facts(discussion=_discussion("closed", ended=NOW - H),
            filing_refusal="discussion_too_recent", filing_available_at=NOW + 22 * H),
     Headline.CLOSED, NOW - H, ClaimHint.CAN_FILE_FROM),
    (_facts(discussion=_discussion("settled_by_platform", opened_hours_ago=90, ended=NOW)),
     Headline.SETTLED_BY_PLATFORM, NOW, ClaimHint.CAN_FILE),
    # the filing window over: nothing about claims
    (_facts(discussion=_discussion("closed", opened_hours_ago=90, ended=NOW - H),
            filing_refusal="filing_window_expired"), Headline.CLOSED, NOW - H, None),
])
def test_each_discussion_state_has_one_message(facts, code, when, hint):
    message = headline(facts)
    assert (message.code, message.when, message.claim_hint) == (code, when, hint)


@pytest.mark.parametrize(("state", "code"), [
    ("submitted", Headline.CLAIM_IN_REVIEW), ("under_review", Headline.CLAIM_IN_REVIEW),
    ("awaiting_second_approval", Headline.CLAIM_IN_REVIEW),
    ("awaiting_documents", Headline.CLAIM_AWAITING_DOCUMENTS),
    ("approved", Headline.CLAIM_APPROVED), ("partially_approved", Headline.CLAIM_APPROVED),
    ("paid", Headline.CLAIM_PAID),
])
def test_a_claim_outranks_the_discussion(state, code):
    due = NOW + 48 * H if state == "awaiting_documents" else None
    message = headline(_facts(discussion=_discussion("escalated", opened_hours_ago=30),
                              claim=ClaimFacts(7, state, due),
                              filing_refusal="claim_already_open"))
    assert (message.code, message.claim_id, message.when, message.claim_hint) == (
        code, 7, due, None)


def test_the_sellers_promise_outranks_the_discussion_and_turns_overdue():
    talking = _discussion("awaiting_fulfilment", opened_hours_ago=30)
    pending = headline(_facts(discussion=talking, promise_due_at=NOW + H,
                              filing_refusal="settlement_pending"))
    assert (pending.code, pending.when, pending.claim_hint) == (
        Headline.PROMISE_PENDING, NOW + H, None)
    overdue = headline(_facts(discussion=talking, promise_due_at=NOW - H,
                              filing_refusal="settlement_pending"))
    assert overdue.code is Headline.PROMISE_OVERDUE


def test_a_fully_compensated_order_says_so_whatever_else():
    message = headline(_facts(fully_compensated=True, claim=ClaimFacts(3, "paid"),
                              discussion=_discussion("settled_by_platform", ended=NOW)))
    assert (message.code, message.claim_hint) == (Headline.FULLY_COMPENSATED, None)
    # while a promise to the buyer is still owed, the promise is what comes next
    owed = headline(_facts(fully_compensated=True, promise_due_at=NOW + H))
    assert owed.code is Headline.PROMISE_PENDING


def test_every_code_has_a_message():
    from orders.views import _CLAIM_HINTS, _HEADLINES

    assert set(_HEADLINES) == set(Headline) and set(_CLAIM_HINTS) == set(ClaimHint)


# --- the page -----------------------------------------------------------------------------


def _text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def test_a_withdrawn_discussion_on_an_uncovered_order_reads_as_one_story(
        client, auth, create_order, create_discussion, buyer):
    from arbiter.extensions import db
    from disputes import services as disputes
    from orders.states import PaymentMethod

    order = create_order(buyer=buyer, payment_method=PaymentMethod.CASH_ON_DELIVERY)
    discussion = create_discussion(order)
    disputes.withdraw(discussion, buyer)
    db.session.commit()
    auth.login(buyer.email)
    response = client.get(f"/orders/{order.id}")
    page = _text(response)
    assert 'data-headline="closed"' in response.text
    assert "The discussion was closed on" in page
    assert "Buyer protection does not cover" in page
    assert "24 hours to answer" not in page and "file a protection claim" not in page.lower()


def test_an_open_discussion_on_a_covered_order_names_the_answer_and_the_claim(
        client, auth, create_order, create_discussion, buyer):
    order = create_order(buyer=buyer)
    create_discussion(order, age_hours=1)
    auth.login(buyer.email)
    response = client.get(f"/orders/{order.id}")
    assert 'data-headline="awaiting_seller"' in response.text
    assert 'data-claim-hint="can_file_from"' in response.text
    page = _text(response)
    assert "the seller has until" in page
    assert "If it is not solved, you can file a protection claim from" in page
    assert page.count("The seller has 24 hours to answer your report") == 0


def test_the_seller_reads_the_same_state_without_the_buyers_claim_hint(
        client, auth, create_order, create_discussion, buyer, seller):
    order = create_order(buyer=buyer, seller=seller)
    create_discussion(order, age_hours=1)
    auth.login(seller.email)
    page = _text(client.get(f"/orders/{order.id}"))
    assert "the seller has until" in page and "protection claim" not in page
