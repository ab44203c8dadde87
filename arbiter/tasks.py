"""Background tasks: one set of task functions, two ways to run them.

Production: Celery with Redis as the broker (``ARBITER_REDIS_URL``); ``make worker``
and ``make beat`` start a worker and the periodic scheduler. Embedded default: no Redis,
Celery runs tasks eagerly in process, and ``flask serve`` runs the periodic jobs on an
in-process APScheduler. Either way the work is the same functions in ``arbiter.sweeper``
and ``arbiter.mail``.

A task a change asks for is durable, as the outbox is for e-mail: :func:`enqueue_after_commit`
writes a :class:`TaskRun` row in the change's own transaction and sends the task after the
commit. A broker that is down never fails the committed request (the send is logged and
skipped); the sweeper sends again every run that has not started a while after it was
asked for, and a run whose worker died is taken again after its lease. A run starts only
by claiming its row, so a task sent twice runs once. A task the database refuses for a
lock another transaction held runs again at once, with exponential backoff, by the same
worker (:meth:`FlaskTask._run_retrying_lock_conflicts`).
"""

import logging
import time
from datetime import datetime, timedelta

from celery import Celery, Task
from flask import Flask, g, has_app_context
from sqlalchemy import JSON, Index, Integer, String, event, or_, select, text, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from arbiter import clock
from arbiter.db import Base, PrimaryKey, is_lock_conflict

log = logging.getLogger(__name__)

# A run not started this long after it was sent (a broker that was down, a message lost)
# is sent again by the sweeper; one started this long ago and never finished lost its
# worker and is taken again. After MAX_ATTEMPTS starts it is left for the operators.
RESEND_AFTER = timedelta(minutes=2)
LEASE = timedelta(minutes=15)
MAX_ATTEMPTS = 5
_RUN_ID_PREFIX = "arbiter-run-"
# A task refused for a database lock runs again after 0.1, 0.2, 0.4, ... s (3.1 s in all),
# while the same worker still holds it: a lock held for a moment costs a moment.
LOCK_RETRIES = 5
LOCK_RETRY_FIRST_DELAY = 0.1


def lock_retry_delay(attempt: int) -> float:
    """Seconds to wait before running again a task that met a lock on try ``attempt``
    (0-based): exponential backoff."""
    return LOCK_RETRY_FIRST_DELAY * 2 ** attempt


_UNFINISHED = text("finished_at IS NULL")


class TaskRun(PrimaryKey, Base):
    """One background task a committed change asked for, until it has run."""

    __tablename__ = "task_runs"
    __table_args__ = (  # the sweeper's question: which runs have not finished?
        Index("ix_task_runs_unfinished", "sent_at", postgresql_where=_UNFINISHED,
              sqlite_where=_UNFINISHED),
    )

    task: Mapped[str] = mapped_column(String(80), comment="the Celery task's name")
    args: Mapped[list] = mapped_column(JSON, default=list)
    requested_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime] = mapped_column(comment="last handed to the broker (or tried)")
    started_at: Mapped[datetime | None] = mapped_column(comment="claimed by a worker")
    finished_at: Mapped[datetime | None] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0, comment="times a worker claimed it")
    last_error: Mapped[str | None] = mapped_column(String(500))

celery = Celery("arbiter")


class FlaskTask(Task):
    """Every task runs inside an application context, with a fresh database session."""

    abstract = True

    def __call__(self, *args, **kwargs):
        from flask import current_app

        from arbiter.extensions import db

        # Inside the app (eager mode) use that app; on a worker, the worker's app.
        app = current_app._get_current_object() if has_app_context() else self.app.flask_app
        run_id = _run_id(self.request.id)
        with app.app_context():
            try:
                if run_id is not None and not _claim(run_id):
                    log.info("task %s: run %s already done or running", self.name, run_id)
                    return None
                try:
                    result = self._run_retrying_lock_conflicts(args, kwargs)
                except BaseException as error:
                    if run_id is not None:
                        _finish(run_id, error)
                    raise
                if run_id is not None:
                    _finish(run_id, None)
                return result
            finally:
                db.session.remove()

    def _run_retrying_lock_conflicts(self, args, kwargs):
        """Run the task; when the database refuses it for a lock another transaction held
        (:func:`arbiter.db.is_lock_conflict`), roll back and run it again soon, waiting
        twice as long each time (:func:`lock_retry_delay`), instead of leaving the run to
        the sweeper minutes later. Tasks are safe to run again: a run may always be
        repeated after its lease."""
        from arbiter.extensions import db

        for attempt in range(LOCK_RETRIES + 1):
            try:
                return self.run(*args, **kwargs)
            except Exception as error:
                if attempt == LOCK_RETRIES or not is_lock_conflict(error):
                    raise
                db.session.rollback()
                delay = lock_retry_delay(attempt)
                log.warning("task %s met a database lock (%s); again in %.2f s",
                            self.name, str(getattr(error, "orig", error))[:100], delay)
                time.sleep(delay)
        raise AssertionError("unreachable")  # the loop returns or raises


celery.Task = FlaskTask


def init_celery(app: Flask) -> Celery:
    redis_url = app.config.get("REDIS_URL")
    celery.conf.update(
        broker_url=redis_url or "memory://",
        result_backend=redis_url or None,
        task_always_eager=not redis_url,
        task_eager_propagates=True,
        task_acks_late=True,  # a worker killed mid-task leaves the message for another
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        # A broker that does not answer: give up sending within seconds (the run is
        # recorded and the sweeper sends it again) instead of holding the request.
        broker_connection_timeout=2,
        broker_transport_options={"socket_connect_timeout": 2, "socket_timeout": 2,
                                  "max_retries": 0},
        task_publish_retry=False,
        timezone="UTC",
        beat_schedule={
            "sweep-deadlines": {"task": "arbiter.sweep",
                                "schedule": float(app.config["SWEEP_INTERVAL_SECONDS"])},
            "deliver-outbox": {"task": "arbiter.deliver_outbox",
                               "schedule": float(app.config["OUTBOX_INTERVAL_SECONDS"])},
            "sequence-audit-log": {
                "task": "arbiter.sequence_audit_log",
                "schedule": float(app.config["AUDIT_SEQUENCE_INTERVAL_SECONDS"])},
        },
    )
    celery.flask_app = app
    app.extensions["celery"] = celery
    app.teardown_appcontext(_run_ready_tasks_at_teardown)
    return celery


@celery.task(name="arbiter.sweep")
def sweep() -> dict:
    from arbiter.sweeper import run_sweep

    return run_sweep()


@celery.task(name="arbiter.deliver_outbox")
def deliver_outbox() -> dict:
    from arbiter.mail import deliver_due

    return deliver_due()


@celery.task(name="arbiter.sequence_audit_log")
def sequence_audit_log() -> int:
    from arbiter.transparency_log import sequence

    return sequence()


@celery.task(name="arbiter.render_document")
def render_document(document_id: int) -> str | None:
    from arbiter.documents import render

    document = render(document_id)
    return document.sha256 if document is not None else None


_embedded_scheduler = None


def enqueue_after_commit(task, *args) -> None:
    """Run ``task(*args)`` once the current transaction has committed (never if it rolls
    back): on a Celery worker in production, on the embedded scheduler's thread under
    ``flask serve``, else at the end of the current app context (CLI, tests). The run is
    recorded in this transaction (:class:`TaskRun`), so it is never lost."""
    from arbiter.extensions import db

    now = clock.now()
    run = TaskRun(task=task.name, args=list(args), requested_at=now, sent_at=now)
    db.session.add(run)
    db.session.flush()
    _send_after_commit(db.session, task, args, run.id)


def _send_after_commit(session: Session, task, args, run_id: int) -> None:
    session.info.setdefault("after_commit_tasks", []).append((task, tuple(args), run_id))


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    pending = session.info.pop("after_commit_tasks", None)
    for task, args, run_id in pending or ():
        task_id = f"{_RUN_ID_PREFIX}{run_id}"
        if not celery.conf.task_always_eager:
            try:
                task.apply_async(args, task_id=task_id)
            except Exception as error:
                # The change is committed and its run recorded: the sweeper sends it again.
                log.warning("could not send task %s (run %s), the sweeper will: %s",
                            task.name, run_id, error)
        elif _embedded_scheduler is not None:
            _embedded_scheduler.add_job(_run_logged, args=[task, args, task_id])
        elif has_app_context():
            g.setdefault("ready_tasks", []).append((task, args, task_id))


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop("after_commit_tasks", None)


def _run_ready_tasks_at_teardown(exception=None) -> None:
    """Teardown hook: end the request's session, then run what its commit queued.

    The request's session may have begun a new transaction after its commit (rendering
    the answer reads the user's language, say); the tasks must not run while it is open:
    on SQLite its read lock would hold up their writes.
    """
    if has_app_context() and g.get("ready_tasks"):
        from arbiter.extensions import db

        db.session.remove()
    run_ready_tasks(exception)


def run_ready_tasks(exception=None) -> None:
    """Run what committed work queued in this app context (at its teardown, or by hand)."""
    ready = g.pop("ready_tasks", None) if has_app_context() else None
    for task, args, task_id in ready or ():
        _run_logged(task, args, task_id)


def start_embedded_scheduler(app: Flask):
    """Run the periodic tasks on a background thread of this process (no Redis needed)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    for task, seconds in ((sweep, app.config["SWEEP_INTERVAL_SECONDS"]),
                          (deliver_outbox, app.config["OUTBOX_INTERVAL_SECONDS"]),
                          (sequence_audit_log, app.config["AUDIT_SEQUENCE_INTERVAL_SECONDS"])):
        scheduler.add_job(_run_logged, "interval", args=[task, ()], seconds=float(seconds),
                          id=task.name, max_instances=1, coalesce=True)
    scheduler.start()
    global _embedded_scheduler
    _embedded_scheduler = scheduler
    log.info("embedded scheduler started: sweep every %ss, outbox every %ss",
             app.config["SWEEP_INTERVAL_SECONDS"], app.config["OUTBOX_INTERVAL_SECONDS"])
    return scheduler


def _run_logged(task, args=(), task_id: str | None = None) -> None:
    try:
        task.apply(args, task_id=task_id)
    except Exception:  # a failing task must not kill the scheduler thread or the request
        log.exception("background task %s failed", task.name)


# --- durable runs ----------------------------------------------------------------------------


def _run_id(task_id: str | None) -> int | None:
    if task_id and task_id.startswith(_RUN_ID_PREFIX):
        return int(task_id[len(_RUN_ID_PREFIX):])
    return None


def _claim(run_id: int) -> bool:
    """Take the run for this worker, in a transaction of its own: False when it already
    finished or another worker holds it (a task sent twice runs once)."""
    from arbiter.extensions import db

    now = clock.now()
    claimed = db.session.execute(
        update(TaskRun).where(
            TaskRun.id == run_id, TaskRun.finished_at.is_(None),
            or_(TaskRun.started_at.is_(None), TaskRun.started_at < now - LEASE))
        .values(started_at=now, attempts=TaskRun.attempts + 1)).rowcount
    db.session.commit()
    return bool(claimed)


def _finish(run_id: int, error: BaseException | None) -> None:
    from arbiter.extensions import db

    db.session.rollback()  # whatever the task left open
    values = ({"finished_at": clock.now(), "last_error": None} if error is None
              else {"started_at": None, "last_error": repr(error)[:500]})
    db.session.execute(update(TaskRun).where(TaskRun.id == run_id).values(**values))
    db.session.commit()


def unstarted_runs(now: datetime):
    """Runs to send again: never started a while after sending, or started by a worker
    that has not finished within the lease; not once they used up their attempts."""
    return (select(TaskRun)
            .where(TaskRun.finished_at.is_(None), TaskRun.attempts < MAX_ATTEMPTS,
                   TaskRun.sent_at < now - RESEND_AFTER,  # and not sent again just now
                   or_(TaskRun.started_at.is_(None), TaskRun.started_at < now - LEASE))
            .order_by(TaskRun.id))


def send_again(run: TaskRun, now: datetime) -> None:
    """Sweeper job: hand the run to the broker again once this batch commits."""
    from arbiter.extensions import db

    task = celery.tasks.get(run.task)
    if task is None:
        run.attempts = MAX_ATTEMPTS
        run.last_error = "no such task in this process"
        return
    run.sent_at = now
    _send_after_commit(db.session, task, run.args, run.id)
