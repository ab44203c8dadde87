"""The follow-through's deadline jobs in the sweeper, on SQLite and PostgreSQL.

An accepted refund is a promise due in 7 days (``settlements.policy.Terms``). After the due
date the buyer is asked once; a seller's proof nobody contests for 7 days confirms it and
resolves the discussion; 7 days of silence after the due date fail it, which reopens the
discussion with escalation available at once and gives the order total back. What a
failed promise gave back is open to a later claim; a confirmed one is not.
"""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from arbiter import clock
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from arbiter.notifications import Notification
from arbiter.sweeper import run_sweep
from claims import services as claims
from claims.states import ClaimType
from disputes import services as disputes
from disputes.models import Discussion
from disputes.states import DiscussionState, OfferKind
from orders.models import Order
from settlements import services as ledger
from settlements.models import Settlement
from settlements.states import SettledVia, SettlementState
from tests.claims.helpers import IBAN

TOTAL = 12_345 + 1_500  # the factories' order: item price + shipping
PARTIAL = 4_000


@pytest.fixture
def promise(create_discussion, buyer, seller):
    """A partial refund of 40.00 zł the buyer accepted: owed, due in 7 days."""

    def make(kind=OfferKind.PARTIAL_REFUND, amount=PARTIAL, age_hours=25):
        discussion = create_discussion(buyer=buyer, seller=seller, age_hours=age_hours)
        offer = disputes.make_offer(discussion, seller, kind=kind, amount=amount)
        db.session.commit()
        row = disputes.accept_offer(discussion, buyer, offer.id)
        db.session.commit()
        return row

    return make


def _notes(user, kind: str) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.kind == kind))


def _audits(action: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == action))


def _fresh(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def test_the_buyer_is_asked_once_after_the_due_date(promise, buyer, time_machine):
    row = promise()
    assert row.due_at == row.created_at + timedelta(days=7)
    time_machine.move_to(row.due_at, tick=False)  # due, not past due
    run_sweep()
    assert _notes(buyer, "settlement.overdue") == 0
    time_machine.move_to(row.due_at + timedelta(seconds=1), tick=False)
    run_sweep()
    run_sweep()
    assert _notes(buyer, "settlement.overdue") == 1
    assert _audits("settlement.buyer_asked") == 1
    row = _fresh(Settlement, row.id)
    assert row.overdue_notified_at == clock.now() and row.state is SettlementState.OWED
    time_machine.move_to(row.due_at + timedelta(days=3), tick=False)
    run_sweep()
    assert _notes(buyer, "settlement.overdue") == 1


def test_seller_proof_uncontested_for_7_days_confirms_and_resolves(promise, seller,
                                                                   time_machine):
    row = promise()
    time_machine.move_to(row.created_at + timedelta(days=2), tick=False)
    ledger.submit_proof(row.id, seller, "Transfer 2026/11/42")
    db.session.commit()
    proof_at = row.proof_at
    time_machine.move_to(proof_at + timedelta(days=7), tick=False)  # the last contest moment
    run_sweep()
    assert _fresh(Settlement, row.id).state is SettlementState.OWED
    time_machine.move_to(proof_at + timedelta(days=7, seconds=1), tick=False)
    run_sweep()
    run_sweep()
    row = _fresh(Settlement, row.id)
    assert row.state is SettlementState.CONFIRMED
    assert row.settled_via is SettledVia.SELLER_PROOF and row.settled_by_id is None
    discussion = db.session.get(Discussion, row.discussion_id)
    assert discussion.state is DiscussionState.RESOLVED
    assert db.session.get(Order, row.order_id).compensation_committed == PARTIAL
    assert _audits("settlement.proof_uncontested") == 1


def test_silence_7_days_after_the_due_date_fails_and_reopens(promise, buyer, time_machine):
    row = promise()
    order_id = row.order_id
    assert db.session.get(Order, order_id).compensation_committed == PARTIAL
    time_machine.move_to(row.due_at + timedelta(days=7), tick=False)  # not yet
    run_sweep()
    assert _fresh(Settlement, row.id).state is SettlementState.OWED
    time_machine.move_to(row.due_at + timedelta(days=7, seconds=1), tick=False)
    run_sweep()
    run_sweep()
    row = _fresh(Settlement, row.id)
    assert row.state is SettlementState.FAILED and row.settled_via is SettledVia.DEADLINE
    assert _audits("settlement.lapse") == 1
    assert db.session.get(Order, order_id).compensation_committed == 0
    discussion = db.session.get(Discussion, row.discussion_id)
    assert discussion.state is DiscussionState.IN_PROGRESS
    assert discussion.escalation_available_at == clock.now()
    assert _notes(buyer, "settlement.failed") == 1
    # escalation is available at once, and the broken promise is in the thread
    disputes.escalate(discussion, buyer, "The refund never came and nobody answers.")
    db.session.commit()
    assert _fresh(Discussion, discussion.id).state is DiscussionState.ESCALATED
    assert any((entry.data or {}).get("action") == "promise_broken"
               for entry in discussion.entries)


def test_a_failed_promise_no_longer_counts_against_a_claim(promise, buyer, time_machine):
    row = promise()
    time_machine.move_to(row.due_at + timedelta(hours=1), tick=False)
    ledger.report_failed(row.id, buyer, "Nothing arrived.")
    db.session.commit()
    order = db.session.get(Order, row.order_id)
    assert order.compensation_committed == 0
    claim = claims.file_claim(order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                              description="Wrong model, and the refund never came.",
                              payout_account=IBAN)
    db.session.commit()
    assert claim.max_total == TOTAL


def test_a_confirmed_promise_counts_against_a_claim(promise, buyer, create_discussion):
    row = promise()
    ledger.confirm(row.id, buyer)
    db.session.commit()
    order = db.session.get(Order, row.order_id)
    assert db.session.get(Discussion, row.discussion_id).state is DiscussionState.RESOLVED
    assert order.compensation_committed == PARTIAL
    # a second discussion on the order (the rest of the loss), past its window
    create_discussion(order, age_hours=25, description="The rest is still broken.")
    claim = claims.file_claim(order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                              description="Wrong model; the partial refund did not cover it.",
                              payout_account=IBAN)
    db.session.commit()
    assert claim.max_total == TOTAL - PARTIAL


def test_a_promise_still_running_refuses_a_claim_until_reported(promise, buyer, time_machine):
    row = promise()
    order = db.session.get(Order, row.order_id)
    refusal = claims.filing_refusal(order)
    assert refusal is not None and refusal.code == "settlement_pending"
    assert refusal.due_at == row.due_at
