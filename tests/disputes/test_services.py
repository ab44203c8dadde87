from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from arbiter import audit
from arbiter.audit import AuditEntry
from arbiter.errors import NotFound, TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.notifications import Notification, OutboxEmail
from disputes import services
from disputes.models import Discussion
from disputes.states import (
    DiscussionState,
    ExpectedOutcome,
    OfferKind,
    OfferState,
    Party,
    Reason,
    Verdict,
)
from settlements import services as ledger
from tests.database import audit_log_problem


def _open(order, **kwargs):
    defaults = {"reason": Reason.DAMAGED, "expected_outcome": ExpectedOutcome.REFUND,
                "description": "Broken on arrival."}
    defaults.update(kwargs)
    discussion = services.open_discussion(order, order.buyer, **defaults)
    db.session.commit()
    return discussion


def _actions(discussion):
    return db.session.scalars(
        select(AuditEntry.action).where(AuditEntry.object_type == "discussions",
                                        AuditEntry.object_id == str(discussion.id))
        .order_by(AuditEntry.id)).all()


def test_opening_sets_both_deadlines_and_tells_the_seller(create_order, time_machine):
    time_machine.move_to(datetime(2026, 3, 28, 13, 30, tzinfo=UTC), tick=False)
    order = create_order()
    discussion = _open(order)
    assert discussion.state is DiscussionState.AWAITING_SELLER
    assert discussion.respond_by == datetime(2026, 3, 29, 13, 30, tzinfo=UTC)
    assert discussion.escalation_available_at == discussion.respond_by
    assert _actions(discussion) == ["discussion.opened"]
    note = db.session.scalar(select(Notification).where(Notification.user_id == order.seller_id))
    assert note.kind == "discussion.opened"
    mail = db.session.scalar(select(OutboxEmail).where(OutboxEmail.recipient_id == order.seller_id))
    assert mail.template == "discussion_opened" and mail.to_address == order.seller.email


def test_only_the_buyer_opens(create_order):
    order = create_order()
    with pytest.raises(NotFound):
        services.open_discussion(order, order.seller, reason=Reason.OTHER,
                                 expected_outcome=ExpectedOutcome.REPAIR, description="x")


@pytest.mark.parametrize("description", ["", "   ", "x" * 20_001])
def test_description_must_be_1_to_20000_characters(create_order, description):
    order = create_order()
    with pytest.raises(ValidationFailed):
        _open(order, description=description)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Discussion)) == 0


def test_description_of_20000_characters_is_accepted(create_order):
    assert _open(create_order(), description="x" * 20_000).id


def test_second_open_discussion_on_an_order_is_refused(create_order):
    order = create_order()
    first = _open(order)
    with pytest.raises(services.DiscussionAlreadyOpen) as refused:
        _open(order)
    assert refused.value.existing.id == first.id
    assert refused.value.status == 409


def test_the_database_itself_allows_one_open_discussion_per_order(create_order):
    order = create_order()
    first = _open(order)
    clone = Discussion(order_id=order.id, buyer_id=order.buyer_id, seller_id=order.seller_id,
                       reason=Reason.OTHER, expected_outcome=ExpectedOutcome.REFUND,
                       description="again", opened_at=first.opened_at,
                       respond_by=first.respond_by,
                       escalation_available_at=first.escalation_available_at,
                       last_activity_at=first.opened_at)
    db.session.add(clone)
    with pytest.raises(IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_a_new_discussion_may_follow_an_ended_one(create_order):
    order = create_order()
    services.withdraw(_open(order), order.buyer)
    db.session.commit()
    assert _open(order).state is DiscussionState.AWAITING_SELLER


def test_sellers_first_answer_is_recorded_with_punctuality(create_discussion, seller):
    discussion = create_discussion(seller=seller, age_hours=2)
    services.post_message(discussion, seller, "Sorry, sending a new one.")
    db.session.commit()
    db.session.refresh(discussion)
    assert discussion.state is DiscussionState.IN_PROGRESS
    assert discussion.seller_answered_on_time is True
    first = discussion.seller_first_response_at
    services.post_message(discussion, seller, "Tracking number: 123")
    db.session.commit()
    db.session.refresh(discussion)
    assert discussion.seller_first_response_at == first


def test_a_late_answer_is_recorded_as_late(create_discussion, seller):
    discussion = create_discussion(seller=seller, age_hours=30)
    services.post_message(discussion, seller, "Sorry for the delay.")
    db.session.commit()
    db.session.refresh(discussion)
    assert discussion.seller_answered_on_time is False


def test_escalation_before_24h_is_refused_and_changes_nothing(create_discussion, buyer):
    discussion = create_discussion(buyer=buyer, age_hours=23.9)
    entries = audit.count()
    with pytest.raises(TransitionNotAllowed) as refused:
        services.escalate(discussion, buyer, "No answer from the seller.")
    db.session.rollback()
    assert refused.value.code == "escalation_not_available_yet"
    db.session.refresh(discussion)
    assert discussion.state is DiscussionState.AWAITING_SELLER
    assert discussion.escalated_at is None
    assert audit.count() == entries


def test_escalation_at_exactly_the_instant_is_allowed(create_discussion, buyer, time_machine):
    discussion = create_discussion(buyer=buyer)
    time_machine.move_to(discussion.escalation_available_at, tick=False)
    services.escalate(discussion, buyer, "No answer.")
    db.session.commit()
    db.session.refresh(discussion)
    assert discussion.state is DiscussionState.ESCALATED
    assert discussion.escalated_at == discussion.escalation_available_at
    assert _actions(discussion)[-1] == "discussion.escalate"


@pytest.mark.parametrize("opened", [
    datetime(2026, 3, 28, 23, 30, tzinfo=UTC), datetime(2026, 10, 24, 23, 30, tzinfo=UTC)],
    ids=["spring-forward", "fall-back"])
def test_escalation_waits_86400_seconds_across_dst(create_discussion, buyer, time_machine,
                                                    opened):
    time_machine.move_to(opened, tick=False)
    discussion = create_discussion(buyer=buyer)
    time_machine.move_to(opened + timedelta(seconds=86_399), tick=False)
    with pytest.raises(TransitionNotAllowed):
        services.escalate(discussion, buyer, "Still nothing.")
    db.session.rollback()
    time_machine.move_to(opened + timedelta(seconds=86_400), tick=False)
    services.escalate(discussion, buyer, "Still nothing.")
    db.session.commit()


def test_only_the_buyer_escalates(create_discussion, seller, staff):
    discussion = create_discussion(seller=seller, age_hours=25)
    for outsider in (seller, staff):
        with pytest.raises(NotFound):
            services.escalate(discussion, outsider, "x")
        db.session.rollback()


def test_offers(create_discussion, buyer, seller):
    discussion = create_discussion(buyer=buyer, seller=seller)
    total = discussion.order.total
    with pytest.raises(ValidationFailed):
        services.make_offer(discussion, seller, kind=OfferKind.PARTIAL_REFUND, amount=total + 1)
    db.session.rollback()
    first = services.make_offer(discussion, seller, kind=OfferKind.PARTIAL_REFUND, amount=total)
    db.session.commit()
    assert discussion.state is DiscussionState.IN_PROGRESS  # an offer is an answer
    second = services.make_offer(discussion, seller, kind=OfferKind.PARTIAL_REFUND, amount=500)
    db.session.commit()
    db.session.refresh(first)
    assert first.state is OfferState.SUPERSEDED
    services.decline_offer(discussion, buyer, second.id)
    db.session.commit()
    with pytest.raises(TransitionNotAllowed):
        services.accept_offer(discussion, buyer, second.id)
    db.session.rollback()
    third = services.make_offer(discussion, seller, kind=OfferKind.REFUND)
    db.session.commit()
    assert third.amount == total
    promise = services.accept_offer(discussion, buyer, third.id)
    db.session.commit()
    db.session.refresh(discussion)
    # An accepted refund is a promise: the discussion waits until the money arrives.
    assert discussion.state is DiscussionState.AWAITING_FULFILMENT
    assert (promise.amount, promise.state.value) == (total, "owed")
    with pytest.raises(TransitionNotAllowed):  # no more offers while it waits
        services.make_offer(discussion, seller, kind=OfferKind.REPAIR)
    db.session.rollback()
    ledger.confirm(promise.id, buyer)
    db.session.commit()
    db.session.refresh(discussion)
    assert discussion.state is DiscussionState.RESOLVED and discussion.resolved_at


def test_terminal_discussions_accept_nothing(create_discussion, buyer, seller):
    discussion = create_discussion(buyer=buyer, seller=seller, age_hours=30)
    services.close_as_solved(discussion, buyer)
    db.session.commit()
    entries = audit.count()
    attempts = [
        lambda: services.post_message(discussion, seller, "hello?"),
        lambda: services.post_message(discussion, buyer, "hello?"),
        lambda: services.make_offer(discussion, seller, kind=OfferKind.REPAIR),
        lambda: services.escalate(discussion, buyer, "too late"),
        lambda: services.withdraw(discussion, buyer),
        lambda: services.close_as_solved(discussion, buyer),
    ]
    for attempt in attempts:
        with pytest.raises(TransitionNotAllowed) as refused:
            attempt()
        assert refused.value.status == 409
        db.session.rollback()
    assert audit.count() == entries


def test_staff_take_request_and_decide(escalated, buyer, seller, staff, create_user):
    other_advisor = create_user(is_staff=True, name="Olga Other")
    with pytest.raises(services.CaseTaken):
        services.request_information(escalated, staff, party=Party.SELLER, question="?")
    db.session.rollback()
    services.take_case(escalated, other_advisor)
    db.session.commit()
    with pytest.raises(services.CaseTaken) as taken:
        services.take_case(escalated, staff)
    assert "Olga Other" in taken.value.message
    db.session.rollback()

    request = services.request_information(escalated, other_advisor, party=Party.SELLER,
                                           question="Please send the tracking number.")
    db.session.commit()
    assert (request.due_at - request.requested_at).total_seconds() == 72 * 3600
    services.post_message(escalated, buyer, "The buyer's answer does not count.")
    db.session.commit()
    db.session.refresh(request)
    assert request.answered_at is None
    services.post_message(escalated, seller, "Tracking: PL123")
    db.session.commit()
    db.session.refresh(request)
    assert request.answered_at is not None

    with pytest.raises(ValidationFailed):
        services.decide(escalated, other_advisor, verdict=Verdict.PARTIAL, amount=100,
                        rationale="too short")
    db.session.rollback()
    with pytest.raises(ValidationFailed):
        services.decide(escalated, other_advisor, verdict=Verdict.PARTIAL, amount=0,
                        rationale="r" * 30)
    db.session.rollback()
    fired = []
    services.verdict_issued.connect(fired.append, weak=False)
    try:
        services.decide(escalated, other_advisor, verdict=Verdict.PARTIAL, amount=5_000,
                        rationale="The photos show a crack; half the price is fair.")
        db.session.commit()
    finally:
        services.verdict_issued.disconnect(fired.append)
    db.session.refresh(escalated)
    assert escalated.state is DiscussionState.DECIDED
    assert escalated.refund_amount == 5_000 and escalated.decided_by_id == other_advisor.id
    assert [d.id for d in fired] == [escalated.id]
    for party in (buyer, seller):
        kinds = db.session.scalars(select(Notification.kind)
                                   .where(Notification.user_id == party.id)).all()
        assert "discussion.decided" in kinds
    with pytest.raises(TransitionNotAllowed):
        services.decide(escalated, other_advisor, verdict=Verdict.SELLER_FAVOUR, amount=None,
                        rationale="r" * 30)


def test_buyer_favour_defaults_to_the_order_total(escalated, staff):
    services.take_case(escalated, staff)
    services.decide(escalated, staff, verdict=Verdict.BUYER_FAVOUR, amount=None,
                    rationale="The seller never answered the buyer at all.")
    db.session.commit()
    assert escalated.refund_amount == escalated.order.total


def test_only_staff_decide(escalated, buyer):
    with pytest.raises(NotFound):
        services.decide(escalated, buyer, verdict=Verdict.BUYER_FAVOUR, amount=None,
                        rationale="r" * 40)


def test_every_transition_writes_exactly_one_audit_entry(create_discussion, buyer, seller,
                                                         staff):
    discussion = create_discussion(buyer=buyer, seller=seller, age_hours=25)
    services.post_message(discussion, seller, "Answer")
    services.escalate(discussion, buyer, "Not good enough")
    services.take_case(discussion, staff)
    services.decide(discussion, staff, verdict=Verdict.SELLER_FAVOUR, amount=None,
                    rationale="The item matches the listing photos exactly.")
    db.session.commit()
    assert _actions(discussion) == [
        "discussion.opened", "discussion.seller_answers", "discussion.message_posted",
        "discussion.escalate", "discussion.taken", "discussion.decide",
    ]
    assert audit_log_problem() is None


def test_a_lost_update_is_a_409_and_saves_nothing(client, auth, buyer, create_discussion,
                                                  monkeypatch):
    """Two writers read version 1; the second write finds version 2 and must not win."""
    from sqlalchemy import update

    from disputes.models import Discussion as Model

    discussion = create_discussion(buyer=buyer, age_hours=25)
    auth.login(buyer.email)
    original_load = services.locked

    def load_then_lose_the_race(model, discussion_id):
        loaded = original_load(model, discussion_id)
        # Another request commits a change to the same row right after our read.
        db.session.execute(update(Model).where(Model.id == discussion_id)
                           .values(version=Model.version + 1)
                           .execution_options(synchronize_session=False))
        return loaded

    monkeypatch.setattr(services, "locked", load_then_lose_the_race)
    response = client.post(f"/discussions/{discussion.id}/escalate",
                           data={"reason": "No answer."})
    assert response.status_code == 409
    assert "Someone else changed this at the same moment" in response.text
    db.session.expire_all()
    assert db.session.get(Model, discussion.id).state is DiscussionState.AWAITING_SELLER
