"""Two registrations of the same new address at the same moment, on real PostgreSQL with
real concurrent connections: both get the usual answer, one account exists, one link
went out (issue 25 items 2 and 10)."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from sqlalchemy import func, select

from accounts.models import EmailVerification, User
from arbiter.extensions import db
from tests.conftest import FreshContextClient

pytestmark = [pytest.mark.postgres_only, pytest.mark.race]
ROUNDS = 5
PASSWORD = "violet submarine orchestra"


def test_two_registrations_of_one_address_at_once(committed):
    app = committed
    for round_ in range(ROUNDS):
        address = f"twice{round_}@example.com"
        barrier = Barrier(2)

        def register(_, barrier=barrier, address=address):
            browser = FreshContextClient(app, app.response_class, use_cookies=True)
            barrier.wait()
            return browser.post("/register", data={
                "name": "Twice", "email": address, "password": PASSWORD,
                "confirm": PASSWORD}).status_code

        with ThreadPoolExecutor(max_workers=2) as pool:
            assert list(pool.map(register, range(2))) == [302, 302]
        db.session.remove()
        assert db.session.scalar(select(func.count(User.id)).where(User.email == address)) == 1
        assert db.session.scalar(select(func.count(EmailVerification.id)).join(User).where(
            User.email == address)) == 1
