"""Races on real PostgreSQL: one code, or one recovery code, typed in many sessions at once
is accepted exactly once (the replay rule holds under concurrency)."""

from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pyotp
import pytest
from sqlalchemy import func, select

from accounts import services as accounts
from accounts.models import SecondFactor, UserSession
from accounts.roles import Role
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from tests.conftest import FreshContextClient
from tests.factories import PASSWORD, SECOND_STEP, enrol

pytestmark = [pytest.mark.postgres_only, pytest.mark.race]
SESSIONS = 12


def _pending_sessions(app, email: str) -> list[str]:
    """``SESSIONS`` browsers past the password, each waiting for the code."""
    cookies = []
    for _ in range(SESSIONS):
        browser = app.test_client()
        login = browser.post("/login", data={"email": email, "password": PASSWORD})
        assert login.headers["Location"].startswith(SECOND_STEP)
        cookies.append(browser.get_cookie("session").value)
    return cookies


def _all_at_once(app, cookies: list[str], code: str) -> list[int]:
    barrier = Barrier(len(cookies))

    def type_code(cookie: str) -> int:
        browser = FreshContextClient(app, app.response_class, use_cookies=True)
        browser.set_cookie("session", cookie)
        barrier.wait()
        return browser.post(SECOND_STEP, data={"code": code}).status_code

    with ThreadPoolExecutor(max_workers=len(cookies)) as pool:
        return list(pool.map(type_code, cookies))


@pytest.fixture
def generous_throttle(committed):
    """Room for every refusal below (the throttle has tests of its own)."""
    names = ("LOGIN_LIMITS_PER_ACCOUNT_AND_ADDRESS", "LOGIN_LIMITS_PER_ADDRESS")
    before = {name: committed.config[name] for name in names}
    committed.config.update(dict.fromkeys(names, "1000 per minute"))
    yield committed
    committed.config.update(before)


def _staff():
    staff = accounts.create_user("race-staff@example.test", "Race Staff", PASSWORD,
                                 roles=[Role.ADVISOR])
    codes = enrol(staff)
    db.session.commit()
    return staff, codes


def _passed_sessions(staff) -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(UserSession).where(
        UserSession.user_id == staff.id, UserSession.second_factor_at.is_not(None)))


def test_one_code_typed_in_many_sessions_at_once_passes_one(generous_throttle):
    app = generous_throttle
    staff, _ = _staff()
    cookies = _pending_sessions(app, staff.email)
    secret = db.session.scalar(select(SecondFactor.secret))
    statuses = _all_at_once(app, cookies, pyotp.TOTP(secret).now())
    assert statuses.count(302) == 1, statuses
    assert statuses.count(401) == SESSIONS - 1, statuses
    assert _passed_sessions(staff) == 1


def test_one_recovery_code_typed_in_many_sessions_at_once_passes_one(generous_throttle):
    app = generous_throttle
    staff, codes = _staff()
    cookies = _pending_sessions(app, staff.email)
    statuses = _all_at_once(app, cookies, codes[0])
    assert statuses.count(302) == 1, statuses
    assert statuses.count(401) == SESSIONS - 1, statuses
    assert _passed_sessions(staff) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "second_factor.recovery_code_used")) == 1
