"""Production keeps login throttling in Redis, shared by every gunicorn worker."""

import logging
import os
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask_migrate import upgrade

from arbiter.extensions import limiter
from tests.factories import PASSWORD


@pytest.fixture
def redis_url():
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail("REQUIRE_REDIS=1 but TEST_REDIS_URL is not set")
        pytest.skip("TEST_REDIS_URL is not set")
    return url


def test_two_app_processes_share_one_throttle_through_redis(fresh_app, redis_url):
    config = {"RATELIMIT_STORAGE_URI": redis_url,
              "RATELIMIT_KEY_PREFIX": f"arbiter-test-{secrets.token_hex(4)}"}
    worker_a = fresh_app(**config)
    with worker_a.app_context():
        upgrade()
        from accounts.services import create_user
        from arbiter.extensions import db

        create_user("redis@example.com", "R", PASSWORD)
        db.session.commit()
    # A second app instance stands for a second gunicorn worker: it shares only Redis.
    worker_b = fresh_app(**config)
    try:
        for worker in (worker_a, worker_b, worker_a, worker_b, worker_a):
            response = worker.test_client().post(
                "/login", data={"email": "redis@example.com", "password": "wrong wrong!"})
            assert response.status_code == 401
        response = worker_b.test_client().post(
            "/login", data={"email": "redis@example.com", "password": PASSWORD})
        assert response.status_code == 429
    finally:
        with worker_a.app_context():
            limiter.reset()
        fresh_app()  # the limiter is global: hand the rest of the suite memory storage back


def test_a_burst_of_wrong_passwords_has_no_more_checked_than_the_budget(fresh_app, redis_url):
    """Thirty wrong passwords sent at the same moment: every attempt is counted before its
    password is checked, so five are checked (401) and the rest refused (429). Counting
    only after a failed check let eight through. (It runs before the dead-Redis test: the
    limiter is global, and its "storage is dead" state would split the count between
    memory and Redis when Redis is found alive again mid-burst.)"""
    app = fresh_app(RATELIMIT_STORAGE_URI=redis_url,
                    RATELIMIT_KEY_PREFIX=f"arbiter-test-{secrets.token_hex(4)}")
    try:
        with app.app_context():
            upgrade()
            from accounts.services import create_user
            from arbiter.extensions import db

            create_user("burst@example.com", "B", PASSWORD)
            db.session.commit()
        start = threading.Barrier(30)

        def attempt(_):
            client = app.test_client()
            start.wait()
            return client.post("/login", data={"email": "burst@example.com",
                                               "password": "wrong wrong!"}).status_code

        with ThreadPoolExecutor(max_workers=30) as pool:
            statuses = sorted(pool.map(attempt, range(30)))
        assert statuses == [401] * 5 + [429] * 25, statuses
    finally:
        with app.app_context():
            limiter.reset()
        fresh_app()  # the limiter is global: hand the rest of the suite memory storage back

class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


def test_with_redis_unreachable_people_still_log_in_and_are_still_throttled(fresh_app):
    """Redis down (a dead port): limits fall back to a counter in the process, with a
    warning in the log, instead of every login answering 500."""
    app = fresh_app(RATELIMIT_STORAGE_URI="redis://127.0.0.1:1/0",
                    RATELIMIT_KEY_PREFIX=f"arbiter-test-{secrets.token_hex(4)}")
    warnings = _Records()
    try:
        with app.app_context():
            upgrade()
            from accounts.services import create_user
            from arbiter.extensions import db

            create_user("no-redis@example.com", "N", PASSWORD)
            db.session.commit()
        # Alembic's logging set-up (migrations/env.py) replaced the root logger's handlers,
        # pytest's capture included: listen on Flask-Limiter's logger itself.
        logging.getLogger("flask-limiter").addHandler(warnings)
        client = app.test_client()
        response = client.post("/login", data={"email": "no-redis@example.com",
                                               "password": PASSWORD})
        assert response.status_code == 302
        client.post("/logout")
        statuses = [client.post("/login", data={"email": "no-redis@example.com",
                                                "password": "wrong wrong!"}).status_code
                    for _ in range(6)]
        assert statuses[:4] == [401] * 4 and statuses[-1] == 429, statuses
        assert any("falling back to in-memory storage" in record.getMessage()
                   for record in warnings.records)
    finally:
        logging.getLogger("flask-limiter").removeHandler(warnings)
        fresh_app()  # the limiter is global: hand the rest of the suite memory storage back

