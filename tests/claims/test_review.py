"""Reviewing a claim: every transition, who may do it, and what the database refuses."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from arbiter import clock
from arbiter.audit import AuditEntry
from arbiter.errors import ConflictOfInterest, NotFound, TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.files import Upload
from arbiter.notifications import Notification, OutboxEmail
from claims import services
from claims.models import Claim, Payout
from claims.states import (
    ClaimState,
    Decision,
    DocumentKind,
    PayoutState,
    RejectionReason,
)
from tests.claims.helpers import IBAN, file
from tests.database import audit_log_problem
from tests.files import PDF, PNG

RATIONALE = "The photos show the lamp is another model; the listing was misleading."


def _actions(claim):
    return db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_type == "claims",
                                        AuditEntry.object_id == str(claim.id))
        .order_by(AuditEntry.id)).all()


def _kinds(user):
    return db.session.scalars(select(Notification.kind).where(
        Notification.user_id == user.id, Notification.object_type == "claims")
        .order_by(Notification.id)).all()


def _state(claim) -> ClaimState:
    db.session.expire_all()
    return db.session.get(Claim, claim.id).state


def _refused(world, attempt, status: int, code: str | None = None):
    before = world.counts()
    with pytest.raises((TransitionNotAllowed, ValidationFailed, NotFound,
                        ConflictOfInterest)) as error:
        attempt()
    db.session.rollback()
    assert error.value.status == status, error.value.message
    if code:
        assert error.value.code == code
    assert world.counts() == before
    return error.value


# --- take ---------------------------------------------------------------------------------


def test_staff_take_a_submitted_claim_and_the_buyer_hears_of_it(filed, staff, buyer):
    services.take(filed, staff)
    db.session.commit()
    claim = db.session.get(Claim, filed.id)
    assert claim.state is ClaimState.UNDER_REVIEW
    assert claim.assigned_staff_id == staff.id and claim.taken_at is not None
    assert _actions(claim) == ["claim.filed", "claim.take"]
    assert _kinds(buyer) == ["claim.filed", "claim.taken"]
    assert db.session.scalar(select(OutboxEmail).where(OutboxEmail.template == "claim_taken"))


def test_one_advisor_per_claim(world, under_review, create_user, staff):
    other = create_user(is_staff=True, name="Olga Other")
    error = _refused(world, lambda: services.take(under_review, other), 409, "claim_taken")
    assert staff.name in error.message
    _refused(world, lambda: services.take(under_review, staff), 409)


def test_advisors_do_not_review_their_own_claims(world, create_order, create_discussion,
                                                seller, staff):
    order = create_order(buyer=staff, seller=seller)
    create_discussion(order, age_hours=25)
    claim = file(order)
    # the seller's side, the other actions and the API: tests/claims/test_conflicts.py
    _refused(world, lambda: services.take(claim, staff), 403, "conflict_of_interest")


def test_only_staff_take(world, filed, buyer, seller):
    for user in (buyer, seller):
        _refused(world, lambda who=user: services.take(filed, who), 404)


# --- forbidden transitions ------------------------------------------------------------------


def test_nothing_but_take_and_withdraw_happens_to_a_submitted_claim(world, filed, staff, buyer):
    attempts = [
        lambda: services.decide(filed, staff, decision=Decision.APPROVED),
        lambda: services.request_documents(filed, staff, "Please send the receipt."),
        lambda: services.reject_after_deadline(filed, staff),
    ]
    for attempt in attempts:
        _refused(world, attempt, 409, "transition_not_allowed")
    assert _state(filed) is ClaimState.SUBMITTED


def test_a_decided_claim_accepts_nothing_more(world, under_review, staff, buyer):
    services.decide(under_review, staff, decision=Decision.APPROVED)
    db.session.commit()
    attempts = [
        lambda: services.decide(under_review, staff, decision=Decision.REJECTED,
                                rejection_reason=RejectionReason.OTHER, rationale=RATIONALE),
        lambda: services.withdraw(under_review, buyer),
        lambda: services.request_documents(under_review, staff, "More please."),
        lambda: services.upload_documents(under_review, buyer, [Upload("late.png", PNG)]),
        lambda: services.take(under_review, staff),
    ]
    for attempt in attempts:
        _refused(world, attempt, 409)
    assert _state(under_review) is ClaimState.APPROVED


def test_staff_act_only_on_claims_they_took(world, filed, under_review, create_user):
    other = create_user(is_staff=True)
    _refused(world, lambda: services.decide(under_review, other, decision=Decision.APPROVED),
             409, "claim_taken")
    _refused(world, lambda: services.request_documents(under_review, other, "Receipt please."),
             409, "claim_taken")


def test_buyers_and_sellers_cannot_decide(world, under_review, buyer, seller):
    for user in (buyer, seller):
        _refused(world, lambda who=user: services.decide(
            under_review, who, decision=Decision.APPROVED), 404)


# --- withdraw -----------------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["submitted", "under_review", "awaiting_documents"])
def test_the_buyer_withdraws_before_a_decision(filed, staff, buyer, stage):
    if stage != "submitted":
        services.take(filed, staff)
    if stage == "awaiting_documents":
        services.request_documents(filed, staff, "The invoice, please.")
    db.session.commit()
    services.withdraw(filed, buyer)
    db.session.commit()
    claim = db.session.get(Claim, filed.id)
    assert claim.state is ClaimState.WITHDRAWN and claim.withdrawn_at is not None
    assert _actions(claim)[-1] == "claim.withdraw"
    assert _kinds(buyer)[-1] == "claim.withdrawn"


def test_only_the_buyer_withdraws(world, filed, seller, staff, create_user):
    for user in (seller, staff, create_user()):
        _refused(world, lambda who=user: services.withdraw(filed, who), 404)


# --- documents ------------------------------------------------------------------------------


def test_requested_documents_are_due_in_7_days_and_their_arrival_resumes_the_review(
        under_review, staff, buyer, time_machine):
    time_machine.move_to(datetime(2026, 3, 25, 23, 30, tzinfo=UTC), tick=False)
    request = services.request_documents(under_review, staff, "  The seller's invoice.  ")
    db.session.commit()
    assert request.what == "The seller's invoice."
    assert request.due_at == datetime(2026, 4, 1, 23, 30, tzinfo=UTC)  # 7 x 86,400 s across DST
    assert _state(under_review) is ClaimState.AWAITING_DOCUMENTS
    mail = db.session.scalar(select(OutboxEmail).where(
        OutboxEmail.template == "claim_documents_requested"))
    assert mail.context["due_at"] == "2026-04-01T23:30:00+00:00"

    time_machine.move_to(datetime(2026, 3, 30, 8, 0, tzinfo=UTC), tick=False)
    documents = services.upload_documents(under_review, buyer, [Upload("invoice.pdf", PDF)])
    db.session.commit()
    claim = db.session.get(Claim, under_review.id)
    assert claim.state is ClaimState.UNDER_REVIEW
    assert [(d.kind, d.request_id) for d in documents] == [(DocumentKind.REQUESTED, request.id)]
    assert claim.document_requests[0].answered_at == datetime(2026, 3, 30, 8, 0, tzinfo=UTC)
    assert _actions(claim)[-2:] == ["claim.request_documents", "claim.documents_arrived"]
    assert _kinds(buyer)[-2:] == ["claim.documents_requested", "claim.documents_received"]
    assert _kinds(staff) == ["claim.documents_added"]


def test_the_buyer_may_add_documents_before_a_decision_without_changing_the_state(filed,
                                                                                  buyer):
    services.upload_documents(filed, buyer, [Upload("photo.png", PNG)])
    db.session.commit()
    claim = db.session.get(Claim, filed.id)
    assert claim.state is ClaimState.SUBMITTED
    assert [d.kind for d in claim.documents] == [DocumentKind.SUPPORTING]
    assert _actions(claim) == ["claim.filed", "claim.documents_added"]


def test_uploading_needs_a_file_and_the_buyer(world, filed, buyer, seller, staff):
    _refused(world, lambda: services.upload_documents(filed, buyer, []), 422, "no_files")
    for user in (seller, staff):
        _refused(world, lambda who=user: services.upload_documents(
            filed, who, [Upload("x.png", PNG)]), 404)
    _refused(world, lambda: services.upload_documents(
        filed, buyer, [Upload("x.svg", b"<svg/>")]), 422, "file_type_not_allowed")


def test_rejection_for_missing_documents_only_after_the_deadline(world, under_review, staff,
                                                                 buyer, time_machine):
    time_machine.move_to(datetime(2026, 10, 20, 23, 30, tzinfo=UTC), tick=False)
    request = services.request_documents(under_review, staff, "The courier's statement.")
    db.session.commit()
    time_machine.move_to(request.due_at, tick=False)
    error = _refused(world, lambda: services.reject_after_deadline(under_review, staff), 409,
                     "documents_not_due_yet")
    assert error.fields == {"due_at": [request.due_at.isoformat()]}
    time_machine.move_to(request.due_at + timedelta(microseconds=1), tick=False)
    fired = []
    services.claim_decided.connect(fired.append, weak=False)
    try:
        services.reject_after_deadline(under_review, staff)
        db.session.commit()
    finally:
        services.claim_decided.disconnect(fired.append)
    claim = db.session.get(Claim, under_review.id)
    assert claim.state is ClaimState.REJECTED
    assert claim.rejection_reason is RejectionReason.DOCUMENTS_NOT_PROVIDED
    assert claim.decided_by_id == staff.id and claim.decided_at == clock.now()
    assert [c.id for c in fired] == [claim.id]
    assert _kinds(buyer)[-1] == "claim.rejected"


# --- decisions ------------------------------------------------------------------------------


def test_approval_pays_the_policy_total_through_exactly_one_payout(under_review, staff, buyer):
    fired = []
    services.claim_decided.connect(fired.append, weak=False)
    try:
        services.decide(under_review, staff, decision=Decision.APPROVED)
        db.session.commit()
    finally:
        services.claim_decided.disconnect(fired.append)
    claim = db.session.get(Claim, under_review.id)
    assert claim.state is ClaimState.APPROVED
    assert claim.approved_amount == claim.max_total == 13_845
    assert claim.decided_by_id == staff.id and claim.decided_at is not None
    payouts = db.session.scalars(select(Payout)).all()
    assert [(p.claim_id, p.amount, p.state, p.account, p.beneficiary_name) for p in payouts] == [
        (claim.id, 13_845, PayoutState.PENDING, IBAN, buyer.name)]
    assert [c.id for c in fired] == [claim.id]
    assert _kinds(buyer)[-1] == "claim.approved"


def test_partial_approval_pays_less_than_the_maximum_with_a_rationale(world, under_review,
                                                                       staff, buyer):
    decide = services.decide
    _refused(world, lambda: decide(under_review, staff, decision=Decision.PARTIALLY_APPROVED,
                                   amount=13_845, rationale=RATIONALE), 422,
             "amount_not_below_maximum")
    _refused(world, lambda: decide(under_review, staff, decision=Decision.PARTIALLY_APPROVED,
                                   amount=13_846, rationale=RATIONALE), 422,
             "amount_not_below_maximum")
    _refused(world, lambda: decide(under_review, staff, decision=Decision.PARTIALLY_APPROVED,
                                   amount=None, rationale=RATIONALE), 422, "amount_required")
    _refused(world, lambda: decide(under_review, staff, decision=Decision.PARTIALLY_APPROVED,
                                   amount=5_000, rationale="Too short."), 422)
    _refused(world, lambda: decide(under_review, staff, decision=Decision.APPROVED,
                                   amount=5_000), 422, "amount_not_expected")
    assert _state(under_review) is ClaimState.UNDER_REVIEW
    decide(under_review, staff, decision=Decision.PARTIALLY_APPROVED, amount=5_000,
           rationale=RATIONALE)
    db.session.commit()
    claim = db.session.get(Claim, under_review.id)
    assert (claim.state, claim.approved_amount, claim.rationale) == (
        ClaimState.PARTIALLY_APPROVED, 5_000, RATIONALE)
    assert claim.payout.amount == 5_000
    assert _kinds(buyer)[-1] == "claim.partially_approved"


def test_rejection_needs_a_reason_code_and_a_rationale_and_pays_nothing(world, under_review,
                                                                        staff, buyer):
    decide = services.decide
    _refused(world, lambda: decide(under_review, staff, decision=Decision.REJECTED,
                                   rationale=RATIONALE), 422, "rejection_reason_required")
    _refused(world, lambda: decide(under_review, staff, decision=Decision.REJECTED,
                                   rejection_reason=RejectionReason.OTHER,
                                   rationale="r" * 29), 422)
    decide(under_review, staff, decision=Decision.REJECTED,
           rejection_reason=RejectionReason.ITEM_DELIVERED_AS_DESCRIBED, rationale=RATIONALE)
    db.session.commit()
    claim = db.session.get(Claim, under_review.id)
    assert claim.state is ClaimState.REJECTED
    assert claim.approved_amount is None and claim.payout is None
    assert claim.rejection_reason is RejectionReason.ITEM_DELIVERED_AS_DESCRIBED
    assert _kinds(buyer)[-1] == "claim.rejected"


def test_every_transition_writes_one_audit_entry_and_tells_the_buyer(filed, staff, buyer,
                                                                     colleague):
    services.take(filed, staff)
    services.request_documents(filed, staff, "The courier's statement, please.")
    services.upload_documents(filed, buyer, [Upload("statement.pdf", PDF)])
    services.decide(filed, staff, decision=Decision.APPROVED)
    db.session.commit()
    batch = services.export_payouts(staff)
    services.mark_batch_paid(batch.id, colleague)
    db.session.commit()
    assert _actions(filed) == [
        "claim.filed", "claim.take", "claim.request_documents", "claim.documents_arrived",
        "claim.approve", "claim.mark_paid"]
    assert _kinds(buyer) == [
        "claim.filed", "claim.taken", "claim.documents_requested", "claim.documents_received",
        "claim.approved", "claim.paid"]
    outbox = db.session.scalars(select(OutboxEmail.template).where(
        OutboxEmail.recipient_id == buyer.id).order_by(OutboxEmail.id)).all()
    # The approval also ended the order's discussion, which the buyer hears of too.
    assert outbox == ["claim_filed", "claim_taken", "claim_documents_requested",
                      "claim_documents_received", "discussion_settled_by_platform",
                      "claim_approved", "claim_paid"]
    assert audit_log_problem() is None


# --- what the database itself refuses ---------------------------------------------------------


def _decided_values(staff, **values):
    return {"decided_at": clock.now(), "decided_by_id": staff.id, **values}


@pytest.mark.parametrize(("label", "values"), [
    ("approved above the maximum", {"state": "approved", "approved_amount": 13_846}),
    ("paid above the maximum", {"state": "paid", "approved_amount": 20_000}),
    ("approved with nothing", {"state": "approved", "approved_amount": 0}),
    ("approved without an amount", {"state": "approved"}),
    ("partial equal to the maximum", {"state": "partially_approved",
                                      "approved_amount": 13_845}),
    ("rejected without a reason", {"state": "rejected"}),
    ("rejected with an amount", {"state": "rejected", "rejection_reason": "other",
                                 "approved_amount": 100}),
])
def test_the_database_refuses_impossible_decisions(under_review, staff, label, values):
    statement = update(Claim).where(Claim.id == under_review.id).values(
        **_decided_values(staff, **values))
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(statement)


def test_the_database_refuses_more_than_the_maximum_even_written_directly(under_review, staff):
    """The issue's guarantee, bypassing every service: approved_amount <= max_total."""
    services.decide(under_review, staff, decision=Decision.APPROVED)
    db.session.commit()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(update(Claim).where(Claim.id == under_review.id)
                           .values(approved_amount=Claim.max_total + 1))
    db.session.execute(update(Claim).where(Claim.id == under_review.id)
                       .values(approved_amount=Claim.max_total))


def test_decided_states_need_their_timestamps(under_review):
    for values in ({"state": "approved", "approved_amount": 100},
                   {"state": "withdrawn"}, {"state": "paid", "approved_amount": 100}):
        with pytest.raises(IntegrityError), db.session.begin_nested():
            db.session.execute(update(Claim).where(Claim.id == under_review.id).values(**values))


def test_one_payout_per_claim_in_the_database(under_review, staff):
    services.decide(under_review, staff, decision=Decision.APPROVED)
    db.session.commit()
    db.session.add(Payout(claim_id=under_review.id, amount=1, beneficiary_name="Again",
                          account=IBAN, state=PayoutState.PENDING, created_at=clock.now()))
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.flush()


def test_the_sweeper_moves_an_unanswered_document_request_to_rejection(
        under_review, staff, time_machine):
    """Documents not sent within 7 days: the advisor is told and the queue marks the claim."""
    from arbiter.sweeper import run_sweep

    claim = under_review
    request = services.request_documents(claim, staff, "Please send the receipt.")
    db.session.commit()
    time_machine.move_to(request.due_at, tick=False)  # the last instant is still on time
    run_sweep()
    assert request.overdue_notified_at is None
    time_machine.move_to(request.due_at + timedelta(seconds=1), tick=False)
    run_sweep()
    run_sweep()
    db.session.refresh(request)
    assert request.overdue_notified_at == request.due_at + timedelta(seconds=1)
    kinds = db.session.scalars(select(Notification.kind).where(
        Notification.user_id == staff.id, Notification.kind == "claim.documents_overdue")).all()
    assert kinds == ["claim.documents_overdue"]
    services.reject_after_deadline(claim, staff)
    db.session.commit()
    assert claim.state is ClaimState.REJECTED
