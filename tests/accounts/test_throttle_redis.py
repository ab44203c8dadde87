"""Production keeps login throttling in Redis, shared by every gunicorn worker."""

import os
import secrets

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
