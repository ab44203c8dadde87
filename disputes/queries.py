"""Read-side queries: lists, queues and the dashboard rates. Nothing here changes state.

Lists use keyset (cursor) pagination so a page deep in a long queue costs the same as the
first, and load what the page shows in a constant number of statements.
"""

from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from sqlalchemy import and_, bindparam, exists, func, or_, select, tuple_
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from arbiter import clock
from arbiter.extensions import db
from arbiter.pagination import Page, page_of, parse_cursor
from disputes.models import Attachment, Discussion, Entry, InformationRequest, Offer
from disputes.states import OPEN_STATES, TERMINAL_STATES, DiscussionState, Reason


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


def waiting_information(discussion_ids: list[int]) -> set[int]:
    """Which of these discussions have an unanswered information request."""
    if not discussion_ids:
        return set()
    return set(db.session.scalars(
        select(InformationRequest.discussion_id).where(
            InformationRequest.discussion_id.in_(discussion_ids),
            InformationRequest.answered_at.is_(None))
    ))


def seller_inbox(seller, *, cursor: str | None = None, limit: int = 20) -> Page:
    """The seller's open discussions, the nearest answer deadline first."""
    statement = (
        select(Discussion)
        .where(Discussion.seller_id == seller.id, Discussion.state.in_(OPEN_STATES))
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


@cache
def _thread_statement():
    """Built once: SQLAlchemy reuses its compiled form and cache key on every request."""
    from incidents.queries import deadline_extended
    from incidents.states import DeadlineKind

    has_offers = exists().where(Offer.discussion_id == Discussion.id)
    has_requests = exists().where(InformationRequest.discussion_id == Discussion.id)
    extended = deadline_extended(
        (DeadlineKind.DISCUSSION_RESPOND_BY, DeadlineKind.DISCUSSION_ESCALATION), Discussion.id)
    discussion = (
        select(Discussion, has_offers, has_requests, extended)
        .where(Discussion.id == bindparam("discussion_id"))
        .options(joinedload(Discussion.order), joinedload(Discussion.buyer),
                 joinedload(Discussion.seller), joinedload(Discussion.assigned_staff)))
    entries = (
        select(Entry).where(Entry.discussion_id == bindparam("discussion_id"))
        .options(joinedload(Entry.author), joinedload(Entry.attachments))
        .order_by(Entry.id))
    return discussion, entries


def thread(discussion_id: int) -> Discussion | None:
    """A discussion with everything its page shows, in a fixed number of statements.

    One statement reads the discussion with its order and people, and whether it has
    offers, information requests or incident-extended deadlines; a second reads the
    entries with their authors and files. Offers and information requests are read (one
    statement each) only when there are some: most discussions have none, and each
    statement is a round trip to the database.
    """
    discussion_statement, entries_statement = _thread_statement()
    parameters = {"discussion_id": discussion_id}
    row = db.session.execute(discussion_statement, parameters).unique().first()
    if row is None:
        return None
    discussion, any_offers, any_requests, extended = row
    # Read and attached by hand: the same statement selectinload would send, without its
    # per-query set-up (a third of the page's time in the ORM).
    set_committed_value(discussion, "entries", list(
        db.session.scalars(entries_statement, parameters).unique()))
    for name, model, present in (("offers", Offer, any_offers),
                                 ("information_requests", InformationRequest, any_requests)):
        items = list(db.session.scalars(
            select(model).where(model.discussion_id == discussion.id).order_by(model.id)
        )) if present else []
        set_committed_value(discussion, name, items)
    # Nothing of this discussion was extended by an incident: its page need not look.
    discussion.deadlines_never_extended = not extended and not any_requests
    return discussion


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


def ended_without_intervention() -> Rate:
    """Share of ended discussions that were resolved or closed without escalation."""
    ended = Discussion.state.in_(TERMINAL_STATES)
    row = db.session.execute(select(
        func.count().filter(and_(ended, Discussion.escalated_at.is_(None))),
        func.count().filter(ended),
    ).select_from(Discussion)).one()
    return Rate(row[0], row[1])


def seller_on_time_rate(seller_id: int | None = None) -> Rate:
    """Answers within 24 h out of all discussions whose answer is in or overdue."""
    now = clock.now()
    due = or_(Discussion.seller_first_response_at.is_not(None), Discussion.respond_by < now)
    statement = select(
        func.count().filter(Discussion.seller_answered_on_time.is_(True)),
        func.count().filter(due),
    ).select_from(Discussion)
    if seller_id is not None:
        statement = statement.where(Discussion.seller_id == seller_id)
    row = db.session.execute(statement).one()
    return Rate(row[0], row[1])
