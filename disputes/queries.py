"""Read-side queries: lists, queues and the dashboard rates. Nothing here changes state.

Lists use keyset (cursor) pagination so a page deep in a long queue costs the same as the
first, and load what the page shows in a constant number of statements.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, bindparam, func, or_, select, true, tuple_
from sqlalchemy.orm import joinedload, selectinload

from accounts.models import User
from arbiter import clock, metrics
from arbiter.extensions import db
from arbiter.metrics import TimeBucket, bucket_table, in_order, within
from arbiter.pagination import Page, page_of, parse_cursor
from disputes.models import Attachment, Discussion, Entry
from disputes.states import OPEN_STATES, TERMINAL_STATES, DiscussionState, Reason
from orders.models import Order, not_a_party

# The queue's "escalated more than N hours ago" filter: up to about eleven years.
MAX_QUEUE_AGE_HOURS = 100_000


def escalation_queue(viewer, *, reason: Reason | None = None,
                     older_than_hours: int | None = None, cursor: str | None = None,
                     longest_waiting_first: bool = True, limit: int = 20) -> Page:
    """Escalated discussions, the longest waiting first (or the newest first), with their
    order, their advisor and their information requests (the queue shows whether one is
    unanswered), but none that ``viewer`` bought or sold in: staff do not handle their own
    cases (``orders.policy.conflicted``)."""
    key = (Discussion.escalated_at, Discussion.id)
    statement = (
        select(Discussion)
        .where(Discussion.state == _literal("escalated", DiscussionState.ESCALATED.value),
               not_a_party(viewer.id, Discussion))
        .options(joinedload(Discussion.order), joinedload(Discussion.assigned_staff),
                 selectinload(Discussion.information_requests))
        .order_by(*(key if longest_waiting_first else (column.desc() for column in key)))
    )
    if reason is not None:
        statement = statement.where(Discussion.reason == reason)
    if older_than_hours:
        statement = statement.where(
            Discussion.escalated_at <= clock.now() - timedelta(hours=older_than_hours))
    after = parse_cursor(cursor)
    if after:
        statement = statement.where(
            tuple_(*key) > after if longest_waiting_first else tuple_(*key) < after)
    return page_of(statement, "escalated_at", limit)


def _literal(name: str, value):
    """A constant written into the SQL rather than sent as a parameter: PostgreSQL plans a
    prepared statement once without its parameters' values (a generic plan), and only
    with the state written in does that plan use the partial indexes on open or escalated
    discussions instead of sorting all of them."""
    return bindparam(name, value, literal_execute=True)


def _open(state_column):
    """``state IN (open states)``, written into the SQL (see :func:`_literal`)."""
    return state_column.in_(bindparam("open_states", sorted(s.value for s in OPEN_STATES),
                                      expanding=True, literal_execute=True))


def seller_inbox(seller, *, cursor: str | None = None, limit: int = 20) -> Page:
    """The seller's open discussions, the nearest answer deadline first."""
    statement = (
        select(Discussion)
        .where(Discussion.seller_id == seller.id, _open(Discussion.state))
        .options(joinedload(Discussion.order), joinedload(Discussion.buyer))
        .order_by(Discussion.respond_by, Discussion.id)
    )
    after = parse_cursor(cursor)
    if after:
        statement = statement.where(tuple_(Discussion.respond_by, Discussion.id) > after)
    return page_of(statement, "respond_by", limit)


def buyer_discussions(buyer, *, cursor: str | None = None, limit: int = 20) -> Page:
    statement = (
        select(Discussion).where(Discussion.buyer_id == buyer.id)
        .options(joinedload(Discussion.order), joinedload(Discussion.seller))
        .order_by(Discussion.opened_at.desc(), Discussion.id.desc())
    )
    after = parse_cursor(cursor)
    if after:
        statement = statement.where(tuple_(Discussion.opened_at, Discussion.id) < after)
    return page_of(statement, "opened_at", limit)


def thread(discussion_id: int) -> Discussion | None:
    """A discussion with everything its page and the API show, in a fixed number of
    statements whatever the length of the thread: the discussion with its order and
    people, then its offers, information requests and entries with authors and files."""
    return db.session.scalar(
        select(Discussion).where(Discussion.id == discussion_id)
        .options(joinedload(Discussion.order), joinedload(Discussion.buyer),
                 joinedload(Discussion.seller), joinedload(Discussion.assigned_staff),
                 selectinload(Discussion.offers), selectinload(Discussion.information_requests),
                 selectinload(Discussion.entries).options(
                     joinedload(Entry.author), selectinload(Entry.attachments))))


def attachment_for(discussion_id: int, attachment_id: int) -> Attachment | None:
    return db.session.scalar(
        select(Attachment).where(Attachment.id == attachment_id,
                                 Attachment.discussion_id == discussion_id))


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def percent(self) -> float | None:
        return None if not self.denominator else 100 * self.numerator / self.denominator

    def share(self, places: int = 1) -> Decimal | None:
        """In per cent as a Decimal rounded half up (None without a denominator)."""
        return metrics.percent(self.numerator, self.denominator, places)


def _ended():
    return Discussion.state.in_(TERMINAL_STATES)


def _ended_without_intervention():
    """Ended (resolved, decided or closed) and never escalated to the platform."""
    return and_(_ended(), Discussion.escalated_at.is_(None))


def _answer_due(now: datetime):
    """The seller has answered, or the answer deadline has passed."""
    return or_(Discussion.seller_first_response_at.is_not(None), Discussion.respond_by < now)


def _answered_on_time():
    return Discussion.seller_answered_on_time.is_(True)


def _scoped(statement, seller_id: int | None, opened_since: datetime | None):
    if seller_id is not None:
        statement = statement.where(Discussion.seller_id == seller_id)
    if opened_since is not None:
        statement = statement.where(Discussion.opened_at >= opened_since)
    return statement


def ended_without_intervention(*, seller_id: int | None = None,
                               opened_since: datetime | None = None) -> Rate:
    """Share of ended discussions that were resolved or closed without escalation."""
    row = db.session.execute(_scoped(select(
        func.count().filter(_ended_without_intervention()),
        func.count().filter(_ended()),
    ).select_from(Discussion), seller_id, opened_since)).one()
    return Rate(row[0], row[1])


def seller_on_time_rate(seller_id: int | None = None, *,
                        opened_since: datetime | None = None) -> Rate:
    """Answers within 24 h out of all discussions whose answer is in or overdue."""
    row = db.session.execute(_scoped(select(
        func.count().filter(_answered_on_time()),
        func.count().filter(_answer_due(clock.now())),
    ).select_from(Discussion), seller_id, opened_since)).one()
    return Rate(row[0], row[1])


# --- the staff dashboard's charts and the seller profile -----------------------------------
# One statement per metric, whatever the number of discussions or buckets.


def opened_per_bucket(buckets: Sequence[TimeBucket]) -> list[int]:
    """How many discussions were opened in each bucket."""
    table = bucket_table(buckets)
    rows = db.session.execute(
        select(table.c.bucket, func.count(Discussion.id))
        .select_from(table).outerjoin(Discussion, within(table, Discussion.opened_at))
        .group_by(table.c.bucket))
    return in_order(rows, len(buckets))


def _rates_per_bucket(buckets: Sequence[TimeBucket], numerator, denominator) -> list[Rate]:
    """A rate over the discussions opened in each bucket (a cohort per bucket)."""
    table = bucket_table(buckets)
    rows = db.session.execute(
        select(table.c.bucket, func.count(Discussion.id).filter(numerator),
               func.count(Discussion.id).filter(denominator))
        .select_from(table).outerjoin(Discussion, within(table, Discussion.opened_at))
        .group_by(table.c.bucket))
    rates = [Rate(0, 0)] * len(buckets)
    for number, part, whole in rows:
        rates[number] = Rate(part, whole)
    return rates


def ended_without_intervention_per_bucket(buckets: Sequence[TimeBucket]) -> list[Rate]:
    """Of the discussions opened in each bucket that have ended, those the platform never
    had to handle."""
    return _rates_per_bucket(buckets, _ended_without_intervention(), _ended())


def on_time_per_bucket(buckets: Sequence[TimeBucket], now: datetime) -> list[Rate]:
    """Of the discussions opened in each bucket whose answer is in or overdue at ``now``,
    those the seller answered within 24 h (plus incident extensions)."""
    return _rates_per_bucket(buckets, _answered_on_time(), _answer_due(now))


def escalations_by_age(thresholds: Sequence[tuple[object, datetime | None, datetime | None]]
                       ) -> list[int]:
    """Escalations waiting for staff now, counted per age bucket ``(key, after,
    at_or_before)`` of their escalation time, in one statement."""
    columns = []
    for _key, after, at_or_before in thresholds:
        conditions = []
        if after is not None:
            conditions.append(Discussion.escalated_at > after)
        if at_or_before is not None:
            conditions.append(Discussion.escalated_at <= at_or_before)
        columns.append(func.count().filter(and_(true(), *conditions)))
    row = db.session.execute(
        select(*columns).select_from(Discussion)
        .where(Discussion.state == DiscussionState.ESCALATED)).one()
    return list(row)


@dataclass(frozen=True)
class SellerRecord:
    """A seller's discussions opened since some instant, and how they went."""

    name: str
    discussions: int
    no_intervention: Rate
    on_time: Rate


def seller_record(seller_id: int, *, opened_since: datetime, now: datetime
                  ) -> SellerRecord | None:
    """The seller's record in one statement; None when the user does not exist or has
    never sold anything (a buyer only)."""
    name = (select(User.name)
            .where(User.id == seller_id,
                   select(Order.id).where(Order.seller_id == seller_id).exists())
            .scalar_subquery())
    row = db.session.execute(
        select(name, func.count(Discussion.id),
               func.count(Discussion.id).filter(_ended_without_intervention()),
               func.count(Discussion.id).filter(_ended()),
               func.count(Discussion.id).filter(_answered_on_time()),
               func.count(Discussion.id).filter(_answer_due(now)))
        .select_from(Discussion)
        .where(Discussion.seller_id == seller_id, Discussion.opened_at >= opened_since)).one()
    if row[0] is None:
        return None
    name, total, quiet, ended, on_time, due = row
    return SellerRecord(name=name, discussions=total, no_intervention=Rate(quiet, ended),
                        on_time=Rate(on_time, due))
