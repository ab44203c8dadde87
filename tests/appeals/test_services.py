"""Appeals at the service level, on SQLite and PostgreSQL: who may appeal what and until
when, who may decide, and how an outcome moves money through the ledger."""

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select, update

from appeals import services as appeals
from appeals.models import Appeal
from appeals.queries import evidence, unread_items
from appeals.states import AppealState, Outcome
from arbiter import clock
from arbiter.errors import ConflictOfInterest, NotFound, TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from claims import services as claims
from claims.models import Payout
from claims.states import Decision
from settlements.models import Settlement
from settlements.states import SettlementKind, SettlementState
from tests.appeals.conftest import RATIONALE, STATEMENT
from tests.factories import refused_by_the_database


def _read_everything(appeal, staff):
    for item in evidence(appeal):
        appeals.mark_read(appeal, staff, item.key)
    db.session.commit()


def _ready(appeal, reviewer):
    """Taken, the other party's 72 h over, every piece of evidence read."""
    appeals.take(appeal, reviewer)
    db.session.commit()
    _read_everything(appeal, reviewer)


def test_either_party_appeals_a_verdict_once_within_30_days(verdict, buyer, seller,
                                                            create_user):
    discussion = verdict()
    appeal = appeals.file_appeal(discussion, buyer, STATEMENT)
    db.session.commit()
    assert appeal.state is AppealState.SUBMITTED and appeal.original_amount == 5_000
    assert appeal.answer_due_at == appeal.filed_at + timedelta(hours=72)
    with pytest.raises(TransitionNotAllowed) as twice:
        appeals.file_appeal(discussion, buyer, STATEMENT)
    assert twice.value.code == "already_appealed"
    db.session.rollback()
    with pytest.raises(NotFound):
        appeals.file_appeal(discussion, create_user(), STATEMENT)
    db.session.rollback()
    with time_machine.travel(discussion.decided_at + timedelta(days=30, seconds=1)):
        with pytest.raises(TransitionNotAllowed) as late:
            appeals.file_appeal(discussion, seller, STATEMENT)
        assert late.value.code == "appeal_window_closed"
        assert late.value.fields["closes_at"] == [
            (discussion.decided_at + timedelta(days=30)).isoformat()]


def test_a_statement_must_say_something(verdict, buyer):
    with pytest.raises(ValidationFailed):
        appeals.file_appeal(verdict(), buyer, "Unfair.")


def test_the_decider_never_reviews_their_own_decision(verdict, buyer, staff):
    appeal = appeals.file_appeal(verdict(), buyer, STATEMENT)
    db.session.commit()
    with pytest.raises(ConflictOfInterest) as own:
        appeals.take(appeal, staff)
    assert own.value.code == "own_decision"
    db.session.rollback()
    # Past the services, the database refuses it too.
    refused_by_the_database(
        update(Appeal).where(Appeal.id == appeal.id).values(
            state=AppealState.UNDER_REVIEW, reviewer_id=staff.id, taken_at=clock.now()),
        "reviewer_not_the_decider")


def test_no_decision_before_the_answer_and_every_piece_of_evidence(verdict, buyer, seller,
                                                                   reviewer):
    appeal = appeals.file_appeal(verdict(), buyer, STATEMENT)
    db.session.commit()
    appeals.take(appeal, reviewer)
    db.session.commit()
    with pytest.raises(TransitionNotAllowed) as early:
        appeals.decide(appeal, reviewer, outcome=Outcome.UPHELD, amount=None,
                       rationale=RATIONALE)
    assert early.value.code == "answer_pending"
    db.session.rollback()
    appeals.answer(appeal, seller, "The buyer got a partial refund already; this is fair.")
    db.session.commit()
    with pytest.raises(TransitionNotAllowed) as unread:
        appeals.decide(appeal, reviewer, outcome=Outcome.UPHELD, amount=None,
                       rationale=RATIONALE)
    assert unread.value.code == "evidence_unread"
    db.session.rollback()
    assert "answer" in unread_items(appeal) and "decision" in unread_items(appeal)
    _read_everything(appeal, reviewer)
    appeals.decide(appeal, reviewer, outcome=Outcome.UPHELD, amount=None,
                   rationale="Both statements read; the courier's note does not change it.")
    db.session.commit()
    assert appeal.state is AppealState.UPHELD and appeal.new_amount == 5_000


def test_a_varied_verdict_replaces_the_owed_row_and_keeps_the_total(verdict, buyer,
                                                                    reviewer):
    discussion = verdict()
    order = discussion.order
    appeal = appeals.file_appeal(discussion, buyer, STATEMENT)
    db.session.commit()
    _ready(appeal, reviewer)
    with time_machine.travel(appeal.answer_due_at + timedelta(seconds=1)):
        with pytest.raises(ValidationFailed):  # more than the order's total
            appeals.decide(appeal, reviewer, outcome=Outcome.VARIED, amount=order.total + 1,
                           rationale=RATIONALE)
        db.session.rollback()
        appeals.decide(appeal, reviewer, outcome=Outcome.VARIED, amount=12_000,
                       rationale="The photos show the whole lamp is unusable, not a part.")
        db.session.commit()
    rows = db.session.scalars(select(Settlement).where(
        Settlement.discussion_id == discussion.id).order_by(Settlement.id)).all()
    assert [(r.source.value, r.amount, r.state) for r in rows] == [
        ("verdict", 5_000, SettlementState.CANCELLED),
        ("appeal", 12_000, SettlementState.OWED)]
    assert order.compensation_committed == 12_000


def test_a_sellers_appeal_against_a_paid_claim_cancels_the_recovery(decided_claim, seller,
                                                                     staff, reviewer,
                                                                     create_user):
    claim = decided_claim(Decision.APPROVED)
    finance = create_user("finance@example.test", is_staff=True)
    batch = claims.export_payouts(finance)
    claims.mark_batch_paid(batch.id, create_user("finance2@example.test", is_staff=True))
    db.session.commit()
    appeal = appeals.file_appeal(claim, seller, STATEMENT)
    db.session.commit()
    _ready(appeal, reviewer)
    with time_machine.travel(appeal.answer_due_at + timedelta(seconds=1)):
        appeals.decide(appeal, reviewer, outcome=Outcome.OVERTURNED, amount=None,
                       rationale="The seller's tracking shows delivery to the buyer's door.")
        db.session.commit()
    recovery = db.session.scalar(select(Settlement).where(
        Settlement.claim_id == claim.id, Settlement.kind == SettlementKind.RECOVERY))
    assert recovery.state is SettlementState.CANCELLED
    payout = db.session.scalar(select(Settlement).where(
        Settlement.claim_id == claim.id, Settlement.kind == SettlementKind.PAYOUT))
    assert payout.state is SettlementState.CONFIRMED  # the buyer keeps what was paid


def test_a_buyers_appeal_raises_a_rejected_claim_through_a_new_payout(decided_claim, buyer,
                                                                      reviewer, create_user):
    claim = decided_claim(Decision.REJECTED)
    order = claim.order
    # A new claim is refused: the rejection is appealed instead.
    assert claims.filing_refusal(order).code == "appeal_available"
    appeal = appeals.file_appeal(claim, buyer, STATEMENT)
    db.session.commit()
    assert claims.filing_refusal(order).code == "appeal_pending"
    _ready(appeal, reviewer)
    with time_machine.travel(appeal.answer_due_at + timedelta(seconds=1)):
        appeals.decide(appeal, reviewer, outcome=Outcome.OVERTURNED, amount=claim.max_total,
                       rationale="The invoice the buyer sent does document the whole loss.")
        db.session.commit()
    top_up = db.session.scalar(select(Payout).where(Payout.appeal_id == appeal.id))
    assert top_up.amount == claim.max_total and top_up.claim_id == claim.id
    assert order.compensation_committed == claim.max_total
    finance = create_user("finance@example.test", is_staff=True)
    batch = claims.export_payouts(finance)
    claims.mark_batch_paid(batch.id, create_user("finance2@example.test", is_staff=True))
    db.session.commit()
    rows = {(r.kind, r.source.value): r.state for r in db.session.scalars(
        select(Settlement).where(Settlement.appeal_id == appeal.id))}
    assert rows == {(SettlementKind.PAYOUT, "appeal"): SettlementState.CONFIRMED,
                    (SettlementKind.RECOVERY, "appeal"): SettlementState.OWED}


def test_the_buyer_cannot_appeal_a_full_approval(decided_claim, buyer):
    claim = decided_claim(Decision.APPROVED)
    with pytest.raises(TransitionNotAllowed) as refused:
        appeals.file_appeal(claim, buyer, STATEMENT)
    assert refused.value.code == "not_appealable"
