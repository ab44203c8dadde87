"""A request from staff to a party of a case, due by a deadline: what information requests
(discussions) and document requests (claims) share, columns and constraints alike.

One vocabulary for both: ``requested_at`` and ``due_at``, ``answered_at`` once the party
answered, ``overdue_notified_at`` once the sweeper found it unanswered past ``due_at`` and
told the case's advisor. The row carries copies of the case's parties, tied to the case by
each owner's composite foreign key, so the database can refuse a requester who is one of
them (``orders.policy.conflicted``).
"""

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

    @staticmethod
    def constraints() -> tuple:
        """The rows' rules, for each owner's ``__table_args__``."""
        return (
            CheckConstraint("due_at > requested_at", name="due_after_request"),
            CheckConstraint("answered_at IS NULL OR answered_at >= requested_at",
                            name="answered_after_request"),
            # Nobody asks a party of a case they are a party to themselves (migration 0013).
            CheckConstraint("requested_by_id <> buyer_id AND requested_by_id <> seller_id",
                            name="requester_not_a_party"),
        )

    @classmethod
    def unnoticed_overdue(cls, now: datetime, *, inclusive: bool):
        """SQL: unanswered, past due at ``now`` (at it too when ``inclusive``), and not yet
        reported overdue."""
        past = cls.due_at <= now if inclusive else cls.due_at < now
        return cls.answered_at.is_(None) & cls.overdue_notified_at.is_(None) & past
