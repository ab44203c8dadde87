"""The case file: one order's discussions, offers, verdicts, claims, appeals, settlement
rows and payouts in time order, with what is still owed, by whom and by when. Nothing here changes
state.

:func:`case_file` is the one read of a case: the page (settlements.views), the staff
summary beside escalations and claims, and the API (settlements.api) all use it. It reads
the order with its case in one statement and explicit loader options (the collections are
``raise_on_sql`` otherwise), then builds the viewer's view of it:

- the buyer, the seller and staff see every event of the case;
- only the buyer and staff see the buyer's payout account (IBAN) and police report
  reference; the seller and the marketplace never do (DESIGN.md, "Cases and
  settlements");
- anyone else gets ``None`` (the callers answer 404).
"""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import joinedload, selectinload

from accounts.models import User
from appeals.models import Appeal
from appeals.states import TERMINAL_STATES as APPEAL_DECIDED_STATES
from arbiter.extensions import db
from claims.models import Claim
from disputes.models import Discussion
from orders.models import Order
from settlements import policy
from settlements.models import Settlement
from settlements.states import Party, SettlementKind, SettlementState


class Viewer(StrEnum):
    """Whose view of the case is read."""

    BUYER = "buyer"
    SELLER = "seller"
    STAFF = "staff"
    MARKETPLACE = "marketplace"  # the integration token: no personal data of the buyer's


# What only the buyer and staff may see of a claim (and of its payout).
PRIVATE_TO_BUYER = ("payout_account", "police_report_reference")


def viewer_of(order: Order, user) -> Viewer | None:
    """The person's role in the case, or None when it is none of their business. A party
    sees their own view even if they are staff too."""
    if user == Viewer.MARKETPLACE:
        return Viewer.MARKETPLACE
    if not getattr(user, "is_authenticated", False):
        return None
    if user.id == order.buyer_id:
        return Viewer.BUYER
    if user.id == order.seller_id:
        return Viewer.SELLER
    if user.is_staff:
        return Viewer.STAFF
    return None


@dataclass(frozen=True)
class CaseEvent:
    """One thing that happened in the case. ``details`` holds only what this viewer may
    see (plain strings, numbers and times)."""

    at: datetime
    type: str                     # "discussion.opened", "settlement.confirmed", ...
    object_type: str              # discussion, offer, claim, settlement, payout
    object_id: int
    state: str | None = None
    amount: int | None = None     # grosze
    discussion_id: int | None = None
    claim_id: int | None = None
    settlement_id: int | None = None
    details: dict = field(default_factory=dict)
    appeal_id: int | None = None

    @property
    def anchor(self) -> str:
        return f"{self.object_type}-{self.object_id}"


@dataclass(frozen=True)
class CaseFile:
    order: Order
    viewer: Viewer
    events: list[CaseEvent]
    settlements: list[Settlement]
    discussion_ids: list[int]
    claim_ids: list[int]
    # claim id -> whether the viewer may open the claim's own page (Claim.can_view)
    claim_pages: dict[int, bool] = field(default_factory=dict)
    appeal_ids: list[int] = field(default_factory=list)
    # appeal id -> whether the viewer may open the appeal's own page (Appeal.can_view)
    appeal_pages: dict[int, bool] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        return self.order.currency

    @property
    def total(self) -> int:
        return self.order.total

    @property
    def committed(self) -> int:
        return self.order.compensation_committed

    @property
    def remaining(self) -> int:
        return max(self.order.compensation_remaining, 0)

    @property
    def owed(self) -> list[Settlement]:
        """What is still owed, soonest due first: who owes whom, how much, by when."""
        return sorted((row for row in self.settlements if row.state is SettlementState.OWED),
                      key=lambda row: (row.due_at, row.id))

    @property
    def settlements_by_id(self) -> dict[int, Settlement]:
        return {row.id: row for row in self.settlements}

    @property
    def sees_private(self) -> bool:
        return self.viewer in (Viewer.BUYER, Viewer.STAFF)


def _case_statement(order_id: int):
    return (
        select(Order).where(Order.id == order_id)
        .options(
            joinedload(Order.buyer), joinedload(Order.seller),
            selectinload(Order.discussions).selectinload(Discussion.offers),
            selectinload(Order.claims).joinedload(Claim.payout),
            selectinload(Order.claims).selectinload(Claim.payouts),
            selectinload(Order.settlements),
        )
    )


def case_file(order: Order | int, viewer) -> CaseFile | None:
    """The case of ``order`` as ``viewer`` (a user, or ``Viewer.MARKETPLACE``) may see it;
    None when they may not (404)."""
    order_id = order if isinstance(order, int) else order.id
    row = db.session.scalar(_case_statement(order_id))
    if row is None:
        return None
    role = viewer_of(row, viewer)
    if role is None:
        return None
    private = role in (Viewer.BUYER, Viewer.STAFF)
    events: list[CaseEvent] = []
    for discussion in row.discussions:
        events += _discussion_events(discussion)
    for claim in row.claims:
        events += _claim_events(claim, private)
    appeals = _appeals_of(order_id)
    for appeal in appeals:
        events += _appeal_events(appeal)
    for settlement in row.settlements:
        events += _settlement_events(settlement)
    order_of_types = {name: number for number, name in enumerate(_TYPE_ORDER)}
    events.sort(key=lambda e: (e.at, order_of_types.get(e.type, len(_TYPE_ORDER)),
                               e.object_id))
    return CaseFile(order=row, viewer=role, events=events, settlements=list(row.settlements),
                    discussion_ids=[d.id for d in row.discussions],
                    claim_ids=[c.id for c in row.claims],
                    claim_pages={c.id: role is not Viewer.MARKETPLACE and c.can_view(viewer)
                                 for c in row.claims},
                    appeal_ids=[a.id for a in appeals],
                    appeal_pages={a.id: role is not Viewer.MARKETPLACE and a.can_view(viewer)
                                  for a in appeals})


# Within the same instant, the cause comes before its effect (an offer accepted before the
# settlement row it records, a claim decided before its payout).
_TYPE_ORDER = (
    "discussion.opened", "offer.made", "offer.declined", "offer.accepted",
    "discussion.escalated", "discussion.decided", "claim.filed", "claim.withdrawn",
    "claim.decided", "appeal.filed", "appeal.answered", "appeal.decided",
    "discussion.settled_by_platform", "settlement.recorded",
    "payout.created", "settlement.proof_submitted", "settlement.confirmed",
    "settlement.failed", "settlement.cancelled", "payout.paid", "claim.paid",
    "payout.failed", "discussion.resolved", "discussion.closed",
)


def _discussion_events(d: Discussion) -> list[CaseEvent]:
    common = {"object_type": "discussion", "object_id": d.id, "discussion_id": d.id}
    events = [CaseEvent(d.opened_at, "discussion.opened", state=d.state.value,
                        details={"reason": d.reason.value,
                                 "expected_outcome": d.expected_outcome.value}, **common)]
    for offer in d.offers:
        offer_common = {"object_type": "offer", "object_id": offer.id, "discussion_id": d.id,
                        "amount": offer.amount, "details": {"kind": offer.kind.value}}
        events.append(CaseEvent(offer.created_at, "offer.made", state=offer.state.value,
                                **offer_common))
        if offer.answered_at is not None and offer.state.value in ("accepted", "declined"):
            events.append(CaseEvent(offer.answered_at, f"offer.{offer.state.value}",
                                    state=offer.state.value, **offer_common))
    if d.escalated_at is not None:
        events.append(CaseEvent(d.escalated_at, "discussion.escalated", **common))
    if d.decided_at is not None:
        events.append(CaseEvent(d.decided_at, "discussion.decided", amount=d.refund_amount,
                                details={"verdict": d.verdict.value if d.verdict else None},
                                **common))
    if d.resolved_at is not None:
        events.append(CaseEvent(d.resolved_at, "discussion.resolved", **common))
    if d.closed_at is not None:
        ending = ("discussion.settled_by_platform" if d.state.value == "settled_by_platform"
                  else "discussion.closed")
        events.append(CaseEvent(d.closed_at, ending, **common))
    return events


def _claim_events(c: Claim, private: bool) -> list[CaseEvent]:
    common = {"object_type": "claim", "object_id": c.id, "claim_id": c.id,
              "discussion_id": c.discussion_id}
    filed = {"claim_type": c.claim_type.value}
    if private:
        filed["police_report_reference"] = c.police_report_reference
        filed["payout_account"] = c.payout_account or None
    events = [CaseEvent(c.submitted_at, "claim.filed", state=c.state.value,
                        amount=c.claimed_amount, details=filed,
                        **common)]
    if c.withdrawn_at is not None:
        events.append(CaseEvent(c.withdrawn_at, "claim.withdrawn", **common))
    if c.decided_at is not None:
        if c.rejection_reason is not None or not c.approved_amount:
            decision = "rejected"
        elif c.approved_amount < c.max_total:
            decision = "partially_approved"
        else:
            decision = "approved"
        events.append(CaseEvent(c.decided_at, "claim.decided", amount=c.approved_amount,
                                details={"decision": decision, "rejection_reason": (
                                    c.rejection_reason.value if c.rejection_reason else None)},
                                **common))
    # The claim's payout, and its re-issues when the bank returned a transfer (an appeal's
    # top-up is the appeal's event).
    for payout in (p for p in c.payouts if p.appeal_id is None):
        payout_common = {"object_type": "payout", "object_id": payout.id, "claim_id": c.id,
                         "amount": payout.amount}
        details = {"account": payout.account or None} if private else {}
        events.append(CaseEvent(payout.created_at, "payout.created", state=payout.state.value,
                                details=details, **payout_common))
        if payout.paid_at is not None:
            events.append(CaseEvent(payout.paid_at, "payout.paid", state=payout.state.value,
                                    **payout_common))
        if payout.failed_at is not None:
            events.append(CaseEvent(payout.failed_at, "payout.failed", state=payout.state.value,
                                    **payout_common))
    if c.paid_at is not None:
        events.append(CaseEvent(c.paid_at, "claim.paid", amount=c.approved_amount, **common))
    return events


def _appeals_of(order_id: int) -> list[Appeal]:
    return list(db.session.scalars(
        select(Appeal).where(Appeal.order_id == order_id).order_by(Appeal.id)))


def _decision_number(object_type: str, object_id: int) -> str | None:
    from arbiter.documents import documents_for

    found = documents_for(object_type, object_id)
    return found[0].number if found else None


def _appeal_events(a: Appeal) -> list[CaseEvent]:
    """Filed, answered and decided (with its outcome and document). The statements are on
    the appeal's own page, for its parties and staff; the case file names what happened."""
    common = {"object_type": "appeal", "object_id": a.id, "appeal_id": a.id,
              "discussion_id": a.discussion_id, "claim_id": a.claim_id}
    events = [CaseEvent(a.filed_at, "appeal.filed", state=a.state.value,
                        amount=a.original_amount,
                        details={"subject": a.subject.value, "appellant": a.appellant.value},
                        **common)]
    if a.respondent_answered_at is not None:
        events.append(CaseEvent(a.respondent_answered_at, "appeal.answered",
                                details={"appellant": a.appellant.value}, **common))
    if a.decided_at is not None and a.state in APPEAL_DECIDED_STATES:
        events.append(CaseEvent(a.decided_at, "appeal.decided", state=a.state.value,
                                amount=a.new_amount,
                                details={"outcome": a.state.value,
                                         "decision_number": _decision_number("appeals", a.id)},
                                **common))
    return events


def _settlement_events(s: Settlement) -> list[CaseEvent]:
    common = {"object_type": "settlement", "object_id": s.id, "settlement_id": s.id,
              "discussion_id": s.discussion_id, "claim_id": s.claim_id, "amount": s.amount,
              "appeal_id": s.appeal_id}
    what = {"kind": s.kind.value, "payer": s.payer.value, "payee": s.payee.value}
    events = [CaseEvent(s.created_at, "settlement.recorded", state=s.state.value,
                        details=what, **common)]
    if s.proof_at is not None:
        events.append(CaseEvent(s.proof_at, "settlement.proof_submitted", state=s.state.value,
                                details={**what, "proof_reference": s.proof_reference},
                                **common))
    if s.settled_at is not None:
        events.append(CaseEvent(s.settled_at, f"settlement.{s.state.value}",
                                state=s.state.value,
                                details={**what, "settled_via": s.settled_via.value
                                         if s.settled_via else None, "note": s.note},
                                **common))
    return events


# --- the recoveries the marketplace settles with the sellers ---------------------------------


def recoveries(state: SettlementState | None = None) -> list[Settlement]:
    """Every recovery row (seller -> platform), oldest first, with its order and seller."""
    statement = (select(Settlement)
                 .where(Settlement.kind == SettlementKind.RECOVERY,
                        Settlement.payer == Party.SELLER)
                 .options(joinedload(Settlement.order).joinedload(Order.seller))
                 .order_by(Settlement.id))
    if state is not None:
        statement = statement.where(Settlement.state == state)
    return list(db.session.scalars(statement))


@dataclass
class SellerRecoveries:
    """What one seller owes the platform: their recovery rows and the sums by state."""

    seller: User
    rows: list[Settlement] = field(default_factory=list)

    def _sum(self, state: SettlementState) -> int:
        return sum(row.amount for row in self.rows if row.state is state)

    @property
    def owed(self) -> int:
        return self._sum(SettlementState.OWED)

    @property
    def recovered(self) -> int:
        return self._sum(SettlementState.CONFIRMED)

    @property
    def written_off(self) -> int:
        return self._sum(SettlementState.FAILED)


def recoveries_by_seller() -> list[SellerRecoveries]:
    """Every recovery grouped by seller (one query), the sellers owing most first, then by
    name; each with its totals owed, recovered and written off."""
    groups: dict[int, SellerRecoveries] = {}
    for row in recoveries():
        group = groups.setdefault(row.seller_id, SellerRecoveries(row.order.seller))
        group.rows.append(row)
    return sorted(groups.values(), key=lambda g: (-g.owed, g.seller.name, g.seller.id))


def settlement(settlement_id: int) -> Settlement | None:
    return db.session.get(Settlement, settlement_id)


# --- the promises of one discussion, for its thread page -----------------------------------


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
