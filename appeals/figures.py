"""The public figures of appeals: how often decisions are appealed, how appeals end, and
how long a decision on one takes. The /transparency page shows them for the platform, the
seller profile for the decisions on one seller's orders. Nothing here changes state.

Decisions are the staff verdicts on discussions and the decisions on protection claims
made in the period; the appeals counted are the appeals of those decisions. The median is
computed here from the decided appeals' two timestamps, in the same statement as the
counts: one code path on SQLite and PostgreSQL (whose percentile_cont SQLite lacks).
"""

import statistics
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import and_, func, literal, or_, select

from appeals.models import Appeal
from appeals.states import TERMINAL_STATES, AppealState
from arbiter.extensions import db
from claims.models import Claim
from disputes.models import Discussion
from disputes.queries import Rate

DAY = timedelta(days=1)


@dataclass(frozen=True)
class AppealFigures:
    decisions: int                 # verdicts and claim decisions in the period
    appeals: int                   # appeals of those decisions, decided or not
    outcomes: dict[AppealState, int]
    median_time_to_decide: timedelta | None

    @property
    def decided(self) -> int:
        return sum(self.outcomes.values())

    @property
    def per_100(self) -> Rate:
        """Appeals per 100 decisions (a share in per cent, read as "per 100")."""
        return Rate(self.appeals, self.decisions)

    def share(self, outcome: AppealState | str) -> Rate:
        """Of the decided appeals, those that ended ``outcome``."""
        return Rate(self.outcomes.get(AppealState(outcome), 0), self.decided)

    @property
    def median_days(self) -> Decimal | None:
        """The median time from filing to decision in days, one decimal."""
        if self.median_time_to_decide is None:
            return None
        days = Decimal(self.median_time_to_decide / timedelta(microseconds=1)) / Decimal(
            DAY / timedelta(microseconds=1))
        return days.quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def appeal_figures(*, since: datetime | None = None, seller_id: int | None = None
                   ) -> AppealFigures:
    """The figures of the decisions made since ``since`` (all of them without), on one
    seller's orders with ``seller_id``, in one statement."""
    verdicts = select(Discussion.id).where(Discussion.decided_at.is_not(None))
    claims = select(Claim.id).where(Claim.decided_at.is_not(None))
    if since is not None:
        verdicts = verdicts.where(Discussion.decided_at >= since)
        claims = claims.where(Claim.decided_at >= since)
    if seller_id is not None:
        verdicts = verdicts.where(Discussion.seller_id == seller_id)
        claims = claims.where(Claim.seller_id == seller_id)
    decisions = (select(func.count()).select_from(verdicts.subquery()).scalar_subquery()
                 + select(func.count()).select_from(claims.subquery()).scalar_subquery())
    # One row even without appeals: the decisions' count, then one row per appeal.
    anchor = select(decisions.label("decisions"), literal(1).label("one")).subquery()
    rows = db.session.execute(
        select(anchor.c.decisions, Appeal.state, Appeal.filed_at, Appeal.decided_at)
        .select_from(anchor)
        .outerjoin(Appeal, and_(anchor.c.one == 1,
                                or_(Appeal.discussion_id.in_(verdicts),
                                    Appeal.claim_id.in_(claims))))
        .order_by(Appeal.id)).all()
    outcomes = {state: 0 for state in sorted(TERMINAL_STATES)}
    durations = []
    for _, state, filed_at, decided_at in rows:
        if state is not None and AppealState(state) in TERMINAL_STATES:
            outcomes[AppealState(state)] += 1
            durations.append(decided_at - filed_at)
    return AppealFigures(
        decisions=rows[0][0] or 0,
        appeals=sum(1 for row in rows if row[1] is not None),
        outcomes=outcomes,
        median_time_to_decide=statistics.median(durations) if durations else None)
