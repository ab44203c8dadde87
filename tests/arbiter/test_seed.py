from sqlalchemy import func, select

from accounts.models import User
from arbiter import audit, clock
from arbiter.extensions import db
from disputes.models import Discussion
from disputes.states import DiscussionState
from orders.models import Order
from orders.states import PaymentMethod


def test_seed_creates_the_demo_world_once(app, db_session):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    assert "Demo data created." in first.output
    assert "buyer1@arbiter.test" in first.output
    users = db.session.scalar(select(func.count()).select_from(User))
    orders = db.session.scalars(select(Order)).all()
    assert users == 7
    assert db.session.scalar(select(func.count()).select_from(User).where(User.is_staff)) == 1
    assert len(orders) == 30
    assert {o.payment_method for o in orders} == set(PaymentMethod)
    states = db.session.scalars(select(Discussion.state)).all()
    assert set(states) == set(DiscussionState)
    ready = db.session.scalars(select(Discussion).where(
        Discussion.state == DiscussionState.AWAITING_SELLER,
        Discussion.escalation_available_at <= clock.now())).all()
    assert len(ready) == 1
    entries = audit.count()

    second = runner.invoke(args=["seed"])
    assert second.exit_code == 0
    assert "demo data left alone" in second.output
    assert db.session.scalar(select(func.count()).select_from(User)) == users
    assert db.session.scalar(select(func.count()).select_from(Order)) == 30
    assert audit.count() == entries


def test_a_demo_buyer_can_log_in_and_see_purchases(app, db_session, client):
    from arbiter.seed import DEMO_PASSWORD

    app.test_cli_runner().invoke(args=["seed"])
    response = client.post("/login", data={"email": "buyer1@arbiter.test",
                                           "password": DEMO_PASSWORD})
    assert response.status_code == 302
    page = client.get("/purchases").text
    assert "DEMO-0001" in page
