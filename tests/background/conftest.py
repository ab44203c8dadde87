"""A real Celery worker process on the CI Redis, for the background tests."""

import os
import subprocess
from contextlib import contextmanager

import pytest

from arbiter.tasks import celery
from tests.background.processes import BIN, process_environment


@pytest.fixture
def redis_broker():
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail("REQUIRE_REDIS=1 but TEST_REDIS_URL is not set")
        pytest.skip("TEST_REDIS_URL is not set")
    return url.rsplit("/", 1)[0] + "/14"


@pytest.fixture
def celery_worker(committed, database_url, redis_broker, tmp_path):
    """``celery -A arbiter.worker worker``, as docs/operations.md starts it, in its own process.

    It shares only PostgreSQL, Redis and the storage directory with the test; its log is
    ``worker.log`` (returned), for the assertions and for a failure's message.
    """
    env = process_environment(database_url, ARBITER_REDIS_URL=redis_broker,
                              ARBITER_STORAGE_DIR=str(tmp_path / "storage"),
                              ARBITER_MAIL_DIR=str(tmp_path / "mail"))
    subprocess.run([f"{BIN}/celery", "-A", "arbiter.worker", "purge", "-f"], env=env,
                   capture_output=True, check=True, timeout=60)  # no leftovers of other runs
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [f"{BIN}/celery", "-A", "arbiter.worker", "worker", "--pool", "solo",
             "--loglevel", "INFO", "--without-gossip", "--without-mingle",
             "--without-heartbeat"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield log_path
    finally:
        worker.terminate()
        worker.wait(timeout=30)


@contextmanager
def sending_to(broker_url: str, result_backend: str | None = None):
    """This process sends its tasks to ``broker_url`` instead of running them in process;
    afterwards it forgets the broker's connections and runs them in process again."""
    keys = ("broker_url", "result_backend", "task_always_eager")
    saved = {key: celery.conf[key] for key in keys}
    celery.conf.update(broker_url=broker_url, result_backend=result_backend,
                       task_always_eager=False)
    try:
        yield
    finally:
        # The connection pool and the producers made from it belong to that broker.
        celery.close()
        celery.amqp._producer_pool = None
        celery.conf.update(saved)


@pytest.fixture
def producer_on_broker(celery_worker, redis_broker):
    """This process sends its tasks to the worker through Redis, as the web process does
    in production (the suite otherwise runs them in process)."""
    with sending_to(redis_broker, redis_broker):
        yield celery_worker
