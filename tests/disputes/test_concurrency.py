"""Races on real PostgreSQL with real concurrent connections (SQLite cannot show them)."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from sqlalchemy import func, select

from accounts import services as accounts
from arbiter import clock
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from disputes import services
from disputes.models import Discussion
from disputes.states import DiscussionState, ExpectedOutcome, Reason
from orders.services import upsert_order
from orders.states import PaymentMethod
from tests.conftest import FreshContextClient
from tests.factories import PASSWORD

pytestmark = [pytest.mark.postgres_only, pytest.mark.race]
REQUESTS = 50


def _committed_world():
    buyer = accounts.create_user("race-buyer@example.test", "Race Buyer", PASSWORD)
    seller = accounts.create_user("race-seller@example.test", "Race Seller", PASSWORD)
    db.session.flush()
    order = upsert_order({
        "external_id": "RACE-1", "buyer_email": buyer.email, "seller_email": seller.email,
        "item_title": "Race", "item_price": 10_000, "shipping_cost": 0,
        "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
        "paid_at": clock.now() - timedelta(days=3)}).order
    discussion = services.open_discussion(
        order, buyer, reason=Reason.NOT_RECEIVED, expected_outcome=ExpectedOutcome.REFUND,
        description="Nothing came.")
    db.session.flush()
    for name in ("opened_at", "respond_by", "escalation_available_at", "last_activity_at"):
        setattr(discussion, name, getattr(discussion, name) - timedelta(hours=25))
    db.session.commit()
    return buyer, discussion.id


def test_fifty_concurrent_escalations_make_exactly_one(committed):
    app = committed
    buyer, discussion_id = _committed_world()
    login = app.test_client()
    assert login.post("/login", data={"email": buyer.email, "password": PASSWORD}
                      ).status_code == 302
    cookie = login.get_cookie("session").value
    barrier = Barrier(REQUESTS)

    def escalate(_):
        client = FreshContextClient(app, app.response_class, use_cookies=True)
        client.set_cookie("session", cookie)
        barrier.wait()
        return client.post(f"/discussions/{discussion_id}/escalate",
                           data={"reason": "Nothing arrived."},
                           headers={"Accept-Language": "en"}).status_code

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        statuses = list(pool.map(escalate, range(REQUESTS)))

    assert statuses.count(302) == 1, statuses
    assert statuses.count(409) == REQUESTS - 1, statuses
    db.session.remove()
    discussion = db.session.get(Discussion, discussion_id)
    assert discussion.state is DiscussionState.ESCALATED
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "discussion.escalate")) == 1
