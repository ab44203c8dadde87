"""The one clock of the application.

Everything that needs "now" calls :func:`now`; tests move it with time-machine.
All datetimes in the code are timezone-aware UTC. Warsaw time exists only at the
edges (templates, PDFs, e-mails) through :func:`to_local`.
"""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

WARSAW = ZoneInfo("Europe/Warsaw")


def now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


def ensure_aware(value: datetime) -> datetime:
    """Refuse naive datetimes instead of guessing their zone."""
    if value.tzinfo is UTC:
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("naive datetime: every datetime in Arbiter must carry a timezone")
    return value.astimezone(UTC)


def to_local(value: datetime, zone: ZoneInfo = WARSAW) -> datetime:
    """The instant as wall-clock time in Warsaw, for display only."""
    return ensure_aware(value).astimezone(zone)


def add_hours(start: datetime, hours: int) -> datetime:
    """Exact elapsed-time arithmetic in UTC: 24 h is always 86,400 s, DST or not."""
    return ensure_aware(start) + timedelta(hours=hours)


def countdown(deadline: datetime, now: datetime) -> tuple[bool, int, int]:
    """(overdue, hours, minutes) between now and the deadline, for display."""
    delta = ensure_aware(deadline) - ensure_aware(now)
    overdue = delta.total_seconds() < 0
    minutes = int(abs(delta.total_seconds()) // 60)
    return overdue, minutes // 60, minutes % 60
