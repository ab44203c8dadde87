"""A request from staff to a party of a case, due by a deadline: what information requests
(discussions) and document requests (claims) share, columns and constraints alike.

One vocabulary for both: ``requested_at`` and ``due_at``, ``answered_at`` once the party
answered, ``closed_at`` once the case moved on without the answer (a verdict, a claim
decision, a withdrawal: nobody waits for it any more, :func:`close_awaited`),
``overdue_notified_at`` once the sweeper found it unanswered past ``due_at`` and told the
case's advisor. A request is *awaited* while it is neither answered nor closed.

The row carries copies of the case's parties, tied to the case by each owner's composite
foreign key, so the database can refuse a requester who is one of
them (``orders.policy.conflicted``).
"""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey
from sqlalchemy.orm import Mapped, mapped_column


class PartyRequest:
    buyer_id: Mapped[int] = mapped_column(comment="= the case's buyer_id")
    seller_id: Mapped[int] = mapped_column(comment="= the case's seller_id")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column(comment="requested_at + its window (+ extensions)")
    answered_at: Mapped[datetime | None] = mapped_column()
    overdue_notified_at: Mapped[datetime | None] = mapped_column(
        comment="when the sweeper found it unanswered past due_at and told the advisor")
    closed_at: Mapped[datetime | None] = mapped_column(
        comment="when the case moved on without the answer; no longer awaited")

    @property
    def is_awaited(self) -> bool:
        """The party still has to answer: neither answered nor closed."""
        return self.answered_at is None and self.closed_at is None

    @staticmethod
    def constraints() -> tuple:
        """The rows' rules, for each owner's ``__table_args__``."""
        return (
            CheckConstraint("due_at > requested_at", name="due_after_request"),
            CheckConstraint("answered_at IS NULL OR answered_at >= requested_at",
                            name="answered_after_request"),
            # Either the party answered or the case moved on without the answer (0029).
            CheckConstraint("answered_at IS NULL OR closed_at IS NULL",
                            name="answered_or_closed"),
            # Nobody asks a party of a case they are a party to themselves (migration 0013).
            CheckConstraint("requested_by_id <> buyer_id AND requested_by_id <> seller_id",
                            name="requester_not_a_party"),
        )

    @classmethod
    def awaited(cls):
        """SQL: :attr:`is_awaited`."""
        return cls.answered_at.is_(None) & cls.closed_at.is_(None)

    @classmethod
    def unnoticed_overdue(cls, now: datetime, *, inclusive: bool):
        """SQL: awaited, past due at ``now`` (at it too when ``inclusive``), and not yet
        reported overdue."""
        past = cls.due_at <= now if inclusive else cls.due_at < now
        return cls.awaited() & cls.overdue_notified_at.is_(None) & past


def close_awaited(requests: Iterable[PartyRequest], now: datetime) -> list[PartyRequest]:
    """The case moved on (a verdict, a claim decision, a withdrawal): the requests still
    awaited are closed, so no page asks the party for an answer nobody will read and no
    deadline of theirs runs on. Returns the requests closed, for the caller to say so."""
    closed = [request for request in requests if request.is_awaited]
    for request in closed:
        request.closed_at = now
    return closed
