"""The sweeper under real concurrency, crashes and a real Celery worker (PostgreSQL)."""

import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select

from accounts.models import User
from arbiter import clock
from arbiter.extensions import db
from arbiter.notifications import Notification, OutboxEmail
from arbiter.sweeper import JOBS, run_job, run_sweep
from disputes.models import Discussion
from orders.models import Order
from tests.background.processes import BIN, process_environment, wait_for

pytestmark = pytest.mark.postgres_only


def _due_discussions(count: int) -> None:
    """``count`` discussions whose escalation window opened an hour ago (bulk set-up)."""
    now = clock.now()
    opened = now - timedelta(hours=25)
    db.session.execute(insert(User), [
        {"id": 1, "email": "sweep-buyer@example.test", "name": "B", "password_hash": "x",
         "created_at": now, "updated_at": now},
        {"id": 2, "email": "sweep-seller@example.test", "name": "S", "password_hash": "x",
         "created_at": now, "updated_at": now},
    ])
    db.session.execute(insert(Order), [
        {"id": n, "external_id": f"SW-{n}", "buyer_id": 1, "seller_id": 2, "item_title": "x",
         "item_price": 1000, "shipping_cost": 0, "currency": "PLN",
         "payment_method": "platform_payments", "paid_at": opened - timedelta(days=1),
         "created_at": now, "updated_at": now} for n in range(1, count + 1)])
    db.session.execute(insert(Discussion), [
        {"id": n, "version": 1, "order_id": n, "buyer_id": 1, "seller_id": 2,
         "reason": "not_received", "expected_outcome": "refund", "description": "x",
         "state": "in_progress", "opened_at": opened, "respond_by": opened + timedelta(hours=24),
         "escalation_available_at": opened + timedelta(hours=24), "last_activity_at": now,
         "created_at": now, "updated_at": now} for n in range(1, count + 1)])
    db.session.commit()


def _notices():
    return db.session.execute(select(
        func.count(Notification.id), func.count(func.distinct(Notification.object_id)),
    ).where(Notification.kind == "discussion.escalation_available")).one()


def _notice_job():
    run_sweep(now=clock.now() - timedelta(days=3650))  # registers jobs, finds nothing due
    return next(job for job in JOBS if job.name == "discussion.escalation_notice")


@pytest.mark.race
def test_two_sweepers_at_once_do_every_item_exactly_once(committed):
    app = committed
    _due_discussions(1000)
    job = _notice_job()

    def sweeper(_):
        with app.app_context():
            try:
                return run_job(job, batch_size=25)
            finally:
                db.session.remove()

    with ThreadPoolExecutor(max_workers=2) as pool:
        handled = list(pool.map(sweeper, range(2)))

    assert sum(handled) == 1000
    assert all(count > 0 for count in handled), handled  # both really took part
    assert tuple(_notices()) == (1000, 1000)
    assert db.session.scalar(select(func.count()).select_from(OutboxEmail)) == 1000


def test_a_sweeper_killed_mid_batch_loses_and_repeats_nothing(committed, database_url):
    _due_discussions(2000)
    env = process_environment(database_url)
    worker = subprocess.Popen([f"{BIN}/flask", "sweep", "--batch-size", "10"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    done = 0
    while time.monotonic() < deadline and worker.poll() is None:
        done = db.session.scalar(select(func.count()).select_from(Discussion).where(
            Discussion.escalation_notice_sent_at.is_not(None)))
        db.session.rollback()
        if done >= 100:
            break
        time.sleep(0.01)
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    assert 0 < done < 2000, f"the kill did not land mid-run ({done} done)"

    result = subprocess.run([f"{BIN}/flask", "sweep"], env=env, capture_output=True,
                            text=True, check=True)
    assert "discussion.escalation_notice:" in result.stdout
    assert tuple(_notices()) == (2000, 2000)


def test_a_celery_worker_on_redis_runs_the_sweep_end_to_end(committed, database_url,
                                                            redis_broker, celery_worker):
    """Producer and worker are separate processes that share only Redis and PostgreSQL."""
    _due_discussions(30)
    env = process_environment(database_url, ARBITER_REDIS_URL=redis_broker)
    sent = subprocess.run([f"{BIN}/celery", "-A", "arbiter.worker", "call", "arbiter.sweep"],
                          env=env, capture_output=True, text=True, check=True, timeout=60)
    task_id = sent.stdout.strip()
    wait_for(lambda: _notices()[0] >= 30, celery_worker)
    assert tuple(_notices()) == (30, 30), celery_worker.read_text()
    result = subprocess.run([f"{BIN}/celery", "-A", "arbiter.worker", "result", task_id],
                            env=env, capture_output=True, text=True, check=True, timeout=60)
    assert "'discussion.escalation_notice': 30" in result.stdout
