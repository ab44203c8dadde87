"""Keyset (cursor) pagination: a page deep in a long list costs the same as the first.

A cursor is ``<microseconds since the epoch>.<row id>`` of the last row shown; the next
page continues strictly after that (timestamp, id) pair.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask_babel import gettext
from sqlalchemy import Integer, bindparam

from arbiter.clock import ensure_aware
from arbiter.errors import ValidationFailed
from arbiter.extensions import db

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
MAX_ROW_ID = 2**63 - 1  # BIGINT


@dataclass(frozen=True)
class Page:
    items: list
    next_cursor: str | None


def make_cursor(at: datetime, row_id: int) -> str:
    # Integer arithmetic: a float timestamp can be off by a microsecond, and then a row
    # sharing that instant is skipped or shown twice.
    return f"{(ensure_aware(at) - _EPOCH) // _MICROSECOND}.{row_id}"


def parse_cursor(cursor: str | None) -> tuple[datetime, int] | None:
    """The (timestamp, id) a cursor points at; None for no cursor. A cursor we did not
    make (malformed, a time outside the calendar, an id beyond a BIGINT, which the
    database driver would refuse with a 500) is a 422 naming ``after``."""
    if not cursor:
        return None
    try:
        micros, row_id = cursor.split(".", 1)
        at, row = _EPOCH + int(micros) * _MICROSECOND, int(row_id)
    except (ValueError, OverflowError, OSError):
        at, row = None, -1
    if at is None or not 0 <= row <= MAX_ROW_ID:
        raise ValidationFailed(gettext("This page link is not valid; start from the first "
                                       "page."), fields={"after": ["invalid"]})
    return at, row


def page_of(statement, key: str, limit: int) -> Page:
    """Run ``statement`` (already ordered by ``key``, id) for one page of ``limit`` rows.

    The LIMIT is written into the SQL, not sent as a parameter: with ``LIMIT $1`` the
    generic plan PostgreSQL keeps for a prepared statement cannot know the page is small,
    and sorts every matching row instead of reading the first ones from an index.
    """
    page_limit = bindparam("page_limit", limit + 1, type_=Integer(), literal_execute=True)
    rows = list(db.session.scalars(statement.limit(page_limit)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, make_cursor(getattr(rows[-1], key), rows[-1].id) if more and rows else None)
