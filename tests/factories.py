"""Factory fixtures: ``create_user`` / ``create_order`` build real rows through the services."""

import itertools
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pyotp
import pytest
import time_machine
from sqlalchemy import select

from accounts import services as accounts
from accounts.roles import Role
from arbiter import clock
from arbiter.extensions import db
from orders.services import upsert_order
from orders.states import PaymentMethod

PASSWORD = "correct horse battery"
SECOND_STEP = "/login/second-factor"
STEP_SECONDS = 30
_sequence = itertools.count(1)


@pytest.fixture
def create_user(db_session):
    def create(email: str | None = None, *, name: str | None = None, password: str = PASSWORD,
               is_staff: bool = False, roles=(), locale: str | None = None,
               enrolled: bool = True, verified: bool = True):
        """``is_staff``: every staff role (for tests about something else); ``roles``: these
        roles only (for tests about who may do what). Staff have their second factor set up
        (:func:`enrol`) unless ``enrolled=False``. The address counts as confirmed unless
        ``verified=False`` (as after registration, before the e-mailed link is opened)."""
        number = next(_sequence)
        user = accounts.create_user(email or f"user{number}@example.test",
                                    name or f"User {number}", password,
                                    roles=tuple(Role) if is_staff else roles,
                                    verified=verified)
        user.locale = locale
        if user.is_staff and enrolled:
            enrol(user)
        db.session.commit()
        return user

    return create


# When factory staff set up their authenticator app: before any date a test moves the clock
# to, so the replay rule (a later time step than the last one used) never stands in the way
# of a login at the test's time, however far back the test moves the clock.
ENROLLED_AT = datetime(2010, 1, 4, 9, 0, 5, tzinfo=UTC)


def enrol(user, *, at: datetime = ENROLLED_AT) -> list[str]:
    """Turn on ``user``'s second factor through the service, as the enrolment page does (a
    pending secret, then the code the app shows), at ``at``; returns the ten recovery
    codes."""
    from accounts import second_factor

    with time_machine.travel(at, tick=False):
        factor = second_factor.begin_enrolment(user)
        return second_factor.confirm_enrolment(user, pyotp.TOTP(factor.secret).now())


def totp_step(email: str, *, after_step: int | None = None) -> tuple[int, str]:
    """The first time step (and its code) a login of ``email`` may use now: the current
    one, or the one after the last step the account used (or ``after_step``) if that is
    not earlier."""
    from accounts.models import SecondFactor, User

    secret, last_step = db.session.execute(
        select(SecondFactor.secret, SecondFactor.last_step)
        .join(User, User.id == SecondFactor.user_id)
        .where(User.email == email, SecondFactor.confirmed_at.is_not(None))).one()
    totp = pyotp.TOTP(secret)
    used = max(step for step in (last_step, after_step, -1) if step is not None)
    step = max(totp.timecode(clock.now()), used + 1)
    return step, totp.generate_otp(step)


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
    def __init__(self, client, time_machine=None):
        self.client = client
        self.time_machine = time_machine

    def login(self, email: str, password: str = PASSWORD, **kwargs):
        """Log in through the login page; a staff member then completes the second step with
        a code computed from their stored secret (:meth:`second_step`). The answer of the
        last step is returned."""
        response = self.client.post("/login", data={"email": email, "password": password},
                                    **kwargs)
        location = response.headers.get("Location", "")
        if response.status_code == 302 and urlsplit(location).path == SECOND_STEP:
            return self.second_step(email, location)
        return response

    def second_step(self, email: str, url: str = SECOND_STEP):
        """Type the authenticator's code, as the staff member's phone would show it.

        A code is accepted once per 30-second step. When this account already used the
        current step (logged in twice within 30 s), the person waits for the phone's next
        code: the test's clock moves on to that step (time-machine) for the rest of the
        test, and that code is typed, never one the server should refuse."""
        step, code = totp_step(email)
        wait = step * STEP_SECONDS + 1 - clock.now().timestamp()
        if wait > 0:
            self.wait(timedelta(seconds=wait))
        return self.client.post(url, data={"code": code})

    def wait(self, delta: timedelta) -> None:
        """Let ``delta`` pass for the rest of the test (the clock is not moved back after a
        request: the session cookie it signed would then lie in the future)."""
        if self.time_machine is None:  # no test clock (threads on committed connections)
            time.sleep(delta.total_seconds())
            return
        if self.time_machine.traveller is None:
            self.time_machine.move_to(clock.now() + delta, tick=True)
        else:
            self.time_machine.shift(delta)

    def logout(self):
        return self.client.post("/logout")


def logged_in(client, user):
    """Log ``client`` in as ``user`` (for tests that build their people past the factories,
    on committed connections): staff set up their authenticator app first if they have
    not. The answer of the last step is returned."""
    from accounts import second_factor

    if user.is_staff and not second_factor.is_enrolled(user):
        enrol(user)
        db.session.commit()
    return Auth(client).login(user.email)


@pytest.fixture
def auth(client, time_machine):
    return Auth(client, time_machine)


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
