"""Background tasks: one set of task functions, two ways to run them.

Production: Celery with Redis as the broker (``ARBITER_REDIS_URL``); ``make worker``
and ``make beat`` start a worker and the periodic scheduler. Embedded default: no Redis,
Celery runs tasks eagerly in process, and ``flask serve`` runs the periodic jobs on an
in-process APScheduler. Either way the work is the same functions in ``arbiter.sweeper``
and ``arbiter.mail``.
"""

import logging

from celery import Celery, Task
from flask import Flask

log = logging.getLogger(__name__)

celery = Celery("arbiter")


class FlaskTask(Task):
    """Every task runs inside an application context, with a fresh database session."""

    abstract = True

    def __call__(self, *args, **kwargs):
        from arbiter.extensions import db

        with self.app.flask_app.app_context():
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
    return celery


@celery.task(name="arbiter.sweep")
def sweep() -> dict:
    from arbiter.sweeper import run_sweep

    return run_sweep()


@celery.task(name="arbiter.deliver_outbox")
def deliver_outbox() -> dict:
    from arbiter.mail import deliver_due

    return deliver_due()


def start_embedded_scheduler(app: Flask):
    """Run the periodic tasks on a background thread of this process (no Redis needed)."""
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    for task, seconds in ((sweep, app.config["SWEEP_INTERVAL_SECONDS"]),
                          (deliver_outbox, app.config["OUTBOX_INTERVAL_SECONDS"])):
        scheduler.add_job(_run_logged, "interval", args=[task], seconds=float(seconds),
                          id=task.name, max_instances=1, coalesce=True)
    scheduler.start()
    log.info("embedded scheduler started: sweep every %ss, outbox every %ss",
             app.config["SWEEP_INTERVAL_SECONDS"], app.config["OUTBOX_INTERVAL_SECONDS"])
    return scheduler


def _run_logged(task) -> None:
    try:
        task.apply()
    except Exception:  # a failing round must not kill the scheduler thread
        log.exception("background task %s failed", task.name)
