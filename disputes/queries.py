"""Read-side queries: lists, queues and the dashboard rates. Nothing here changes state.

Lists use keyset (cursor) pagination so a page deep in a long queue costs the same as the
first, and load what the page shows in a constant number of statements.
"""

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache

from sqlalchemy import Integer, Select, and_, bindparam, exists, func, or_, select, true, tuple_
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from accounts.models import User
from arbiter import clock, metrics
from arbiter.extensions import db
from arbiter.metrics import TimeBucket, bucket_table, in_order, within
from arbiter.pagination import Page, make_cursor, page_of, parse_cursor
from disputes.models import (
    Attachment,
    Discussion,
    DiscussionRules,
    Entry,
    InformationRequest,
    Offer,
)
from disputes.states import (
    OPEN_STATES,
    TERMINAL_STATES,
    DiscussionState,
    EntryKind,
    ExpectedOutcome,
    Reason,
    Role,
    Verdict,
)
from orders.models import Order, not_a_party


def escalation_queue(viewer, *, reason: Reason | None = None,
                     older_than_hours: int | None = None, cursor: str | None = None,
                     limit: int = 20) -> Page:
    """Escalated discussions, oldest escalation first, but none that ``viewer`` bought or
    sold in: staff do not handle their own cases (``orders.policy.conflicted``)."""
    statement = (
        select(Discussion)
        .where(Discussion.state == DiscussionState.ESCALATED,
               not_a_party(viewer.id, Discussion))
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
                                    literal_execute=True),
               not_a_party(bindparam("viewer_id", type_=d.buyer_id.type), d))
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


def escalation_queue_page(viewer, *, reason: Reason | None = None,
                          older_than_hours: int | None = None, cursor: str | None = None,
                          limit: int = 20) -> Page:
    """The staff queue page: :func:`escalation_queue` as plain rows, with the advisor's name
    and whether an information request is unanswered, in one statement (an ORM object per
    discussion, order and advisor plus a second query cost more than the rest of the page).
    Without ``viewer``'s own cases, as there.
    """
    after = parse_cursor(cursor)
    parameters = {"limit": limit + 1, "viewer_id": viewer.id}
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


@dataclass(frozen=True, slots=True)
class PageParty:
    name: str


@dataclass(frozen=True, slots=True)
class PageOrder:
    external_id: str
    item_title: str
    item_price: int
    shipping_cost: int
    currency: str

    @property
    def total(self) -> int:
        return self.item_price + self.shipping_cost


@dataclass(eq=False)
class DiscussionPage(DiscussionRules):
    """A discussion as its page shows it: plain values, not an ORM object, read with its
    order and people in one statement (building the ORM objects cost the page more than
    a tenth of its time). Its rules (who may see, post, escalate) are the model's."""

    __tablename__ = "discussions"  # what incident and document helpers look at

    id: int
    buyer_id: int
    seller_id: int
    assigned_staff_id: int | None
    reason: Reason
    expected_outcome: ExpectedOutcome
    state: DiscussionState
    respond_by: datetime
    escalation_available_at: datetime
    seller_first_response_at: datetime | None
    seller_answered_on_time: bool | None
    escalated_at: datetime | None
    escalation_reason: str | None
    verdict: Verdict | None
    refund_amount: int | None
    rationale: str | None
    decided_at: datetime | None
    order: PageOrder
    buyer: PageParty
    seller: PageParty
    assigned_staff: PageParty | None
    offers: list[Offer]
    information_requests: list[InformationRequest]
    # No incident ever extended one of its deadlines: the page need not look for notices.
    deadlines_never_extended: bool
    # Which entries the thread has: their number and the newest id (entries are
    # append-only), the key of the thread's cached rendering.
    thread_version: tuple[int, int | None]


# The discussion's columns the view holds, and the order's: read by name, nothing more.
_PAGE_COLUMNS = tuple(field.name for field in fields(DiscussionPage)
                      if field.name in Discussion.__table__.c)
_PAGE_ORDER_COLUMNS = tuple(field.name for field in fields(PageOrder))


@dataclass(frozen=True)
class _ThreadStatements:
    """Built once: SQLAlchemy reuses their compiled form and cache keys on every request."""

    page: Select  # the discussion as its page shows it, with its flags (plain rows)
    discussion: Select  # the ORM discussion with its order and people, and the same flags
    # (not the thread version: the API reads the entries themselves)
    entries: Select  # the ORM entries with their authors and files
    entry_rows: Select  # the entries as plain rows, as the page shows them


@cache
def _thread_statements() -> _ThreadStatements:
    from incidents.queries import deadline_extended
    from incidents.states import DeadlineKind

    discussions, orders, entries = (Discussion.__table__, Order.__table__, Entry.__table__)
    flags = (
        exists().where(Offer.discussion_id == discussions.c.id).label("any_offers"),
        exists().where(InformationRequest.discussion_id == discussions.c.id)
        .label("any_requests"),
        deadline_extended((DeadlineKind.DISCUSSION_RESPOND_BY,
                           DeadlineKind.DISCUSSION_ESCALATION), discussions.c.id)
        .label("extended"),
    )
    # Entries are append-only: their number and the newest id say which thread the page
    # shows (the key of its cached rendering), read from the (discussion_id, id) index.
    thread_version = (
        select(func.count()).where(entries.c.discussion_id == discussions.c.id)
        .scalar_subquery().label("entry_count"),
        select(func.max(entries.c.id)).where(entries.c.discussion_id == discussions.c.id)
        .scalar_subquery().label("last_entry_id"),
    )
    buyer, seller, staff = (User.__table__.alias(name) for name in ("buyer", "seller", "staff"))
    page = (
        select(*(discussions.c[name] for name in _PAGE_COLUMNS),
               *(orders.c[name].label(f"order_{name}") for name in _PAGE_ORDER_COLUMNS),
               buyer.c.name.label("buyer_name"), seller.c.name.label("seller_name"),
               staff.c.name.label("staff_name"), *flags, *thread_version)
        .join(orders, orders.c.id == discussions.c.order_id)
        .join(buyer, buyer.c.id == discussions.c.buyer_id)
        .join(seller, seller.c.id == discussions.c.seller_id)
        .outerjoin(staff, staff.c.id == discussions.c.assigned_staff_id)
        .where(discussions.c.id == bindparam("discussion_id")))
    discussion = (
        select(Discussion, *flags).where(Discussion.id == bindparam("discussion_id"))
        .options(joinedload(Discussion.order), joinedload(Discussion.buyer),
                 joinedload(Discussion.seller), joinedload(Discussion.assigned_staff)))
    entry_objects = (
        select(Entry).where(Entry.discussion_id == bindparam("discussion_id"))
        .options(joinedload(Entry.author), joinedload(Entry.attachments))
        .order_by(Entry.id))
    attachments = Attachment.__table__
    entry_rows = (
        select(entries.c.id, entries.c.kind, entries.c.author_role, entries.c.body,
               entries.c.data, entries.c.created_at, User.__table__.c.name.label("author_name"),
               attachments.c.id.label("attachment_id"), attachments.c.filename,
               attachments.c.size)
        .select_from(entries)
        .outerjoin(User.__table__, User.__table__.c.id == entries.c.author_id)
        .outerjoin(attachments, attachments.c.entry_id == entries.c.id)
        .where(entries.c.discussion_id == bindparam("discussion_id"))
        .order_by(entries.c.id, attachments.c.id))
    return _ThreadStatements(page, discussion, entry_objects, entry_rows)


def _details(discussion_id: int, flags) -> tuple[list[Offer], list[InformationRequest], bool]:
    """From a row with the thread statements' flags: the offers and the information
    requests, each read (one statement) only when there are some (most discussions have
    none, and each statement is a round trip), and whether no deadline of the discussion
    was ever extended (then the page need not look for extension notices)."""
    offers, requests = (
        list(db.session.scalars(select(model).where(model.discussion_id == discussion_id)
                                .order_by(model.id))) if present else []
        for model, present in ((Offer, flags.any_offers),
                               (InformationRequest, flags.any_requests)))
    return offers, requests, not flags.extended and not flags.any_requests


def discussion_page(discussion_id: int) -> DiscussionPage | None:
    """The discussion as its page shows it, with its order and people, its offers and
    information requests, and which entries it has (``thread_version``), without reading
    them (see :func:`thread_entries`): one statement, plus one each for offers and
    information requests when there are some."""
    row = db.session.connection().execute(
        _thread_statements().page, {"discussion_id": discussion_id}).first()
    if row is None:
        return None
    offers, requests, never_extended = _details(row.id, row)
    return DiscussionPage(
        **{name: getattr(row, name) for name in _PAGE_COLUMNS},
        order=PageOrder(*(getattr(row, f"order_{name}") for name in _PAGE_ORDER_COLUMNS)),
        buyer=PageParty(row.buyer_name), seller=PageParty(row.seller_name),
        assigned_staff=PageParty(row.staff_name) if row.staff_name is not None else None,
        offers=offers, information_requests=requests,
        deadlines_never_extended=never_extended,
        thread_version=(row.entry_count, row.last_entry_id))


def thread(discussion_id: int) -> Discussion | None:
    """A discussion with everything the API shows, in a fixed number of statements: the
    discussion with its order and people, its offers and information requests when there
    are some, then its entries with authors and files."""
    row = db.session.execute(_thread_statements().discussion,
                             {"discussion_id": discussion_id}).unique().first()
    if row is None:
        return None
    discussion = row.Discussion
    offers, requests, discussion.deadlines_never_extended = _details(discussion.id, row)
    set_committed_value(discussion, "offers", offers)
    set_committed_value(discussion, "information_requests", requests)
    # Read and attached by hand: the statement selectinload would send, without its
    # per-query set-up.
    set_committed_value(discussion, "entries", list(db.session.scalars(
        _thread_statements().entries, {"discussion_id": discussion_id}).unique()))
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
    rows = db.session.connection().execute(_thread_statements().entry_rows,
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
