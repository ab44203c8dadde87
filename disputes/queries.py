"""Read-side queries: lists, queues and the dashboard rates. Nothing here changes state.

Lists use keyset (cursor) pagination so a page deep in a long queue costs the same as the
first, and load what the page shows in a constant number of statements.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache

from sqlalchemy import Integer, and_, bindparam, exists, func, or_, select, true, tuple_
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from accounts.models import User
from arbiter import clock, metrics
from arbiter.extensions import db
from arbiter.metrics import TimeBucket, bucket_table, in_order, within
from arbiter.pagination import Page, make_cursor, page_of, parse_cursor
from disputes.models import Attachment, Discussion, Entry, InformationRequest, Offer
from disputes.states import (
    OPEN_STATES,
    TERMINAL_STATES,
    DiscussionState,
    EntryKind,
    Reason,
    Role,
)
from orders.models import Order


def escalation_queue(*, reason: Reason | None = None, older_than_hours: int | None = None,
                     cursor: str | None = None, limit: int = 20) -> Page:
    """Escalated discussions, oldest escalation first."""
    statement = (
        select(Discussion)
        .where(Discussion.state == DiscussionState.ESCALATED)
        .options(joinedload(Discussion.order), joinedload(Discussion.assigned_staff))
        .order_by(Discussion.escalated_at, Discussion.id)
    )
    if reason is not None:
        statement = statement.where(Discussion.reason == reason)
    if older_than_hours:
        statement = statement.where(
            Discussion.escalated_at <= clock.now() - timedelta(hours=older_than_hours))
    after = parse_cursor(cursor)
    if after:
        statement = statement.where(tuple_(Discussion.escalated_at, Discussion.id) > after)
    return page_of(statement, "escalated_at", limit)


def _page_size():
    """``LIMIT n`` written into the SQL, not sent as a parameter. PostgreSQL may run a
    prepared statement with a generic plan, made without the parameters' values; with
    ``LIMIT $1`` (and the state as ``$2``) the queue's generic plan sorts every escalated
    discussion (68 ms with 100,000 of them, against 0.2 ms for the index scan), so every
    execution had to be planned again. With both in the SQL, the generic plan is the index
    scan and the statement is planned once per connection."""
    return bindparam("limit", type_=Integer(), literal_execute=True)


def _open(state_column):
    """``state IN (open states)`` with the states written into the SQL, not sent as
    parameters: only then can PostgreSQL use the partial index on open discussions
    (``ix_discussions_seller_inbox_open``) in a prepared statement's generic plan too."""
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


# --- list pages (HTML): plain rows with exactly what the page shows ---------------------


@dataclass(frozen=True, slots=True)
class QueueRow:
    id: int
    reason: Reason
    item_title: str
    escalated_at: datetime
    advisor: str | None
    waiting_information: bool


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    item_title: str
    buyer_name: str
    reason: Reason
    state: DiscussionState
    respond_by: datetime


def _rows_page(statement, parameters: dict, key: str, limit: int, make) -> Page:
    """One page of plain rows; ``statement`` asks for ``limit + 1`` to know if more follow."""
    rows = [make(row) for row in db.session.connection().execute(statement, parameters)]
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, make_cursor(getattr(rows[-1], key), rows[-1].id) if more and rows
                else None)


@cache
def _queue_statement(by_reason: bool, by_age: bool, after: bool):
    """The queue page's statement for one combination of filters, built once."""
    d, o, u = Discussion.__table__.c, Order.__table__.c, User.__table__.c
    r = InformationRequest.__table__.c
    waiting = exists().where(r.discussion_id == d.id, r.answered_at.is_(None))
    statement = (
        select(d.id, d.reason, o.item_title, d.escalated_at, u.name.label("advisor"),
               waiting.label("waiting"))
        .select_from(Discussion.__table__)
        .join(Order.__table__, o.id == d.order_id)
        .outerjoin(User.__table__, u.id == d.assigned_staff_id)
        .where(d.state == bindparam("escalated", DiscussionState.ESCALATED.value,
                                    literal_execute=True))
        .order_by(d.escalated_at, d.id)
        .limit(_page_size()))
    if by_reason:
        statement = statement.where(d.reason == bindparam("reason"))
    if by_age:
        statement = statement.where(d.escalated_at <= bindparam("escalated_before"))
    if after:
        statement = statement.where(
            tuple_(d.escalated_at, d.id) > tuple_(bindparam("after_at", type_=d.escalated_at.type),
                                                  bindparam("after_id", type_=d.id.type)))
    return statement


def escalation_queue_page(*, reason: Reason | None = None,
                          older_than_hours: int | None = None, cursor: str | None = None,
                          limit: int = 20) -> Page:
    """The staff queue page: :func:`escalation_queue` as plain rows, with the advisor's name
    and whether an information request is unanswered, in one statement (an ORM object per
    discussion, order and advisor plus a second query cost more than the rest of the page).
    """
    after = parse_cursor(cursor)
    parameters = {"limit": limit + 1}
    if reason is not None:
        parameters["reason"] = reason
    if older_than_hours:
        parameters["escalated_before"] = clock.now() - timedelta(hours=older_than_hours)
    if after:
        parameters["after_at"], parameters["after_id"] = after
    statement = _queue_statement(reason is not None, bool(older_than_hours), bool(after))
    return _rows_page(statement, parameters, "escalated_at", limit, lambda row: QueueRow(
        row.id, row.reason, row.item_title, row.escalated_at, row.advisor, row.waiting))


@cache
def _inbox_statement(after: bool):
    """The inbox page's statement, with or without a cursor, built once."""
    d, o, u = Discussion.__table__.c, Order.__table__.c, User.__table__.c
    statement = (
        select(d.id, o.item_title, u.name.label("buyer_name"), d.reason, d.state,
               d.respond_by)
        .select_from(Discussion.__table__)
        .join(Order.__table__, o.id == d.order_id)
        .join(User.__table__, u.id == d.buyer_id)
        .where(d.seller_id == bindparam("seller_id"), _open(d.state))
        .order_by(d.respond_by, d.id)
        .limit(_page_size()))
    if after:
        statement = statement.where(
            tuple_(d.respond_by, d.id) > tuple_(bindparam("after_at", type_=d.respond_by.type),
                                                bindparam("after_id", type_=d.id.type)))
    return statement


def seller_inbox_page(seller, *, cursor: str | None = None, limit: int = 20) -> Page:
    """The seller inbox page: :func:`seller_inbox` as plain rows in one statement."""
    after = parse_cursor(cursor)
    parameters = {"seller_id": seller.id, "limit": limit + 1}
    if after:
        parameters["after_at"], parameters["after_id"] = after
    return _rows_page(_inbox_statement(bool(after)), parameters, "respond_by", limit,
                      lambda row: InboxRow(row.id, row.item_title, row.buyer_name, row.reason,
                                           row.state, row.respond_by))


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


@cache
def _thread_statements():
    """Built once: SQLAlchemy reuses their compiled form and cache keys on every request."""
    from incidents.queries import deadline_extended
    from incidents.states import DeadlineKind

    has_offers = exists().where(Offer.discussion_id == Discussion.id)
    has_requests = exists().where(InformationRequest.discussion_id == Discussion.id)
    extended = deadline_extended(
        (DeadlineKind.DISCUSSION_RESPOND_BY, DeadlineKind.DISCUSSION_ESCALATION), Discussion.id)
    # Entries are append-only: their number and the newest id say which thread the page
    # shows (the key of its cached rendering), read from the (discussion_id, id) index.
    entry_count = (select(func.count()).where(Entry.discussion_id == Discussion.id)
                   .scalar_subquery())
    last_entry_id = (select(func.max(Entry.id)).where(Entry.discussion_id == Discussion.id)
                     .scalar_subquery())
    # The page and the API show the people by name and five fields of the order: only those
    # are read (43 columns instead of 80, 4 % fewer instructions per page); any other
    # attribute loads when first used. People already in the session (the viewer) stay whole.
    discussion = (
        select(Discussion, has_offers, has_requests, extended, entry_count, last_entry_id)
        .where(Discussion.id == bindparam("discussion_id"))
        .options(joinedload(Discussion.order).load_only(
                     Order.external_id, Order.item_title, Order.item_price, Order.shipping_cost,
                     Order.currency),
                 *(joinedload(person).load_only(User.name)
                   for person in (Discussion.buyer, Discussion.seller,
                                  Discussion.assigned_staff))))
    entries = (
        select(Entry).where(Entry.discussion_id == bindparam("discussion_id"))
        .options(joinedload(Entry.author), joinedload(Entry.attachments))
        .order_by(Entry.id))
    entry_rows = (
        select(Entry.__table__.c.id, Entry.__table__.c.kind, Entry.__table__.c.author_role,
               Entry.__table__.c.body, Entry.__table__.c.data, Entry.__table__.c.created_at,
               User.__table__.c.name.label("author_name"),
               Attachment.__table__.c.id.label("attachment_id"),
               Attachment.__table__.c.filename, Attachment.__table__.c.size)
        .select_from(Entry.__table__)
        .outerjoin(User.__table__, User.__table__.c.id == Entry.__table__.c.author_id)
        .outerjoin(Attachment.__table__,
                   Attachment.__table__.c.entry_id == Entry.__table__.c.id)
        .where(Entry.__table__.c.discussion_id == bindparam("discussion_id"))
        .order_by(Entry.__table__.c.id, Attachment.__table__.c.id))
    return discussion, entries, entry_rows


def discussion_page(discussion_id: int) -> Discussion | None:
    """The discussion with its order and people, offers and information requests, and
    ``thread_version``: which entries it has (their number and the newest id), without
    reading them (see :func:`thread_entries`).

    One statement reads the discussion with its order and people, and whether it has
    offers, information requests or incident-extended deadlines. Offers and information
    requests are read (one statement each) only when there are some: most discussions
    have none, and each statement is a round trip to the database.
    """
    row = db.session.execute(_thread_statements()[0], {"discussion_id": discussion_id}
                             ).unique().first()
    if row is None:
        return None
    discussion, any_offers, any_requests, extended, entry_count, last_entry_id = row
    for name, model, present in (("offers", Offer, any_offers),
                                 ("information_requests", InformationRequest, any_requests)):
        items = list(db.session.scalars(
            select(model).where(model.discussion_id == discussion.id).order_by(model.id)
        )) if present else []
        set_committed_value(discussion, name, items)
    # Nothing of this discussion was extended by an incident: its page need not look.
    discussion.deadlines_never_extended = not extended and not any_requests
    discussion.thread_version = (entry_count, last_entry_id)
    return discussion


def thread(discussion_id: int) -> Discussion | None:
    """A discussion with everything the API shows, in a fixed number of statements: the
    discussion (see :func:`discussion_page`), then its entries with authors and files."""
    discussion = discussion_page(discussion_id)
    if discussion is not None:
        # Read and attached by hand: the statement selectinload would send, without its
        # per-query set-up.
        set_committed_value(discussion, "entries", list(db.session.scalars(
            _thread_statements()[1], {"discussion_id": discussion_id}).unique()))
    return discussion


@dataclass(frozen=True, slots=True)
class ThreadAttachment:
    id: int
    filename: str
    size: int


@dataclass(frozen=True, slots=True)
class ThreadEntry:
    """One line of the thread as its page shows it (read-only, not an ORM object)."""

    id: int
    kind: EntryKind
    author_role: Role
    author_name: str | None
    body: str
    data: dict | None
    created_at: datetime
    attachments: list[ThreadAttachment]


def thread_entries(discussion_id: int) -> list[ThreadEntry]:
    """The discussion's entries with their authors' names and their files as plain rows in
    one statement (an ORM object per entry, author and file costs a page of twenty
    messages more than everything else together)."""
    entries: list[ThreadEntry] = []
    rows = db.session.connection().execute(_thread_statements()[2],
                                           {"discussion_id": discussion_id})
    for row in rows:
        if not entries or entries[-1].id != row.id:
            entries.append(ThreadEntry(row.id, row.kind, row.author_role, row.author_name,
                                       row.body, row.data, row.created_at, []))
        if row.attachment_id is not None:
            entries[-1].attachments.append(
                ThreadAttachment(row.attachment_id, row.filename, row.size))
    return entries


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
