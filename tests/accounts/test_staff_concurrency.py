"""Races of the staff page on real PostgreSQL with real concurrent connections."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
from sqlalchemy import select

from accounts import services as accounts
from accounts import staff
from accounts.models import RoleGrant
from accounts.roles import Role
from arbiter.extensions import db
from tests.conftest import FreshContextClient
from tests.factories import PASSWORD, logged_in

pytestmark = [pytest.mark.postgres_only, pytest.mark.race]
ROUNDS = 5


def _browser(app, user):
    browser = FreshContextClient(app, app.response_class, use_cookies=True)
    browser.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert logged_in(browser, user).status_code == 302
    return browser


def _admins() -> set[int]:
    db.session.remove()
    return set(db.session.scalars(select(RoleGrant.user_id).where(RoleGrant.role == Role.ADMIN)))


@pytest.mark.parametrize("action", ["demote", "deactivate"])
def test_two_admins_removing_each_other_at_once_leave_one(committed, action):
    app = committed
    for round_ in range(ROUNDS):
        first = accounts.create_user(f"a{round_}@example.com", "Admin A", PASSWORD,
                                     roles=[Role.ADMIN])
        second = accounts.create_user(f"b{round_}@example.com", "Admin B", PASSWORD,
                                      roles=[Role.ADMIN])
        db.session.commit()
        pair = [(_browser(app, first), second.id), (_browser(app, second), first.id)]
        barrier = Barrier(2)

        def remove(item, barrier=barrier):
            browser, other_id = item
            barrier.wait()
            if action == "demote":
                path, data = (f"/staff/people/{other_id}/roles",
                              {f"user-{other_id}-roles": ["advisor"]})
            else:
                path, data = f"/staff/people/{other_id}/deactivate", {}
            return browser.post(path, data=data).status_code

        with ThreadPoolExecutor(max_workers=2) as pool:
            statuses = sorted(pool.map(remove, pair))
        # the loser is refused: the last administrator (409), or no longer one (403)
        assert statuses[0] == 302 and statuses[1] in (403, 409), statuses
        db.session.remove()
        active = [user_id for user_id in _admins()
                  if db.session.get(accounts.User, user_id).deactivated_at is None]
        assert len(active) == 1, (round_, active)
        # the platform is back to none of these two for the next round
        for user_id in (first.id, second.id):
            user = db.session.get(accounts.User, user_id)
            user.role_grants = []
            user.deactivated_at = None
        db.session.commit()
        assert staff.active_admin_count() == 0
