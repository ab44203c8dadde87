"""Impact replays: what a policy version would have changed for past claims, worked out in
the background.

An admin asks for the impact of a version on the claims of a period
(:func:`request_impact`): a row in ``impact_runs`` is written and the task
``claims.replay_impact`` queued after the commit (a Celery worker in production, in
process in the embedded default and the tests). The task (:func:`run`) counts the claims,
streams them in one statement (:func:`claims.versions.replayed_claims`) through the pure
rules (:func:`claims.policy.replay`), writes how far it got every :data:`PROGRESS_EVERY`
claims in short transactions of its own (the impact page polls them) and stores the
figures as JSON, which the page and the CSV read. A second request for the same version
and period while one is unfinished joins it (a partial unique index); a failed run says
so, and the admin asks again.
"""

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from flask_babel import gettext as _
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from accounts.models import User
from accounts.staff import require_admin
from arbiter import clock
from arbiter.db import add_unless_taken
from arbiter.extensions import db
from claims import policy
from claims.models import (
    UNFINISHED_IMPACT_STATES,
    Claim,
    ImpactRun,
    ImpactRunState,
    PolicyVersion,
)
from claims.versions import replayed_claims
from dashboards.policy import Period

log = logging.getLogger(__name__)

# The task writes its progress every this many claims: often enough for a bar polled each
# second, rarely enough that the commits cost little next to the replay (bench/replay.py).
PROGRESS_EVERY = 2_000
# A run still unfinished this long after it was asked for lost its worker: it fails, so the
# admin may ask again (a year of claims replays in seconds).
STUCK_AFTER = timedelta(hours=1)


class _Joined(Exception):
    """Another request inserted the unfinished run for this version and period first."""


# --- the web side ------------------------------------------------------------------------------


def unfinished_run(version_id: int, period: Period) -> ImpactRun | None:
    return db.session.scalar(select(ImpactRun).where(
        ImpactRun.version_id == version_id, ImpactRun.period_start == period.start,
        ImpactRun.period_end == period.end, ImpactRun.state.in_(UNFINISHED_IMPACT_STATES)))


def latest_run(version_id: int, period: Period) -> ImpactRun | None:
    """The newest run for the version and period, whatever its state."""
    return db.session.scalar(
        select(ImpactRun).where(ImpactRun.version_id == version_id,
                                ImpactRun.period_start == period.start,
                                ImpactRun.period_end == period.end)
        .order_by(ImpactRun.id.desc()).limit(1))


def run_of(version_id: int, run_id: int) -> ImpactRun | None:
    run = db.session.get(ImpactRun, run_id)
    return run if run is not None and run.version_id == version_id else None


def request_impact(version: PolicyVersion, admin: User, period: Period) -> ImpactRun:
    """Queue a replay of the period's claims under ``version``, or join the one running."""
    require_admin(admin, _("Only an administrator can replay past claims under a policy "
                           "version."))
    running = unfinished_run(version.id, period)
    if running is not None:
        return running
    run = ImpactRun(version_id=version.id, period_start=period.start, period_end=period.end,
                    requested_by_id=admin.id, state=ImpactRunState.QUEUED, processed=0,
                    requested_at=clock.now())
    try:
        add_unless_taken(run, _Joined)  # a request at the same moment inserted it first
    except _Joined:
        return unfinished_run(version.id, period)
    from arbiter.tasks import enqueue_after_commit
    from claims.tasks import replay_impact

    enqueue_after_commit(replay_impact, run.id)
    return run


def figures(run: ImpactRun) -> policy.Impact | None:
    """A finished run's figures as the pure rules computed them."""
    if run.result is None:
        return None
    stored = run.result
    return policy.Impact(
        claims=stored["claims"], eligibility_changed=stored["eligibility_changed"],
        amount_changed=stored["amount_changed"], total_change=stored["total_change"],
        median_change=stored["median_change"],
        largest=tuple(policy.ClaimChange(**change) for change in stored["largest"]))


def _as_json(impact: policy.Impact) -> dict:
    return {"claims": impact.claims, "eligibility_changed": impact.eligibility_changed,
            "amount_changed": impact.amount_changed, "total_change": impact.total_change,
            "median_change": impact.median_change,
            "largest": [dataclasses.asdict(change) for change in impact.largest]}


# --- the background side -----------------------------------------------------------------------


def _lock(run_id: int) -> ImpactRun | None:
    return db.session.scalar(select(ImpactRun).where(ImpactRun.id == run_id)
                             .with_for_update().execution_options(populate_existing=True))


def run(run_id: int) -> ImpactRun | None:
    """Replay the claims of one run and store its figures; safe to run again (a finished
    run is left alone; one whose worker died starts over)."""
    impact_run = _lock(run_id)
    if impact_run is None or impact_run.state not in UNFINISHED_IMPACT_STATES:
        db.session.rollback()
        return impact_run
    period = Period(impact_run.period_start, impact_run.period_end)
    since, until = period.starts_at, period.ends_before
    total = db.session.scalar(select(func.count(Claim.id)).where(
        Claim.submitted_at >= since, Claim.submitted_at < until))
    impact_run.state = ImpactRunState.RUNNING
    impact_run.started_at = clock.now()
    impact_run.processed, impact_run.total = 0, total
    draft = impact_run.version.to_rules()
    db.session.commit()  # the page shows it running
    try:
        judging = {row.code: row.to_rules()
                   for row in db.session.scalars(select(PolicyVersion))}
        with _progress_writer(run_id, total) as report:
            impact = policy.replay(_reporting(replayed_claims(since, until), report),
                                   draft, judging)
        db.session.rollback()  # the reading transaction ends before the result is written
        impact_run = _lock(run_id)
        if impact_run is None or impact_run.state is not ImpactRunState.RUNNING:
            db.session.rollback()  # given up meanwhile
            return impact_run
        impact_run.state = ImpactRunState.DONE
        impact_run.processed = impact_run.total = impact.claims
        impact_run.result = _as_json(impact)
        impact_run.finished_at = clock.now()
        db.session.commit()
        return impact_run
    except Exception as error:  # any failure must leave a visible state
        log.exception("impact run %s failed", run_id)
        db.session.rollback()
        return _fail(run_id, type(error).__name__)


def _reporting(claims: Iterable[policy.ClaimFacts],
               report: Callable[[int], None]) -> Iterator[policy.ClaimFacts]:
    for processed, facts in enumerate(claims, start=1):
        yield facts
        if processed % PROGRESS_EVERY == 0:
            report(processed)


@contextmanager
def _progress_writer(run_id: int, counted: int):
    """``report(processed)`` commits the progress at once, in a session of its own: the
    task's own transaction is streaming the claims, and its commit would end the stream."""
    progress = Session(bind=db.session.get_bind(mapper=ImpactRun),
                       join_transaction_mode="create_savepoint")

    def report(processed: int) -> None:
        # Claims submitted after the count are streamed too: the total grows with them.
        progress.execute(update(ImpactRun).where(
            ImpactRun.id == run_id, ImpactRun.state == ImpactRunState.RUNNING)
            .values(processed=processed, total=max(counted, processed)))
        progress.commit()

    try:
        yield report
    finally:
        progress.close()


def _fail(run_id: int, reason: str) -> ImpactRun | None:
    impact_run = _lock(run_id)
    if impact_run is None or impact_run.state not in UNFINISHED_IMPACT_STATES:
        db.session.rollback()
        return impact_run
    give_up(impact_run, clock.now(), reason)
    db.session.commit()
    return impact_run


def give_up(impact_run: ImpactRun, now: datetime, reason: str = "not finished in time") -> None:
    """A run that failed or lost its worker: the page says so and the admin asks again."""
    impact_run.state = ImpactRunState.FAILED
    impact_run.finished_at = now
    impact_run.error = reason[:200]


def stuck_runs(now: datetime):
    return (select(ImpactRun)
            .where(ImpactRun.state.in_(UNFINISHED_IMPACT_STATES),
                   ImpactRun.requested_at <= now - STUCK_AFTER)
            .order_by(ImpactRun.requested_at, ImpactRun.id))
