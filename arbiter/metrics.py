"""SQL helpers for dashboard metrics: count facts per time bucket in one statement.

The buckets (their boundaries computed in Python, in Warsaw time, see
``dashboards/policy.py``) become a small ``VALUES`` table that the facts are joined against
by a half-open time range, so a chart over a year of days is one query on SQLite and
PostgreSQL alike, and empty buckets still come back (with zero).
"""

from collections.abc import Sequence
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Protocol

from flask_babel import format_decimal
from sqlalchemy import CTE, Integer, and_, column, values

from arbiter.db import UTCDateTime


class TimeBucket(Protocol):
    starts_at: datetime
    ends_before: datetime


def bucket_table(buckets: Sequence[TimeBucket], name: str = "buckets") -> CTE:
    """``WITH buckets(bucket, starts_at, ends_before) AS (VALUES ...)``, numbered from 0."""
    if not buckets:
        raise ValueError("a chart needs at least one bucket")
    table = values(column("bucket", Integer()), column("starts_at", UTCDateTime()),
                   column("ends_before", UTCDateTime()), name=name)
    return table.data([(number, bucket.starts_at, bucket.ends_before)
                       for number, bucket in enumerate(buckets)]).cte(name)


def within(table: CTE, timestamp) -> object:
    """The join condition: ``timestamp`` falls in the bucket (start included, end not)."""
    return and_(timestamp >= table.c.starts_at, timestamp < table.c.ends_before)


def in_order(rows, size: int, empty=0) -> list:
    """Rows of ``(bucket, value)`` as a list indexed by bucket (``empty`` where missing)."""
    result = [empty] * size
    for number, value in rows:
        result[number] = value
    return result


def percent(numerator: int, denominator: int, places: int = 1) -> Decimal | None:
    """``numerator / denominator`` in per cent, rounded half up; None without a denominator.

    Decimal, not float: 36 paid claims out of 1,000,000 orders must read 0.0036 %.
    """
    if not denominator:
        return None
    exact = Decimal(100 * numerator) / Decimal(denominator)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def format_percent(value: Decimal | None, places: int = 1) -> str:
    """A share in the reader's notation ("75,0 %" in Polish, "75.0 %" in English); a dash
    when there is nothing to divide by."""
    if value is None:
        return "—"
    pattern = "#,##0." + "0" * places if places else "#,##0"
    return f"{format_decimal(value, format=pattern)} %"
