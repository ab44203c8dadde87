"""Read-side queries: the staff queue, the buyer's claims, one claim's page, payouts and the
dashboard. Nothing here changes state.
"""

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import and_, exists, func, select, tuple_
from sqlalchemy.orm import aliased, joinedload, selectinload

from accounts.models import User
from arbiter import metrics
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from arbiter.metrics import TimeBucket, bucket_table, within
from arbiter.pagination import Page, page_of, parse_cursor
from claims.models import Claim, ClaimDocument, DocumentRequest, Payout, PayoutBatch
from claims.states import BUYER_DOCUMENT_KINDS, OPEN_STATES, ClaimState, ClaimType, PayoutState
from orders.models import Order, not_a_party


def claims_queue(viewer, *, claim_type: ClaimType | None = None,
                 state: ClaimState | None = None, cursor: str | None = None,
                 limit: int = 20) -> Page:
    """Claims for staff, the longest-waiting first; by default those awaiting a decision.
    None on ``viewer``'s own purchases or sales: staff do not review their own cases
    (``orders.policy.conflicted``)."""
    statement = (
        select(Claim)
        .where(Claim.state.in_([state] if state else OPEN_STATES),
               not_a_party(viewer.id, Claim))
        .options(joinedload(Claim.order), joinedload(Claim.buyer),
                 joinedload(Claim.assigned_staff))
        .order_by(Claim.submitted_at, Claim.id)
    )
    if claim_type is not None:
        statement = statement.where(Claim.claim_type == claim_type)
    after = parse_cursor(cursor)
    if after:
        statement = statement.where(tuple_(Claim.submitted_at, Claim.id) > after)
    return page_of(statement, "submitted_at", limit)


def second_approval_queue(viewer, *, cursor: str | None = None, limit: int = 20) -> Page:
    """Approvals awaiting a second senior, the longest-waiting first, with their amount,
    buyer and first approver; none on ``viewer``'s own purchases or sales. The viewer's
    own approvals are listed too (marked: someone else must confirm them)."""
    statement = (
        select(Claim)
        .where(Claim.state == ClaimState.AWAITING_SECOND_APPROVAL,
               not_a_party(viewer.id, Claim))
        .options(joinedload(Claim.order), joinedload(Claim.buyer),
                 joinedload(Claim.first_approver))
        .order_by(Claim.first_approved_at, Claim.id)
    )
    after = parse_cursor(cursor)
    if after:
        statement = statement.where(tuple_(Claim.first_approved_at, Claim.id) > after)
    return page_of(statement, "first_approved_at", limit)


# The steps of a claim's approval, as the audit log has them (the approval trail).
APPROVAL_ACTIONS = ("claim.approve", "claim.approve_partially", "claim.approve_pending_second",
                    "claim.confirm_approval", "claim.confirm_partial_approval",
                    "claim.send_back")


@dataclass(frozen=True)
class ApprovalStep:
    action: str
    at: datetime
    actor: str | None
    amount: int | None
    reason: str | None


def approval_trail(claim: Claim) -> list[ApprovalStep]:
    """Who approved, confirmed or sent back the claim's approvals, when, for how much and
    why, oldest first: from the audit log, which keeps every step (a send-back clears the
    claim's own columns)."""
    from accounts.models import User

    rows = db.session.execute(
        select(AuditEntry, User.name).outerjoin(User, User.id == AuditEntry.actor_id)
        .where(AuditEntry.object_type == Claim.__tablename__,
               AuditEntry.object_id == str(claim.id), AuditEntry.action.in_(APPROVAL_ACTIONS))
        .order_by(AuditEntry.id))
    steps = []
    for entry, name in rows:
        before, after = entry.before or {}, entry.after or {}
        steps.append(ApprovalStep(
            action=entry.action, at=entry.at, actor=name,
            amount=after.get("approved_amount") or before.get("approved_amount"),
            reason=after.get("sent_back_reason") if entry.action == "claim.send_back"
            else None))
    return steps


def buyer_claims(buyer, *, cursor: str | None = None, limit: int = 20) -> Page:
    """The buyer's claims, newest first."""
    statement = (
        select(Claim).where(Claim.buyer_id == buyer.id)
        .options(joinedload(Claim.order), joinedload(Claim.payout))
        .order_by(Claim.submitted_at.desc(), Claim.id.desc())
    )
    after = parse_cursor(cursor)
    if after:
        statement = statement.where(tuple_(Claim.submitted_at, Claim.id) < after)
    return page_of(statement, "submitted_at", limit)


def seller_claims(seller, *, cursor: str | None = None, limit: int = 20) -> Page:
    """Claims on the seller's sales, newest first (a list shows nothing of the buyer's
    account or documents; one claim is shown as :class:`SellersView`)."""
    statement = (
        select(Claim).where(Claim.seller_id == seller.id)
        .options(joinedload(Claim.order))
        .order_by(Claim.submitted_at.desc(), Claim.id.desc())
    )
    after = parse_cursor(cursor)
    if after:
        statement = statement.where(tuple_(Claim.submitted_at, Claim.id) < after)
    return page_of(statement, "submitted_at", limit)


class SellersView:
    """A claim as its seller sees it, on the page and in the API alike: everything but the
    buyer's bank account, police report reference and the buyer's documents (police
    acknowledgement, supporting and requested papers) and staff's requests for them."""

    payout_account = None
    police_report_reference = None
    document_requests: list = []
    payout = None

    def __init__(self, claim: Claim):
        self._claim = claim

    def __getattr__(self, name):
        return getattr(self._claim, name)

    @property
    def documents(self) -> list[ClaimDocument]:
        return [d for d in self._claim.documents if d.kind not in BUYER_DOCUMENT_KINDS]

    @property
    def open_document_request(self):
        return None


def seen_by(claim: Claim, user) -> "Claim | SellersView":
    """The claim as ``user`` may see it: the seller gets :class:`SellersView`."""
    return SellersView(claim) if claim.is_seller(user) else claim


def claim_page(claim_id: int) -> Claim | None:
    """A claim with everything its page shows, in a fixed number of queries."""
    return db.session.scalar(
        select(Claim).where(Claim.id == claim_id)
        .options(
            joinedload(Claim.order), joinedload(Claim.buyer),
            joinedload(Claim.assigned_staff), joinedload(Claim.decided_by),
            joinedload(Claim.first_approver), joinedload(Claim.second_approver),
            joinedload(Claim.sent_back_by),
            joinedload(Claim.policy_version), joinedload(Claim.payout),
            selectinload(Claim.documents).joinedload(ClaimDocument.uploaded_by),
            selectinload(Claim.document_requests).joinedload(DocumentRequest.requested_by),
        )
    )


def timeline(claim: Claim) -> list[AuditEntry]:
    """What happened to the claim, oldest first, as the audit log recorded it."""
    return list(db.session.scalars(
        select(AuditEntry).where(AuditEntry.object_type == Claim.__tablename__,
                                 AuditEntry.object_id == str(claim.id))
        .order_by(AuditEntry.id)))


def document_for(claim_id: int, document_id: int) -> ClaimDocument | None:
    return db.session.scalar(
        select(ClaimDocument).where(ClaimDocument.id == document_id,
                                    ClaimDocument.claim_id == claim_id))


def pending_payouts() -> list[Payout]:
    return list(db.session.scalars(
        select(Payout).where(Payout.state == PayoutState.PENDING)
        .options(joinedload(Payout.claim)).order_by(Payout.id)))


def payout_batch(batch_id: int) -> PayoutBatch | None:
    """One batch with its payouts (and who exported and confirmed it)."""
    return db.session.scalar(
        select(PayoutBatch).where(PayoutBatch.id == batch_id)
        .options(joinedload(PayoutBatch.created_by), joinedload(PayoutBatch.marked_paid_by),
                 selectinload(PayoutBatch.payouts).selectinload(Payout.reissue)))


@dataclass(frozen=True)
class HeldPayout:
    payout: Payout
    others: list[User]   # the other buyers paid (or to be paid) to the same account


def held_payouts() -> list[HeldPayout]:
    """Pending payouts not released whose account another buyer shares, with those buyers
    (claims.banking.account_owners: one query for them all)."""
    from claims import banking

    pending = list(db.session.scalars(
        select(Payout).where(Payout.state == PayoutState.PENDING, Payout.released_at.is_(None))
        .options(joinedload(Payout.claim)).order_by(Payout.id)))
    owners = banking.account_owners(p.account for p in pending)
    shared = [(p, sorted(owners.get(p.account, set()) - {p.buyer_id})) for p in pending]
    shared = [(p, ids) for p, ids in shared if ids]
    people = {u.id: u for u in db.session.scalars(
        select(User).where(User.id.in_({i for _, ids in shared for i in ids})))}
    return [HeldPayout(p, [people[i] for i in ids]) for p, ids in shared]


def payouts_awaiting_account() -> list[Payout]:
    """Payouts the bank returned whose buyer has not given a corrected account yet."""
    reissue = aliased(Payout)
    return list(db.session.scalars(
        select(Payout).where(Payout.state == PayoutState.FAILED,
                             ~exists().where(reissue.reissue_of_id == Payout.id))
        .options(joinedload(Payout.claim)).order_by(Payout.failed_at, Payout.id)))


def payout_batches(limit: int = 50) -> list[PayoutBatch]:
    """The latest batches, newest first."""
    return list(db.session.scalars(
        select(PayoutBatch).options(joinedload(PayoutBatch.created_by),
                                    joinedload(PayoutBatch.marked_paid_by))
        .order_by(PayoutBatch.id.desc()).limit(limit)))


# --- the dashboard ------------------------------------------------------------------------


def percent(numerator: int, denominator: int, places: int = 4) -> Decimal | None:
    """Claims paid per order in per cent, 4 decimals by default (see arbiter.metrics)."""
    return metrics.percent(numerator, denominator, places)


def median(durations: list[timedelta]) -> timedelta | None:
    """The middle duration (the mean of the two middle ones for an even count); None for
    none. ``statistics.median`` works on timedeltas: it sorts them and halves a sum."""
    return statistics.median(durations) if durations else None


@dataclass(frozen=True)
class ClaimsDashboard:
    paid_claims: int
    orders: int
    paid_total: int
    decided_claims: int
    median_time_to_decision: timedelta | None

    @property
    def paid_percent(self) -> Decimal | None:
        return percent(self.paid_claims, self.orders)


def dashboard() -> ClaimsDashboard:
    """Claims paid per order (the programme paid for 0.0036 % of transactions), the total
    paid and the median time from submission to decision, in two queries.

    The median is computed here from the decided claims' two timestamps: one code path on
    SQLite and PostgreSQL (whose percentile_cont SQLite lacks).
    """
    paid = Payout.state == PayoutState.PAID
    paid_claims, paid_total, orders = db.session.execute(select(
        func.count(Payout.id).filter(paid),
        func.coalesce(func.sum(Payout.amount).filter(paid), 0),
        select(func.count(Order.id)).scalar_subquery(),
    ).select_from(Payout)).one()
    decided: list[tuple[datetime, datetime]] = db.session.execute(
        select(Claim.submitted_at, Claim.decided_at).where(Claim.decided_at.is_not(None))
    ).all()
    return ClaimsDashboard(
        paid_claims=paid_claims, orders=orders, paid_total=paid_total,
        decided_claims=len(decided),
        median_time_to_decision=median([end - start for start, end in decided]),
    )


# --- the staff dashboard's charts ---------------------------------------------------------
# One statement per metric, whatever the number of claims, orders or buckets.


def claims_by_state(submitted_from: datetime, submitted_before: datetime) -> dict[ClaimState, int]:
    """Claims submitted in ``[submitted_from, submitted_before)``, counted by their state
    now; every state is present (zero when none)."""
    rows = db.session.execute(
        select(Claim.state, func.count(Claim.id))
        .where(Claim.submitted_at >= submitted_from, Claim.submitted_at < submitted_before)
        .group_by(Claim.state))
    counts = dict.fromkeys(ClaimState, 0)
    counts.update({ClaimState(state): count for state, count in rows})
    return counts


@dataclass(frozen=True)
class PaidInBucket:
    payouts: int
    amount: int  # grosze


def paid_per_bucket(buckets: Sequence[TimeBucket]) -> list[PaidInBucket]:
    """Payouts finance confirmed as paid in each bucket (by ``paid_at``): how many, how much.

    Amounts are summed per currency by the caller's assumption that there is one (PLN):
    the platform pays in złoty only.
    """
    table = bucket_table(buckets)
    paid = Payout.state == PayoutState.PAID
    rows = db.session.execute(
        select(table.c.bucket, func.count(Payout.id),
               func.coalesce(func.sum(Payout.amount), 0))
        .select_from(table)
        .outerjoin(Payout, and_(paid, within(table, Payout.paid_at)))
        .group_by(table.c.bucket))
    result = [PaidInBucket(0, 0)] * len(buckets)
    for number, count, amount in rows:
        result[number] = PaidInBucket(count, int(amount))
    return result


@dataclass(frozen=True)
class PaidPerOrders:
    paid_claims: int
    orders: int


def paid_per_orders_per_bucket(buckets: Sequence[TimeBucket]) -> list[PaidPerOrders]:
    """For each bucket: claims paid in it (their payout's ``paid_at``) and orders paid in it
    (``orders.paid_at``), the two sides of "claims paid per orders"."""
    table = bucket_table(buckets)
    orders = (select(func.count(Order.id)).where(within(table, Order.paid_at))
              .correlate(table).scalar_subquery())
    paid = (select(func.count(Payout.id))
            .where(Payout.state == PayoutState.PAID, within(table, Payout.paid_at))
            .correlate(table).scalar_subquery())
    rows = db.session.execute(select(table.c.bucket, paid, orders).order_by(table.c.bucket))
    result = [PaidPerOrders(0, 0)] * len(buckets)
    for number, paid_claims, order_count in rows:
        result[number] = PaidPerOrders(paid_claims, order_count)
    return result


# --- the payouts page's status ------------------------------------------------------------


@dataclass(frozen=True)
class PayoutTally:
    count: int
    amount: int  # grosze


def payout_tallies() -> dict[PayoutState, PayoutTally]:
    """How many payouts are pending, exported (awaiting finance) and paid, and how much."""
    rows = db.session.execute(
        select(Payout.state, func.count(Payout.id), func.coalesce(func.sum(Payout.amount), 0))
        .group_by(Payout.state))
    tallies = dict.fromkeys(PayoutState, PayoutTally(0, 0))
    tallies.update({PayoutState(state): PayoutTally(count, int(amount))
                    for state, count, amount in rows})
    return tallies
