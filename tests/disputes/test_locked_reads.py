"""A change that waited for another transaction's row lock sees what that one committed.

PostgreSQL re-reads only the locked row when a ``SELECT … FOR UPDATE`` had to wait; rows
joined into the same statement stay as they were before the other transaction committed.
The services therefore lock the row alone and read what their rules need after the lock
(``arbiter.db.locked``). Each story holds the lock in one connection, starts the second
change in another, lets it queue on the lock, then commits the first.
"""

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from accounts import services as accounts
from accounts.roles import Role
from arbiter import clock
from arbiter.extensions import db
from arbiter.notifications import Notification
from disputes import services
from disputes.models import Discussion, InformationRequest
from disputes.states import ExpectedOutcome, Party, Reason
from orders.services import upsert_order
from orders.states import PaymentMethod
from tests.factories import PASSWORD

pytestmark = [pytest.mark.postgres_only, pytest.mark.race]


def _escalated_case():
    buyer, seller = (accounts.create_user(f"{name}@example.test", name.title(), PASSWORD)
                     for name in ("locked-buyer", "locked-seller"))
    first, second = (accounts.create_user(f"{name}@example.test", name.title(), PASSWORD,
                                          roles=tuple(Role)) for name in ("advisor-a", "advisor-b"))
    db.session.flush()
    order = upsert_order({
        "external_id": "LOCKED-1", "buyer_email": buyer.email, "seller_email": seller.email,
        "item_title": "Kettle", "item_price": 15_000, "shipping_cost": 0,
        "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
        "paid_at": clock.now() - timedelta(days=3)}).order
    discussion = services.open_discussion(
        order, buyer, reason=Reason.NOT_RECEIVED, expected_outcome=ExpectedOutcome.REFUND,
        description="Nothing came.")
    db.session.flush()
    for name in ("opened_at", "respond_by", "escalation_available_at", "last_activity_at"):
        setattr(discussion, name, getattr(discussion, name) - timedelta(hours=25))
    services.escalate(discussion, buyer, "The seller is silent.")
    db.session.commit()
    return discussion.id, buyer.id, first.id, second.id


def _waiting_for_a_lock() -> int:
    with db.engine.connect() as probe:
        return probe.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"))


def _first_holds_the_lock_then_second_runs(app, first, second):
    """Run ``first()`` and keep its transaction open while ``second()`` (in another
    connection) queues on the row lock; then commit the first and let the second finish.
    Returns what the second returned or raised."""
    outcome = {}
    holding, release = threading.Event(), threading.Event()

    def run_first():
        with app.app_context():
            try:
                first()
                holding.set()
                release.wait(30)
                db.session.commit()
            finally:
                db.session.remove()

    def run_second():
        with app.app_context():
            try:
                outcome["value"] = second()
                db.session.commit()
            except Exception as error:  # the test looks at what was raised
                outcome["error"] = error
                db.session.rollback()
            finally:
                db.session.remove()

    holder = threading.Thread(target=run_first)
    holder.start()
    assert holding.wait(30)
    waiter = threading.Thread(target=run_second)
    waiter.start()
    deadline = time.monotonic() + 30
    while _waiting_for_a_lock() == 0:
        assert time.monotonic() < deadline, "the second change never queued on the lock"
        time.sleep(0.02)
    release.set()
    holder.join(30)
    waiter.join(30)
    return outcome


def _user(user_id):
    return db.session.get(accounts.User, user_id)


def test_a_second_advisor_queued_behind_a_take_is_told_who_has_the_case(committed):
    discussion_id, _buyer, first, second = _escalated_case()

    def take(staff_id):
        return lambda: services.take_case(db.session.get(Discussion, discussion_id),
                                          _user(staff_id))

    outcome = _first_holds_the_lock_then_second_runs(committed, take(first), take(second))
    assert isinstance(outcome.get("error"), services.CaseTaken), outcome
    assert "Advisor-A" in outcome["error"].message  # the name of who has it: no 500
    db.session.remove()
    assert db.session.get(Discussion, discussion_id).assigned_staff_id == first


def test_a_message_queued_behind_a_take_notifies_the_advisor_who_took_it(committed):
    discussion_id, buyer, first, _second = _escalated_case()
    outcome = _first_holds_the_lock_then_second_runs(
        committed,
        lambda: services.take_case(db.session.get(Discussion, discussion_id), _user(first)),
        lambda: services.post_message(db.session.get(Discussion, discussion_id),
                                      _user(buyer), "Any news?"))
    assert "error" not in outcome, outcome
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == first, Notification.kind == "discussion.message")) == 1


def test_a_message_queued_behind_an_information_request_answers_it(committed):
    discussion_id, buyer, first, _second = _escalated_case()
    services.take_case(db.session.get(Discussion, discussion_id), _user(first))
    db.session.commit()
    outcome = _first_holds_the_lock_then_second_runs(
        committed,
        lambda: services.request_information(
            db.session.get(Discussion, discussion_id), _user(first), party=Party.BUYER,
            question="Please send the tracking number."),
        lambda: services.post_message(db.session.get(Discussion, discussion_id),
                                      _user(buyer), "The tracking number is PL123."))
    assert "error" not in outcome, outcome
    db.session.remove()
    request = db.session.scalar(select(InformationRequest).where(
        InformationRequest.discussion_id == discussion_id))
    assert request.answered_at is not None and request.answer_entry_id is not None
