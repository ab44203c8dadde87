"""Factory fixtures: ``create_user`` / ``create_order`` build real rows through the services."""

import itertools
from datetime import timedelta

import pytest

from accounts import services as accounts
from accounts.roles import Role
from arbiter import clock
from arbiter.extensions import db
from orders.services import upsert_order
from orders.states import PaymentMethod

PASSWORD = "correct horse battery"
_sequence = itertools.count(1)


@pytest.fixture
def create_user(db_session):
    def create(email: str | None = None, *, name: str | None = None, password: str = PASSWORD,
               is_staff: bool = False, roles=(), locale: str | None = None):
        """``is_staff``: every staff role (for tests about something else); ``roles``: these
        roles only (for tests about who may do what)."""
        number = next(_sequence)
        user = accounts.create_user(email or f"user{number}@example.test",
                                    name or f"User {number}", password,
                                    roles=tuple(Role) if is_staff else roles)
        user.locale = locale
        db.session.commit()
        return user

    return create


@pytest.fixture
def buyer(create_user):
    return create_user("buyer@example.test", name="Barbara Buyer")


@pytest.fixture
def seller(create_user):
    return create_user("seller@example.test", name="Stefan Seller")


@pytest.fixture
def staff(create_user):
    return create_user("staff@example.test", name="Sylwia Staff", is_staff=True)


@pytest.fixture
def colleague(create_user):
    """A second member of staff (every role): confirms the payout batches ``staff`` exports
    (whoever exports a batch never confirms it, issue 20)."""
    return create_user("colleague@example.test", name="Celina Colleague", is_staff=True)


@pytest.fixture
def create_order(db_session, create_user):
    def create(buyer=None, seller=None, **overrides):
        buyer = buyer or create_user()
        seller = seller or create_user()
        number = next(_sequence)
        data = {
            "external_id": f"ORD-{number:06d}",
            "buyer_email": buyer.email,
            "seller_email": seller.email,
            "item_title": f"Item {number}",
            "item_price": 12_345,
            "shipping_cost": 1_500,
            "currency": "PLN",
            "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
            "paid_at": clock.now() - timedelta(days=2),
            "delivered_at": None,
        }
        data.update(overrides)
        order = upsert_order(data).order
        db.session.commit()
        return order

    return create


class Auth:
    def __init__(self, client):
        self.client = client

    def login(self, email: str, password: str = PASSWORD, **kwargs):
        return self.client.post("/login", data={"email": email, "password": password}, **kwargs)

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client):
    return Auth(client)


@pytest.fixture
def create_discussion(db_session, create_order):
    """Open a discussion through the service; ``age_hours`` moves its clock back."""
    from disputes import services
    from disputes.states import ExpectedOutcome, Reason

    def create(order=None, *, buyer=None, seller=None, age_hours: float = 0,
               reason=Reason.NOT_AS_DESCRIBED, description="The lamp arrived cracked."):
        order = order or create_order(buyer=buyer, seller=seller)
        discussion = services.open_discussion(
            order, order.buyer, reason=reason, expected_outcome=ExpectedOutcome.REFUND,
            description=description)
        db.session.commit()
        if age_hours:
            age(discussion, age_hours)
        return discussion

    return create


def age(discussion, hours: float) -> None:
    """Test set-up only: pretend the discussion was opened ``hours`` earlier."""
    shift = timedelta(hours=hours)
    for name in ("opened_at", "respond_by", "escalation_available_at", "last_activity_at"):
        setattr(discussion, name, getattr(discussion, name) - shift)
    db.session.commit()


@pytest.fixture
def escalated(create_discussion, buyer, seller):
    """A discussion past its 24 h window, escalated by its buyer."""
    from disputes import services

    discussion = create_discussion(buyer=buyer, seller=seller, age_hours=25)
    services.escalate(discussion, buyer, "The seller does not answer at all.")
    db.session.commit()
    return discussion


def refused_by_the_database(statement, constraint: str) -> None:
    """Test helper: ``statement`` (written past the services) fails on ``constraint``, and
    the savepoint it ran in is rolled back. SQLite names a failed CHECK but not a failed
    foreign key."""
    from sqlalchemy.exc import IntegrityError

    with pytest.raises(IntegrityError) as refused, db.session.begin_nested():
        db.session.execute(statement)
    message = str(refused.value.orig)
    assert constraint in message or (constraint.startswith("fk_")
                                     and message == "FOREIGN KEY constraint failed"), message
