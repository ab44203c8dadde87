"""Concurrent extension runs on real PostgreSQL (SQLite cannot show these races)."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from sqlalchemy import func, select

from accounts import services as accounts
from accounts.roles import Role
from arbiter import clock
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from disputes import services as disputes
from disputes.models import Discussion
from disputes.states import ExpectedOutcome, Reason
from incidents import services, tasks
from incidents.models import DeadlineExtension
from orders.services import upsert_order
from orders.states import PaymentMethod
from tests.database import audit_log_problem
from tests.factories import PASSWORD

pytestmark = [pytest.mark.postgres_only, pytest.mark.race]
DISCUSSIONS = 9
RUNS = 2


def _committed_world():
    """Discussions opened 10 h ago, and an open whole-site incident that began 8 h ago."""
    buyer = accounts.create_user("race-buyer@example.test", "Race Buyer", PASSWORD)
    seller = accounts.create_user("race-seller@example.test", "Race Seller", PASSWORD)
    staff = accounts.create_user("race-staff@example.test", "Race Staff", PASSWORD,
                                 roles=tuple(Role))
    db.session.flush()
    for number in range(DISCUSSIONS):
        order = upsert_order({
            "external_id": f"RACE-{number}", "buyer_email": buyer.email,
            "seller_email": seller.email, "item_title": "Race", "item_price": 10_000,
            "shipping_cost": 0, "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
            "paid_at": clock.now() - timedelta(days=3)}).order
        discussion = disputes.open_discussion(
            order, buyer, reason=Reason.NOT_RECEIVED, expected_outcome=ExpectedOutcome.REFUND,
            description="Nothing came.")
        db.session.flush()
        for name in ("opened_at", "respond_by", "escalation_available_at", "last_activity_at"):
            setattr(discussion, name, getattr(discussion, name) - timedelta(hours=10))
    incident = services.declare(staff, title="Everything is down", impact="Nothing works.",
                                affected_services=["whole_site"],
                                started_at=clock.now() - timedelta(hours=8))
    db.session.commit()
    deadlines = dict(db.session.execute(select(Discussion.id, Discussion.respond_by)).all())
    return staff.id, incident.id, deadlines


def test_two_concurrent_extension_runs_extend_each_deadline_exactly_once(committed):
    app = committed
    staff_id, incident_id, before = _committed_world()
    barrier = Barrier(RUNS)

    def run(_):
        with app.app_context():
            barrier.wait()
            try:
                return tasks.run_extension(incident_id, staff_id, batch_size=4)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=RUNS) as pool:
        extended = list(pool.map(run, range(RUNS)))

    db.session.remove()
    objects = DISCUSSIONS * 2  # each discussion and its order's filing window
    assert sum(extended) == objects, extended
    after = dict(db.session.execute(select(Discussion.id, Discussion.respond_by)).all())
    assert after == {key: value + timedelta(hours=24) for key, value in before.items()}
    assert db.session.scalar(select(func.count()).select_from(DeadlineExtension)) == (
        DISCUSSIONS * 3)  # respond_by, escalation and the filing window of each
    actions = db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.action.like("%extended"))).all()
    assert sorted(actions) == sorted(["discussion.deadlines_extended"] * DISCUSSIONS
                                     + ["order.filing_window_extended"] * DISCUSSIONS)
    assert audit_log_problem() is None
    assert tasks.run_extension(incident_id, staff_id) == 0
