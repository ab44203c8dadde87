"""Read-side queries of the ledger for the pages: what a discussion's promises are.

Nothing here changes state. Each function loads what its page shows in a fixed number of
statements, with explicit loader options.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from arbiter.extensions import db
from settlements import policy
from settlements.models import Settlement
from settlements.states import Party


def _seller_to_buyer():
    return (Settlement.payer == Party.SELLER, Settlement.payee == Party.BUYER)


def for_discussion(discussion_id: int) -> list[Settlement]:
    """The promises of the seller to the buyer made in one discussion (accepted offers, a
    verdict's amount), oldest first, with who settled them. Claim payouts and recoveries
    are the claim's and the case file's to show."""
    return list(db.session.scalars(
        select(Settlement)
        .where(Settlement.discussion_id == discussion_id, *_seller_to_buyer())
        .options(joinedload(Settlement.settled_by))
        .order_by(Settlement.id)))


def in_discussion(discussion_id: int, settlement_id: int) -> Settlement | None:
    """One promise of that discussion, or None (the actions answer 404)."""
    return db.session.scalar(
        select(Settlement).where(Settlement.id == settlement_id,
                                 Settlement.discussion_id == discussion_id,
                                 *_seller_to_buyer()))


@dataclass(frozen=True, slots=True)
class FollowThrough:
    """A promise as its page shows it: the row, and what the rules say about it now."""

    row: Settlement
    contest_until: datetime | None  # while the buyer may contest the seller's proof
    may_report_failed: bool         # the buyer may say "it did not arrive" now
    report_from: datetime           # ... otherwise from then on

    @property
    def awaiting_proof(self) -> bool:
        return self.row.is_owed and self.row.proof_at is None


def follow_through(row: Settlement, now: datetime, terms: policy.Terms) -> FollowThrough:
    contest_until = policy.contest_until(row.proof_at, terms) if row.proof_at else None
    may_report = row.is_owed and policy.may_report_failed(
        due_at=row.due_at, ship_by=row.ship_by, proof_at=row.proof_at,
        contested_until=contest_until, now=now)
    report_from = row.ship_by if row.is_goods and row.proof_at is None else row.due_at
    return FollowThrough(row, contest_until, may_report, report_from)
