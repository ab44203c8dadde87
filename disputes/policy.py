"""Pure discussion rules: no database, no Flask; the clock is passed in."""

import calendar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from arbiter.clock import WARSAW, add_hours, ensure_aware

SELLER_RESPONSE_HOURS = 24
ESCALATION_AFTER_HOURS = 24
INFORMATION_REQUEST_HOURS = 72
SELLER_REMINDER_BEFORE = timedelta(hours=4)
INACTIVITY_CLOSE_AFTER = timedelta(days=30)
DESCRIPTION_MAX = 20_000
RATIONALE_MIN = 30
FILES_PER_MESSAGE = 5
FILES_PER_DISCUSSION = 50


@dataclass(frozen=True)
class Deadlines:
    respond_by: datetime
    escalation_available_at: datetime


def deadlines_for(opened_at: datetime) -> Deadlines:
    """Both 24 h deadlines, as elapsed UTC time (86,400 s even across a DST change)."""
    return Deadlines(
        respond_by=add_hours(opened_at, SELLER_RESPONSE_HOURS),
        escalation_available_at=add_hours(opened_at, ESCALATION_AFTER_HOURS),
    )


def information_due(requested_at: datetime) -> datetime:
    return add_hours(requested_at, INFORMATION_REQUEST_HOURS)


def escalation_open(escalation_available_at: datetime, now: datetime) -> bool:
    """From the instant itself on (inclusive)."""
    return ensure_aware(now) >= ensure_aware(escalation_available_at)


def answered_on_time(respond_by: datetime, answered_at: datetime) -> bool:
    return ensure_aware(answered_at) <= ensure_aware(respond_by)


def offer_amount_problem(kind: str, amount: int | None, order_total: int) -> str | None:
    """Why an offer's amount is wrong, as a code; None when it is fine. ``order_total`` is
    what the order may still refund (its total less what earlier outcomes gave)."""
    if kind == "refund" and (amount is None or amount <= 0):
        return "amount_not_positive"
    if kind == "partial_refund":
        if amount is None:
            return "amount_required"
        if amount <= 0:
            return "amount_not_positive"
        if amount > order_total:
            return "amount_above_order_total"
        return None
    if amount is not None and kind != "refund":
        return "amount_not_expected"
    return None


def verdict_amount(verdict: str, amount: int | None, order_total: int,
                   room: int | None = None) -> int:
    """The refund a verdict grants, or raise ValueError with a code. ``room`` is what the
    order may still refund (its total less what earlier outcomes gave); the amount is
    bounded by it."""
    order_total = order_total if room is None else min(order_total, room)
    if verdict == "seller_favour":
        if amount not in (None, 0):
            raise ValueError("amount_not_expected")
        return 0
    if verdict == "buyer_favour":
        amount = order_total if amount is None else amount
        if not 0 < amount <= order_total:
            raise ValueError("amount_out_of_range")
        return amount
    if verdict == "partial":
        if amount is None:
            raise ValueError("amount_required")
        if not 1 <= amount <= order_total:
            raise ValueError("amount_out_of_range")
        return amount
    raise ValueError("unknown_verdict")


# --- the public seller profile ------------------------------------------------------------

PROFILE_WINDOW_MONTHS = 12
PROFILE_MIN_DISCUSSIONS = 10


def profile_window_start(now: datetime) -> datetime:
    """The start of "the last 12 months": the same wall-clock time in Warsaw, 12 calendar
    months earlier (29 February becomes 28 February), as UTC."""
    local = ensure_aware(now).astimezone(WARSAW)
    year, month = divmod(local.year * 12 + local.month - 1 - PROFILE_WINDOW_MONTHS, 12)
    month += 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    start = datetime(year, month, day, local.hour, local.minute, local.second,
                     local.microsecond, tzinfo=WARSAW)
    return start.astimezone(UTC)


def profile_has_enough_data(discussions: int) -> bool:
    """Rates from fewer than 10 discussions say more about chance than about the seller."""
    return discussions >= PROFILE_MIN_DISCUSSIONS
