"""The sweeper's appeal job: a review past its 14 days is reported once (both engines),
and exactly once under two sweepers at once (PostgreSQL)."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
import time_machine
from sqlalchemy import func, select, update

from accounts import services as accounts
from accounts.roles import Role
from appeals import services as appeals
from appeals.models import Appeal
from appeals.tasks import OVERDUE
from arbiter import clock
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from arbiter.notifications import Notification
from arbiter.sweeper import JOBS, run_job, run_sweep
from disputes import services as disputes
from disputes.states import ExpectedOutcome, Reason, Verdict
from incidents import services as incidents
from incidents.tasks import run_extension
from orders.services import upsert_order
from orders.states import PaymentMethod
from tests.appeals.conftest import RATIONALE, STATEMENT
from tests.factories import PASSWORD


def _count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def _reports():
    return (_count(AuditEntry, AuditEntry.action == OVERDUE),
            _count(Notification, Notification.kind == OVERDUE))


def test_an_overdue_review_is_reported_to_its_reviewer_once(verdict, buyer, seller, reviewer,
                                                            staff):
    taken = appeals.file_appeal(verdict(), buyer, STATEMENT)
    db.session.commit()
    appeals.take(taken, reviewer)
    db.session.commit()
    with time_machine.travel(taken.review_due_at - timedelta(seconds=1)):
        run_sweep()
        assert _reports() == (0, 0)
    with time_machine.travel(taken.review_due_at + timedelta(seconds=1)):
        run_sweep()
        run_sweep()
    assert _reports() == (1, 1)
    (notice,) = db.session.scalars(select(Notification).where(Notification.kind == OVERDUE))
    assert (notice.user_id, notice.object_id) == (reviewer.id, taken.id)


def test_an_untaken_overdue_appeal_is_on_record_without_a_notice(verdict, buyer):
    appeal = appeals.file_appeal(verdict(), buyer, STATEMENT)
    db.session.commit()
    with time_machine.travel(appeal.review_due_at + timedelta(hours=1)):
        run_sweep()
        run_sweep()
    assert _reports() == (1, 0)


def test_an_incident_after_the_report_makes_the_new_deadline_count(verdict, buyer, reviewer,
                                                                   staff):
    appeal = appeals.file_appeal(verdict(), buyer, STATEMENT)
    db.session.commit()
    appeals.take(appeal, reviewer)
    db.session.commit()
    due = appeal.review_due_at
    with time_machine.travel(due + timedelta(hours=2)):
        run_sweep()
        assert _reports() == (1, 1)
        # an incident from 3 h before the deadline to 1 h after: 24 h more to decide
        incident = incidents.declare(staff, title="Staff pages down", impact="No reviews.",
                                     affected_services=["discussions"],
                                     started_at=due - timedelta(hours=3))
        incidents.resolve(incident, staff, ended_at=due + timedelta(hours=1), body="Fixed.")
        db.session.commit()
        run_extension(incident.id)
        run_sweep()
        assert _reports() == (1, 1)
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).review_due_at == due + timedelta(hours=24)
    with time_machine.travel(due + timedelta(hours=24, seconds=1)):
        run_sweep()
        run_sweep()
    assert _reports() == (2, 2)


def test_a_decided_appeal_is_never_overdue(verdict, buyer, seller, reviewer):
    from appeals.queries import evidence
    from appeals.states import Outcome

    appeal = appeals.file_appeal(verdict(), buyer, STATEMENT)
    appeals.answer(appeal, seller, "The partial refund covers exactly the scratch shown.")
    appeals.take(appeal, reviewer)
    for item in evidence(appeal):
        appeals.mark_read(appeal, reviewer, item.key)
    appeals.decide(appeal, reviewer, outcome=Outcome.UPHELD, amount=None, rationale=RATIONALE)
    db.session.commit()
    with time_machine.travel(appeal.review_due_at + timedelta(days=1)):
        run_sweep()
    assert _reports() == (0, 0)


@pytest.mark.postgres_only
@pytest.mark.race
def test_two_sweeps_at_once_report_every_overdue_review_once(committed):
    app = committed
    buyer = accounts.create_user("sweep-buyer@example.test", "Buyer", PASSWORD)
    seller = accounts.create_user("sweep-seller@example.test", "Seller", PASSWORD)
    judge = accounts.create_user("sweep-judge@example.test", "Judge", PASSWORD, roles=tuple(Role))
    reviewer = accounts.create_user("sweep-reviewer@example.test", "Reviewer", PASSWORD,
                                    roles=tuple(Role))
    db.session.flush()
    count = 9
    for number in range(count):
        order = upsert_order({
            "external_id": f"SWEEP-{number}", "buyer_email": buyer.email,
            "seller_email": seller.email, "item_title": "Lamp", "item_price": 20_000,
            "shipping_cost": 0, "payment_method": PaymentMethod.BANK_TRANSFER,
            "paid_at": clock.now() - timedelta(days=3)}).order
        discussion = disputes.open_discussion(
            order, buyer, reason=Reason.DAMAGED, expected_outcome=ExpectedOutcome.REFUND,
            description="The lamp's shade is cracked.")
        db.session.flush()
        discussion.escalation_available_at -= timedelta(hours=25)
        disputes.escalate(discussion, buyer, "No answer about the cracked shade.")
        disputes.take_case(discussion, judge)
        disputes.decide(discussion, judge, verdict=Verdict.PARTIAL, amount=5_000,
                        rationale=RATIONALE)
        appeal = appeals.file_appeal(discussion, buyer, STATEMENT)
        if number % 2:
            appeals.take(appeal, reviewer)
    filed = clock.now() - timedelta(days=15)  # set-up only: the 14 days have passed
    db.session.execute(update(Appeal).values(
        filed_at=filed, answer_due_at=filed + timedelta(hours=72),
        review_due_at=filed + timedelta(days=14)))
    db.session.commit()
    run_sweep(now=clock.now() - timedelta(days=3650))  # registers the jobs; nothing is due
    job = next(job for job in JOBS if job.name == OVERDUE)
    db.session.remove()
    barrier = Barrier(2)

    def sweep():
        with app.app_context():
            barrier.wait()
            try:
                return run_job(job, batch_size=2)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(sweep) for _ in range(2)]:
            future.result()

    assert _reports() == (count, count // 2)
    assert db.session.scalar(select(func.count(func.distinct(AuditEntry.object_id))).where(
        AuditEntry.action == OVERDUE)) == count
    with app.app_context():
        run_job(job, batch_size=2)
    assert _reports() == (count, count // 2)
