"""The sweeper's discussion jobs: each action on time, exactly once."""

from datetime import timedelta

from sqlalchemy import func, select

from arbiter import clock
from arbiter.extensions import db
from arbiter.notifications import Notification, OutboxEmail
from arbiter.sweeper import run_sweep
from disputes import services
from disputes.models import Discussion
from disputes.states import DiscussionState, Party


def _notes(user, kind):
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.kind == kind))


def test_seller_is_reminded_4_hours_before_the_deadline_once(create_discussion, seller,
                                                             time_machine):
    discussion = create_discussion(seller=seller)
    time_machine.move_to(discussion.respond_by - timedelta(hours=4, seconds=1), tick=False)
    run_sweep()
    assert _notes(seller, "discussion.seller_reminder") == 0
    time_machine.move_to(discussion.respond_by - timedelta(hours=4), tick=False)
    run_sweep()
    run_sweep()
    assert _notes(seller, "discussion.seller_reminder") == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail).where(
        OutboxEmail.template == "discussion_seller_reminder")) == 1


def test_no_reminder_when_the_seller_already_answered(create_discussion, seller, time_machine):
    discussion = create_discussion(seller=seller)
    services.post_message(discussion, seller, "On it.")
    db.session.commit()
    time_machine.move_to(discussion.respond_by - timedelta(hours=1), tick=False)
    run_sweep()
    assert _notes(seller, "discussion.seller_reminder") == 0


def test_buyer_hears_when_escalation_opens_once(create_discussion, buyer, time_machine):
    discussion = create_discussion(buyer=buyer)
    time_machine.move_to(discussion.escalation_available_at - timedelta(seconds=1), tick=False)
    run_sweep()
    assert _notes(buyer, "discussion.escalation_available") == 0
    time_machine.move_to(discussion.escalation_available_at, tick=False)
    assert run_sweep()["discussion.escalation_notice"] == 1
    assert run_sweep()["discussion.escalation_notice"] == 0
    assert _notes(buyer, "discussion.escalation_available") == 1


def test_overdue_information_request_is_reported_to_the_advisor(escalated, staff,
                                                                time_machine):
    services.take_case(escalated, staff)
    request = services.request_information(escalated, staff, party=Party.BUYER,
                                           question="Photos, please.")
    db.session.commit()
    time_machine.move_to(request.due_at + timedelta(minutes=1), tick=False)
    run_sweep()
    run_sweep()
    assert _notes(staff, "discussion.information_overdue") == 1
    db.session.refresh(request)
    assert request.overdue_notified_at is not None


def test_30_days_without_activity_closes_an_in_progress_discussion(
        create_discussion, buyer, seller, time_machine):
    discussion = create_discussion(buyer=buyer, seller=seller)
    services.post_message(discussion, seller, "Let me check.")
    db.session.commit()
    time_machine.move_to(clock.now() + timedelta(days=30) - timedelta(minutes=1), tick=False)
    run_sweep()
    assert db.session.get(Discussion, discussion.id).state is DiscussionState.IN_PROGRESS
    time_machine.move_to(clock.now() + timedelta(minutes=2), tick=False)
    run_sweep()
    db.session.expire_all()
    closed = db.session.get(Discussion, discussion.id)
    assert closed.state is DiscussionState.CLOSED and closed.closed_at is not None
    assert _notes(buyer, "discussion.closed_inactive") == 1
    assert _notes(seller, "discussion.closed_inactive") == 1


def test_a_rolled_back_batch_is_done_again(create_discussion, buyer, time_machine):
    from arbiter.sweeper import JOBS, run_job

    discussion = create_discussion(buyer=buyer)
    time_machine.move_to(discussion.escalation_available_at, tick=False)
    run_sweep()  # registers the jobs
    db.session.execute(db.update(Discussion).values(escalation_notice_sent_at=None))
    db.session.execute(db.delete(Notification))
    db.session.commit()
    job = next(j for j in JOBS if j.name == "discussion.escalation_notice")
    rows = list(db.session.scalars(job.due(clock.now())))
    job.act(rows[0], clock.now())
    db.session.rollback()  # the worker died before committing
    assert _notes(buyer, "discussion.escalation_available") == 0
    assert run_job(job) == 1
    assert _notes(buyer, "discussion.escalation_available") == 1
