"""Tasks are recorded with the change that asks for them (issue 26.4): a broker that is
down never fails a committed request, and the sweeper sends the task again; a task sent
twice runs once; a run whose worker died is taken again after its lease."""

import time
from datetime import timedelta

import pytest
import time_machine
from flask import g
from sqlalchemy import select

from accounts import exports
from accounts.models import DataExport, ExportState
from arbiter import clock
from arbiter.extensions import db
from arbiter.sweeper import run_sweep
from arbiter.tasks import LEASE, RESEND_AFTER, TaskRun, celery, run_ready_tasks
from tests.background.conftest import sending_to


@pytest.fixture
def broker_down():
    """The web process sends its tasks to a broker nobody listens on (Redis stopped)."""
    with sending_to("redis://127.0.0.1:1/0"):
        yield


def _run_for(export_id: int) -> TaskRun:
    runs = db.session.scalars(select(TaskRun).where(
        TaskRun.task == "accounts.build_data_export")).all()
    [run] = [run for run in runs if run.args == [export_id]]
    return run


def test_a_broker_that_is_down_loses_nothing(client, auth, buyer, broker_down):
    auth.login(buyer.email)
    started = time.monotonic()
    response = client.post("/account/data-export")
    took = time.monotonic() - started
    assert response.status_code == 302  # committed, and the person is told so
    assert took < 10  # not the 19 s of a send retried against a dead broker
    export = db.session.scalar(select(DataExport).where(DataExport.user_id == buyer.id))
    assert export.state is ExportState.REQUESTED
    export_id = export.id
    run = _run_for(export_id)
    assert run.started_at is None and run.finished_at is None
    db.session.commit()  # end this session's read before the sweep's own transactions

    # Redis is back; the sweeper sends what did not start, once it waited RESEND_AFTER.
    celery.conf.update(task_always_eager=True)
    run_sweep(now=clock.now() + RESEND_AFTER / 2)
    run_ready_tasks()
    db.session.expire_all()
    assert db.session.get(DataExport, export_id).state is ExportState.REQUESTED
    run_sweep(now=clock.now() + RESEND_AFTER + timedelta(seconds=1))
    run_ready_tasks()
    db.session.expire_all()
    assert db.session.get(DataExport, export_id).state is ExportState.READY
    run = _run_for(export_id)
    assert run.finished_at is not None and run.attempts == 1


def test_a_task_sent_twice_runs_once(app, db_session, buyer):
    from accounts.tasks import build_data_export

    export_id = exports.request_export(buyer).id
    db.session.commit()
    run_ready_tasks()  # the commit's own send
    db.session.expire_all()
    run = _run_for(export_id)
    assert run.finished_at is not None
    ready_at = db.session.get(DataExport, export_id).ready_at

    # the same message delivered again (a broker redelivery, a second sweeper's send)
    assert build_data_export.apply((export_id,), task_id=f"arbiter-run-{run.id}").result is None
    db.session.expire_all()
    assert _run_for(export_id).attempts == 1
    assert db.session.get(DataExport, export_id).ready_at == ready_at


def test_a_run_whose_worker_died_is_taken_again_after_its_lease(app, db_session, buyer):
    export_id = exports.request_export(buyer).id
    db.session.commit()
    g.pop("ready_tasks", None)  # the worker that took it dies before it finishes
    run = _run_for(export_id)
    run.started_at, run.attempts = clock.now(), 1
    db.session.commit()

    with time_machine.travel(clock.now() + LEASE - timedelta(minutes=1), tick=False):
        run_sweep()
        run_ready_tasks()
    db.session.expire_all()
    assert db.session.get(DataExport, export_id).state is ExportState.REQUESTED
    with time_machine.travel(clock.now() + LEASE + timedelta(minutes=1), tick=False):
        run_sweep()
        run_ready_tasks()
    db.session.expire_all()
    assert db.session.get(DataExport, export_id).state is ExportState.READY
    assert _run_for(export_id).attempts == 2
