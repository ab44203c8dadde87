"""Dashboard rules as pure functions: no database, no Flask, the clock passed in.

A period is a range of calendar days in Warsaw, both ends included. Charts count facts in
buckets (days or weeks) whose boundaries are Warsaw midnights expressed in UTC, so a day
is 23 or 25 hours long across a DST change and nothing is counted twice or lost.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum

from arbiter.clock import WARSAW, ensure_aware

MAX_DAYS = 366
DEFAULT_DAYS = 30
# Dates outside these are typing mistakes; they also keep the arithmetic far from the
# limits of datetime (year 1, year 9999).
EARLIEST = date(2000, 1, 1)
LATEST = date(2100, 12, 31)

# What the source programme reported (2017-2018), in per cent.
NO_INTERVENTION_REFERENCE = Decimal("75")
PAID_PER_ORDERS_REFERENCE = Decimal("0.0036")


class AgeBucket(StrEnum):
    """How long an escalation has been waiting for staff. Stable codes: the CSV uses them."""

    UNDER_24_HOURS = "under_24_hours"
    ONE_TO_THREE_DAYS = "1_to_3_days"
    THREE_TO_SEVEN_DAYS = "3_to_7_days"
    OVER_SEVEN_DAYS = "over_7_days"


# (bucket, waiting at least, waiting less than); elapsed time, like every deadline.
AGE_BUCKETS: tuple[tuple[AgeBucket, timedelta, timedelta | None], ...] = (
    (AgeBucket.UNDER_24_HOURS, timedelta(0), timedelta(hours=24)),
    (AgeBucket.ONE_TO_THREE_DAYS, timedelta(hours=24), timedelta(days=3)),
    (AgeBucket.THREE_TO_SEVEN_DAYS, timedelta(days=3), timedelta(days=7)),
    (AgeBucket.OVER_SEVEN_DAYS, timedelta(days=7), None),
)


class PeriodProblem(StrEnum):
    INVALID_DATE = "invalid_date"
    OUT_OF_RANGE = "out_of_range"
    REVERSED = "reversed"
    TOO_LONG = "too_long"


class PeriodError(ValueError):
    """A period that cannot be shown; ``field`` is ``from``, ``to`` or None (both)."""

    def __init__(self, problem: PeriodProblem, field: str | None):
        super().__init__(f"{field or 'period'}: {problem.value}")
        self.problem = problem
        self.field = field


def local_midnight(day: date) -> datetime:
    """The instant (UTC) at which ``day`` begins in Warsaw."""
    return datetime.combine(day, time(0), tzinfo=WARSAW).astimezone(UTC)


def local_day(instant: datetime) -> date:
    """The calendar day in Warsaw at ``instant``."""
    return ensure_aware(instant).astimezone(WARSAW).date()


@dataclass(frozen=True, slots=True)
class Period:
    """Calendar days in Warsaw from ``start`` to ``end``, both included."""

    start: date
    end: date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def starts_at(self) -> datetime:
        return local_midnight(self.start)

    @property
    def ends_before(self) -> datetime:
        """The first instant after the period (midnight after ``end``)."""
        return local_midnight(self.end + timedelta(days=1))


def default_period(now: datetime) -> Period:
    """The last 30 days in Warsaw, today included."""
    today = local_day(now)
    return Period(today - timedelta(days=DEFAULT_DAYS - 1), today)


def _parse_day(text: str, field: str) -> date:
    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        raise PeriodError(PeriodProblem.INVALID_DATE, field) from None
    if len(text.strip()) != 10:  # only YYYY-MM-DD, as a date input sends it
        raise PeriodError(PeriodProblem.INVALID_DATE, field)
    if not EARLIEST <= day <= LATEST:
        raise PeriodError(PeriodProblem.OUT_OF_RANGE, field)
    return day


def parse_period(from_text: str | None, to_text: str | None, now: datetime) -> Period:
    """The period a staff member asked for (``YYYY-MM-DD``, Warsaw days).

    A missing end is today; a missing start is 30 days before the end. A start after the
    end, or more than :data:`MAX_DAYS` days, is refused with :class:`PeriodError`.
    """
    start = _parse_day(from_text, "from") if from_text and from_text.strip() else None
    end = _parse_day(to_text, "to") if to_text and to_text.strip() else local_day(now)
    if start is None:
        start = max(end - timedelta(days=DEFAULT_DAYS - 1), EARLIEST)
    if start > end:
        raise PeriodError(PeriodProblem.REVERSED, "from")
    period = Period(start, end)
    if period.days > MAX_DAYS:
        raise PeriodError(PeriodProblem.TOO_LONG, "from")
    return period


@dataclass(frozen=True, slots=True)
class Bucket:
    """One bar of a chart: the Warsaw day it starts on and its instants in UTC."""

    label: date
    starts_at: datetime
    ends_before: datetime


def day_buckets(period: Period) -> list[Bucket]:
    """One bucket per Warsaw calendar day of the period."""
    return [Bucket(day, local_midnight(day), local_midnight(day + timedelta(days=1)))
            for day in (period.start + timedelta(days=n) for n in range(period.days))]


def week_buckets(period: Period) -> list[Bucket]:
    """One bucket per calendar week (Monday to Sunday) that the period touches, cut to the
    period: the first starts on the period's first day, the last ends with its last day."""
    buckets = []
    start = period.start
    while start <= period.end:
        next_monday = start + timedelta(days=7 - start.weekday())
        end = min(next_monday, period.end + timedelta(days=1))
        buckets.append(Bucket(start, local_midnight(start), local_midnight(end)))
        start = end
    return buckets


def age_thresholds(now: datetime) -> list[tuple[AgeBucket, datetime | None, datetime | None]]:
    """For each age bucket, the escalation times it covers: ``(bucket, after, at_or_before)``,
    open-ended (None) for the oldest and the youngest bucket, so every waiting escalation
    is in exactly one. An escalation exactly 24 h old is in 1-3 days."""
    now = ensure_aware(now)
    return [(bucket, None if older is None else now - older,
             now - younger if younger else None)
            for bucket, younger, older in AGE_BUCKETS]
