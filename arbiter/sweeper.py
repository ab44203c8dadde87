"""The deadline sweeper: finds work that became due and does it exactly once.

Each package registers jobs. A job selects a batch of due rows with
``FOR UPDATE SKIP LOCKED`` (PostgreSQL; SQLite runs one sweeper at a time), acts on each
row, sets the row's marker and commits the batch. A crash before the commit undoes the
whole batch, which the next sweep redoes; after the commit the markers keep it from ever
running again. Two sweepers at once never pick the same row.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Select

from arbiter import clock
from arbiter.extensions import db

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SweepJob:
    name: str
    due: Callable[[datetime], Select]  # a SELECT of the due rows, ordered
    act: Callable[[object, datetime], None]  # do the work and set the marker


JOBS: list[SweepJob] = []


def register(name: str, due: Callable[[datetime], Select],
             act: Callable[[object, datetime], None]) -> None:
    if any(job.name == name for job in JOBS):
        return
    JOBS.append(SweepJob(name, due, act))


def run_job(job: SweepJob, *, batch_size: int = 100, now: datetime | None = None) -> int:
    """Process every due row of one job in batches; return how many were handled."""
    done = 0
    while True:
        moment = now or clock.now()
        rows = list(db.session.scalars(
            job.due(moment).limit(batch_size).with_for_update(skip_locked=True)
        ))
        if not rows:
            db.session.rollback()
            return done
        for row in rows:
            job.act(row, moment)
        db.session.commit()
        done += len(rows)


def run_sweep(*, batch_size: int = 100, now: datetime | None = None) -> dict[str, int]:
    """One pass over every registered job, after the audit log's sequencer: the webhooks'
    fan-out reads the event feed, which holds only sequenced entries."""
    from arbiter.transparency_log import sequence

    _load_jobs()
    results = {"audit_log.sequence": sequence()}
    for job in JOBS:
        results[job.name] = run_job(job, batch_size=batch_size, now=now)
        if results[job.name]:
            log.info("sweep %s: %d done", job.name, results[job.name])
    return results


def _load_jobs() -> None:
    # The packages' jobs registered when the app factory imported their tasks modules.
    from arbiter import documents, tasks

    register("documents.render_pending", documents.unrendered, documents.render_into)
    register("tasks.send_again", tasks.unstarted_runs, tasks.send_again)
