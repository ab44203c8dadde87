"""The five stories of issue #18, each now refused or netted by the settlement ledger.

Each story is a case a real buyer, seller and advisor walked into: money promised or paid
twice on one order, nobody following a promise up. Service level, on SQLite and
PostgreSQL; the browser and API journeys have their own tests.
"""

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from arbiter import clock
from arbiter.errors import TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.notifications import Notification
from claims import services as claims
from claims.states import ClaimState, ClaimType, Decision
from disputes import services as discussions
from disputes.states import DiscussionState, ExpectedOutcome, OfferKind, Reason, Verdict
from orders.states import PaymentMethod
from settlements import services as ledger
from settlements.models import Settlement
from settlements.states import SettlementKind, SettlementState
from tests.factories import age

IBAN = "PL61109010140000071219812874"
RATIONALE = "The seller did not show that the parcel was sent at all."


def _discussion(order, *, age_hours=0):
    discussion = discussions.open_discussion(
        order, order.buyer, reason=Reason.NOT_AS_DESCRIBED,
        expected_outcome=ExpectedOutcome.REFUND, description="The lamp arrived cracked.")
    db.session.commit()
    if age_hours:
        age(discussion, age_hours)
    return discussion


def _accept(discussion, kind, amount=None):
    offer = discussions.make_offer(discussion, discussion.seller, kind=kind, amount=amount)
    db.session.commit()
    promise = discussions.accept_offer(discussion, discussion.buyer, offer.id)
    db.session.commit()
    return promise


def _file(order, **values):
    claim = claims.file_claim(order, order.buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                              description="A different model than the listing.",
                              payout_account=IBAN, **values)
    db.session.commit()
    return claim


def _approve(claim, staff, decision=Decision.APPROVED, amount=None):
    claims.take(claim, staff)
    claims.decide(claim, staff, decision=decision, amount=amount,
                  rationale=RATIONALE if amount else None)
    db.session.commit()
    return claim


def _counted(order) -> int:
    return db.session.scalar(
        select(func.coalesce(func.sum(Settlement.amount), 0)).where(
            Settlement.order_id == order.id, Settlement.payee == "buyer",
            Settlement.state.in_(["owed", "confirmed"])))


def test_story_1_an_agreed_full_refund_is_not_paid_again_by_a_claim(create_order, buyer,
                                                                    seller):
    """A full refund (10,030.00 zł) agreed, then a second discussion and a claim."""
    order = create_order(buyer=buyer, seller=seller, item_price=1_000_000, shipping_cost=3_000)
    first = _discussion(order)
    promise = _accept(first, OfferKind.REFUND)
    assert promise.amount == 1_003_000 and promise.state is SettlementState.OWED
    assert first.state is DiscussionState.AWAITING_FULFILMENT
    # While the promise runs the discussion is not over: no second one, no claim.
    with pytest.raises(TransitionNotAllowed) as second:
        _discussion(order)
    assert second.value.code == "discussion_already_open"
    assert claims.filing_refusal(order).code == "settlement_pending"

    ledger.confirm(promise.id, buyer)
    db.session.commit()
    assert first.state is DiscussionState.RESOLVED
    # Fully compensated: a new discussion and a claim are refused with the reason.
    with pytest.raises(TransitionNotAllowed) as again:
        _discussion(order)
    assert again.value.code == "already_compensated"
    refusal = claims.filing_refusal(order)
    assert refusal.code == "already_compensated"
    assert order.compensation_committed == order.total == _counted(order)


def test_story_1_netted_a_partial_refund_lowers_the_claims_maximum(create_order, buyer,
                                                                   seller, staff):
    order = create_order(buyer=buyer, seller=seller, item_price=100_000, shipping_cost=2_000)
    promise = _accept(_discussion(order), OfferKind.PARTIAL_REFUND, 30_000)
    ledger.confirm(promise.id, buyer)
    db.session.commit()
    _discussion(order, age_hours=25)
    claim = _file(order)
    # policy quote 1,000.00 + 20.00 shipping; 300.00 already refunded
    assert claim.max_total == 102_000 - 30_000
    _approve(claim, staff)
    assert order.compensation_committed == 102_000 == _counted(order)


def test_story_2_a_verdict_after_a_paid_claim_cannot_order_more_than_the_total(
        create_order, buyer, seller, staff, create_user):
    """A claim paid the full price (1,899.00 zł); a verdict then ordered 300.00 zł more."""
    order = create_order(buyer=buyer, seller=seller, item_price=189_900, shipping_cost=1_500,
                         payment_method=PaymentMethod.BANK_TRANSFER)  # shipping not covered
    _discussion(order, age_hours=25)
    claim = _approve(_file(order), staff)
    assert claim.approved_amount == 189_900
    # What is left of the total is the shipping (15.00 zł); a new discussion may ask that.
    later = _discussion(order, age_hours=25)
    discussions.escalate(later, buyer, "The shipping was never refunded.")
    advisor = create_user("advisor@example.test", is_staff=True)
    discussions.take_case(later, advisor)
    db.session.commit()
    with pytest.raises(ValidationFailed) as refused:
        discussions.decide(later, advisor, verdict=Verdict.PARTIAL, amount=30_000,
                           rationale=RATIONALE)
    assert refused.value.code == "amount_out_of_range"
    db.session.rollback()
    discussions.decide(later, advisor, verdict=Verdict.BUYER_FAVOUR, amount=None,
                       rationale=RATIONALE)
    db.session.commit()
    assert later.refund_amount == 1_500
    assert order.compensation_committed == order.total == _counted(order)


def test_story_3_an_approved_claim_ends_the_discussion_and_the_seller_hears_of_it(
        create_order, buyer, seller, staff):
    order = create_order(buyer=buyer, seller=seller)
    discussion = _discussion(order, age_hours=25)
    claim = _approve(_file(order), staff)
    db.session.refresh(discussion)
    assert discussion.state is DiscussionState.SETTLED_BY_PLATFORM
    assert not discussion.is_open
    with pytest.raises(TransitionNotAllowed):
        discussions.make_offer(discussion, seller, kind=OfferKind.REFUND)
    told = db.session.scalars(select(Notification.kind).where(
        Notification.user_id == seller.id)).all()
    assert "discussion.settled_by_platform" in told
    payout = db.session.scalar(select(Settlement).where(Settlement.claim_id == claim.id))
    assert payout.kind is SettlementKind.PAYOUT and payout.amount == claim.approved_amount


def test_story_3_an_offer_accepted_while_a_claim_is_reviewed_stops_its_approval(
        create_order, buyer, seller, staff):
    """Filed while the discussion still runs; the buyer then accepts the seller's full
    refund: approving the claim now would pay the order twice (409, nothing changes)."""
    order = create_order(buyer=buyer, seller=seller)
    discussion = _discussion(order, age_hours=25)
    claim = _file(order)
    claims.take(claim, staff)
    db.session.commit()
    _accept(discussion, OfferKind.REFUND)
    with pytest.raises(TransitionNotAllowed) as refused:
        claims.decide(claim, staff, decision=Decision.APPROVED)
    assert refused.value.code == "already_compensated"
    db.session.rollback()
    assert claim.state is ClaimState.UNDER_REVIEW
    assert order.compensation_committed == order.total


def test_story_4_an_accepted_offer_waits_for_fulfilment_and_a_broken_one_reopens(
        create_order, buyer, seller):
    order = create_order(buyer=buyer, seller=seller)
    discussion = _discussion(order)
    promise = _accept(discussion, OfferKind.REPLACEMENT)
    assert promise.amount is None and promise.ship_by < promise.due_at
    assert order.compensation_committed == 0  # goods: no money counted
    with pytest.raises(TransitionNotAllowed) as early:
        ledger.report_failed(promise.id, buyer)
    assert early.value.code == "settlement_not_due_yet"
    with time_machine.travel(promise.ship_by + timedelta(minutes=1)):
        ledger.report_failed(promise.id, buyer, "Nothing was shipped.")
        db.session.commit()
        assert discussion.state is DiscussionState.IN_PROGRESS
        assert discussion.escalation_available_at <= clock.now()
        discussions.escalate(discussion, buyer, "The replacement never came.")
        db.session.commit()
    assert discussion.state is DiscussionState.ESCALATED


def test_story_4_a_verdict_that_orders_payment_is_followed_up(escalated, staff):
    discussions.take_case(escalated, staff)
    discussions.decide(escalated, staff, verdict=Verdict.PARTIAL, amount=5_000,
                       rationale=RATIONALE)
    db.session.commit()
    row = db.session.scalar(select(Settlement).where(Settlement.discussion_id == escalated.id))
    assert (row.kind, row.amount, row.state) == (SettlementKind.VERDICT, 5_000,
                                                  SettlementState.OWED)
    assert row.due_at == escalated.decided_at + timedelta(days=14)
    # The verdict's document names the same due date as the ledger row.
    from arbiter.documents import DecisionText, documents_for

    [document] = [d for d in documents_for("discussions", escalated.id) if d.locale == "pl"]
    assert DecisionText("pl", "PLN").when(row.due_at) in document.data["next_steps"]
    # Until the due date the claim route waits; after a reported failure it is open.
    assert claims.filing_refusal(escalated.order).code == "settlement_pending"
    with time_machine.travel(row.due_at + timedelta(hours=1)):
        ledger.report_failed(row.id, escalated.buyer, "No transfer came.")
        db.session.commit()
        assert claims.filing_refusal(escalated.order) is None
    assert escalated.order.compensation_committed == 0


def test_a_paid_claim_tells_the_seller_what_is_recovered_from_them(create_order, buyer, seller,
                                                                    staff, create_user):
    order = create_order(buyer=buyer, seller=seller)
    _discussion(order, age_hours=25)
    claim = _approve(_file(order), staff)
    finance = create_user("finance@example.test", is_staff=True)
    batch = claims.export_payouts(finance)
    claims.mark_batch_paid(batch.id, staff)  # never the exporter (issue 20)
    db.session.commit()
    recovery = db.session.scalar(select(Settlement).where(
        Settlement.claim_id == claim.id, Settlement.kind == SettlementKind.RECOVERY))
    assert (recovery.amount, recovery.state) == (claim.approved_amount, SettlementState.OWED)
    told = db.session.scalar(select(Notification).where(
        Notification.user_id == seller.id, Notification.kind == "settlement.recovery_owed"))
    assert told is not None and told.object_id == recovery.id
