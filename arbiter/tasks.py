"""Background tasks: one set of task functions, two ways to run them.

Production: Celery with Redis as the broker (``ARBITER_REDIS_URL``); ``make worker``
and ``make beat`` start a worker and the periodic scheduler. Embedded default: no Redis,
Celery runs tasks eagerly in process, and ``flask serve`` runs the periodic jobs on an
in-process APScheduler. Either way the work is the same functions in ``arbiter.sweeper``
and ``arbiter.mail``.
"""

import logging

from celery import Celery, Task
from flask import Flask, g, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

celery = Celery("arbiter")


class FlaskTask(Task):
    """Every task runs inside an application context, with a fresh database session."""

    abstract = True

    def __call__(self, *args, **kwargs):
        from flask import current_app

        from arbiter.extensions import db

        # Inside the app (eager mode) use that app; on a worker, the worker's app.
        app = current_app._get_current_object() if has_app_context() else self.app.flask_app
        with app.app_context():
            try:
                return self.run(*args, **kwargs)
            finally:
                db.session.remove()


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
        timezone="UTC",
        beat_schedule={
            "sweep-deadlines": {"task": "arbiter.sweep",
                                "schedule": float(app.config["SWEEP_INTERVAL_SECONDS"])},
            "deliver-outbox": {"task": "arbiter.deliver_outbox",
                               "schedule": float(app.config["OUTBOX_INTERVAL_SECONDS"])},
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


@celery.task(name="arbiter.render_document")
def render_document(document_id: int) -> str | None:
    from arbiter.documents import render

    document = render(document_id)
    return document.sha256 if document is not None else None


_embedded_scheduler = None


def enqueue_after_commit(task, *args) -> None:
    """Run ``task(*args)`` once the current transaction has committed (never if it rolls
    back): on a Celery worker in production, on the embedded scheduler's thread under
    ``flask serve``, else at the end of the current app context (CLI, tests)."""
    from arbiter.extensions import db

    db.session.info.setdefault("after_commit_tasks", []).append((task, args))


@event.listens_for(Session, "after_commit")
def _dispatch_after_commit(session: Session) -> None:
    pending = session.info.pop("after_commit_tasks", None)
    for task, args in pending or ():
        if not celery.conf.task_always_eager:
            task.apply_async(args)
        elif _embedded_scheduler is not None:
            _embedded_scheduler.add_job(_run_logged, args=[task, args])
        elif has_app_context():
            g.setdefault("ready_tasks", []).append((task, args))


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
    for task, args in ready or ():
        _run_logged(task, args)


def start_embedded_scheduler(app: Flask):
    """Run the periodic tasks on a background thread of this process (no Redis needed)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    for task, seconds in ((sweep, app.config["SWEEP_INTERVAL_SECONDS"]),
                          (deliver_outbox, app.config["OUTBOX_INTERVAL_SECONDS"])):
        scheduler.add_job(_run_logged, "interval", args=[task, ()], seconds=float(seconds),
                          id=task.name, max_instances=1, coalesce=True)
    scheduler.start()
    global _embedded_scheduler
    _embedded_scheduler = scheduler
    log.info("embedded scheduler started: sweep every %ss, outbox every %ss",
             app.config["SWEEP_INTERVAL_SECONDS"], app.config["OUTBOX_INTERVAL_SECONDS"])
    return scheduler


def _run_logged(task, args=()) -> None:
    try:
        task.apply(args)
    except Exception:  # a failing task must not kill the scheduler thread or the request
        log.exception("background task %s failed", task.name)
