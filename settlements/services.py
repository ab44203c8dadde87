"""Every change to the settlement ledger, one function per transition.

The ledger's invariant lives in the database: ``orders.compensation_committed`` is the sum
of the order's rows paid to the buyer that are owed or confirmed, changed only here, under
the order's row lock, in the same transaction as the row, and a CHECK keeps it within the
order total. A promise that would exceed it is refused with ``already_compensated`` (409).

Locks are taken in one order everywhere: a claim or an appeal, then a settlement row,
then a discussion, then the order, and all of them before the first audit entry (which
holds the audit log's writer lock until the commit). Two requests about the same case
wait for each other instead of deadlocking (the sweeper locks settlement rows first too).

What a settled row means for its discussion (resolved, or reopened) is decided by the
package that owns the discussion: it registers a follow-up per source with
:func:`on_settled`.
"""

from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import and_, select

from accounts.models import User
from arbiter import audit, clock
from arbiter.db import add_unless_taken, locked
from arbiter.errors import NotFound, TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.money import format_money
from arbiter.notifications import notify
from disputes.models import Discussion
from orders.models import Order
from settlements import notifications as _notification_texts  # noqa: F401 - registers texts
from settlements import policy
from settlements.models import Settlement
from settlements.states import (
    MACHINE,
    PARTIES,
    SOURCES,
    Party,
    SettledVia,
    SettlementKind,
    SettlementState,
    Source,
)

AUDITED = ("state", "settled_via", "settled_by_id", "proof_reference", "note")
PROOF_MAX = 200
NOTE_MAX = 2_000

# source -> what the settled row means for the case (registered by disputes and claims)
_FOLLOW_UPS: dict[Source, Callable[[Settlement, User | None], None]] = {}


def on_settled(source: Source, follow_up: Callable[[Settlement, User | None], None]) -> None:
    _FOLLOW_UPS[source] = follow_up


class AlreadyCompensated(TransitionNotAllowed):
    """What the order may still pay the buyer is less than this outcome (409)."""

    code = "already_compensated"

    def __init__(self, order: Order, amount: int):
        remaining = order.compensation_remaining
        locale = current_locale()
        if remaining <= 0:
            message = _("This order is already fully compensated (%(total)s): nothing more "
                        "can be promised or paid to the buyer.",
                        total=format_money(order.total, order.currency, locale))
        else:
            message = _("Only %(remaining)s of this order's total can still be promised or "
                        "paid to the buyer; %(amount)s is more.",
                        remaining=format_money(remaining, order.currency, locale),
                        amount=format_money(amount, order.currency, locale))
        super().__init__(message, fields={"remaining": [str(remaining)]})


def current_locale() -> str:
    from flask_babel import get_locale

    return str(get_locale() or "pl")


def terms() -> policy.Terms:
    return policy.Terms.from_config(current_app.config)


# --- the ledger -------------------------------------------------------------------------


def _commit(order_id: int, amount: int) -> Order:
    """Count ``amount`` against the order's total, under the order's row lock."""
    order = locked(Order, order_id)
    if amount > order.compensation_remaining:
        raise AlreadyCompensated(order, amount)
    order.compensation_committed += amount
    return order


def _release(order_id: int, amount: int) -> None:
    order = locked(Order, order_id)
    order.compensation_committed -= amount


def record(order: Order, kind: SettlementKind, *, actor: User | None, amount: int | None = None,
           start: datetime | None = None, discussion_id: int | None = None,
           offer_id: int | None = None, claim_id: int | None = None,
           appeal_id: int | None = None, reissue_of_id: int | None = None) -> Settlement:
    """Write one outcome into the ledger, owed from ``start`` (default now).

    Money paid to the buyer is committed against the order total first (409 when it no
    longer fits); a second row for the same offer, verdict or claim is refused by a unique
    index (409), so a retried acceptance or approval never records anything twice.
    """
    kind = SettlementKind(kind)
    payer, payee = PARTIES[kind]
    source = Source.APPEAL if appeal_id is not None else SOURCES[kind][0]
    now = clock.now()
    dates = policy.due_dates(kind, start or now, terms())
    if payee is Party.BUYER and amount is not None:
        _commit(order.id, amount)
    row = Settlement(order_id=order.id, buyer_id=order.buyer_id, seller_id=order.seller_id,
                     kind=kind, payer=payer, payee=payee, amount=amount,
                     currency=order.currency, source=source, discussion_id=discussion_id,
                     offer_id=offer_id, claim_id=claim_id, appeal_id=appeal_id,
                     reissue_of_id=reissue_of_id, state=SettlementState.OWED,
                     created_at=now, due_at=dates.due_at, ship_by=dates.ship_by)
    add_unless_taken(row, lambda: TransitionNotAllowed(
        _("This outcome is already in the ledger."), code="already_recorded"))
    audit.record("settlement.recorded", row, actor=actor, after={
        "order_id": order.id, "kind": kind.value, "payer": payer.value, "payee": payee.value,
        "amount": amount, "source": source.value, "due_at": row.due_at, "state": row.state.value,
        "discussion_id": discussion_id, "offer_id": offer_id, "claim_id": claim_id,
        "appeal_id": appeal_id, "reissue_of_id": reissue_of_id})
    return row


def recover(payout: Settlement, actor: User | None, amount: int) -> Settlement | None:
    """A confirmed payout (a claim's, or an appeal's top-up) is recovered from the seller:
    the row the marketplace settles with them, and the seller is told what they owe."""
    if amount <= 0:
        return None
    row = record(payout.order, SettlementKind.RECOVERY, actor=actor, amount=amount,
                 discussion_id=payout.discussion_id, claim_id=payout.claim_id,
                 appeal_id=payout.appeal_id)
    notify(_seller(row), "settlement.recovery_owed", row,
           amount=format_money(amount, row.currency, _seller(row).locale or "pl"),
           due_at=row.due_at.isoformat())
    return row


def owed_to_buyer(order_id: int) -> list[Settlement]:
    """The order's promises to the buyer that are neither kept nor broken yet."""
    return list(db.session.scalars(
        select(Settlement).where(Settlement.order_id == order_id,
                                 Settlement.payee == Party.BUYER,
                                 Settlement.payer == Party.SELLER,
                                 Settlement.state == SettlementState.OWED)
        .order_by(Settlement.due_at)))


def for_order(order_id: int) -> list[Settlement]:
    return list(db.session.scalars(
        select(Settlement).where(Settlement.order_id == order_id).order_by(Settlement.id)))


# --- transitions ----------------------------------------------------------------------------


def _lock(settlement_id: int) -> Settlement:
    return locked(Settlement, settlement_id)


def _settle(row: Settlement, action: str, via: SettledVia, actor: User | None,
            note: str | None = None) -> None:
    """Move an owed row to its end (the table says which), release what a failed or
    cancelled promise to the buyer held of the order total, and follow up on the case.

    Every row this will change is locked before the first audit entry is written: an
    audit entry takes the log's one writer lock (arbiter.audit) until the commit, so a
    row lock wanted after it would wait while holding that lock, and a request holding
    the row and wanting to write its own entry would wait for us: a deadlock. The case
    first (the discussion an accepted offer follows up on), then the order.
    """
    ends = MACHINE.transition(action).target
    releases = (ends in (SettlementState.FAILED, SettlementState.CANCELLED)
                and row.payee is Party.BUYER and row.amount is not None)
    if row.source is Source.OFFER and row.discussion_id is not None:
        locked(Discussion, row.discussion_id)
    if releases:
        locked(Order, row.order_id)
    MACHINE.change(row, action, actor=actor, audited=AUDITED, settled_at=clock.now(),
                   settled_via=via, settled_by_id=actor.id if actor else None,
                   note=(note or "").strip()[:NOTE_MAX] or None)
    follow_up = _FOLLOW_UPS.get(row.source)
    # A re-issued payout (the bank returned the first transfer) is the same outcome paid
    # again: what its confirmation means for the case (the recovery) happened already.
    if follow_up is not None and row.reissue_of_id is None:
        follow_up(row, actor)
    if releases:
        _release(row.order_id, row.amount)


def _require_buyer(row: Settlement, user: User) -> None:
    if row.buyer_id != user.id or row.payee is not Party.BUYER or row.payer is not Party.SELLER:
        raise NotFound(_("There is nothing here."))


def _require_seller(row: Settlement, user: User) -> None:
    if row.seller_id != user.id or row.payer is not Party.SELLER or row.payee is not Party.BUYER:
        raise NotFound(_("There is nothing here."))


def confirm(settlement_id: int, buyer: User) -> Settlement:
    """The buyer says the money or the goods arrived."""
    row = _lock(settlement_id)
    _require_buyer(row, buyer)
    _settle(row, "confirm", SettledVia.BUYER, buyer)
    notify(_seller(row), "settlement.confirmed", row, settlement_kind=row.kind.value)
    return row


def report_failed(settlement_id: int, buyer: User, note: str = "") -> Settlement:
    """The buyer says it did not arrive: after the due date, when goods were not shipped
    in time, or while the seller's proof may be contested. The promise no longer counts
    against the order total, and the discussion reopens."""
    row = _lock(settlement_id)
    _require_buyer(row, buyer)
    MACHINE.require(row.state, "report_failed")
    now = clock.now()
    contest_until = policy.contest_until(row.proof_at, terms()) if row.proof_at else None
    if not policy.may_report_failed(due_at=row.due_at, ship_by=row.ship_by,
                                    proof_at=row.proof_at, contested_until=contest_until,
                                    now=now):
        when = row.ship_by if row.is_goods and row.proof_at is None else row.due_at
        raise TransitionNotAllowed(
            _("The seller has until %(when)s. If it has not arrived by then, you can report "
              "it here and your buyer protection continues.",
              when=format_datetime(when, "short")),
            code="settlement_not_due_yet", fields={"due_at": [when.isoformat()]})
    _settle(row, "report_failed", SettledVia.BUYER, buyer, note)
    notify(_seller(row), "settlement.failed", row, settlement_kind=row.kind.value)
    return row


def submit_proof(settlement_id: int, seller: User, reference: str) -> Settlement:
    """The seller marks it done with proof (a transfer confirmation or a tracking number);
    the buyer may contest it for 7 days, after which it counts as confirmed."""
    row = _lock(settlement_id)
    _require_seller(row, seller)
    reference = (reference or "").strip()
    if not 1 <= len(reference) <= PROOF_MAX:
        raise ValidationFailed(
            _("Give the transfer confirmation or the tracking number (at most %(max)d "
              "characters).", max=PROOF_MAX),
            code="proof_required", fields={"proof_reference": ["required"]})
    if row.proof_at is not None:
        raise TransitionNotAllowed(_("The proof was already given."), code="proof_given")
    MACHINE.change(row, "submit_proof", actor=seller, audited=AUDITED,
                   proof_reference=reference, proof_at=clock.now())
    notify(_buyer(row), "settlement.proof_submitted", row, settlement_kind=row.kind.value,
           contest_until=policy.contest_until(row.proof_at, terms()).isoformat())
    return row


def marketplace_settles(settlement_id: int, *, confirmed: bool, note: str = "",
                        integration: str | None = None) -> Settlement:
    """The marketplace, which moves the sellers' money, says the row was paid or failed.
    Only the integration that pushed the order (any, for an order staff imported) may."""
    row = _lock(settlement_id)
    if integration is not None and row.order.integration not in (None, integration):
        raise NotFound(_("There is nothing here."))
    if row.payer is not Party.SELLER:
        raise TransitionNotAllowed(
            _("Payouts of the platform are confirmed by its finance team."),
            code="not_a_seller_obligation")
    if confirmed:
        _settle(row, "marketplace_confirms", SettledVia.MARKETPLACE, None, note)
    else:
        _settle(row, "marketplace_fails", SettledVia.MARKETPLACE, None, note)
    for person in (_buyer(row), _seller(row)):
        notify(person, "settlement.confirmed" if confirmed else "settlement.failed", row,
               settlement_kind=row.kind.value)
    return row


def _payout_row(claim_id: int, appeal_id: int | None, state: SettlementState) -> Settlement:
    owner = (Settlement.appeal_id == appeal_id if appeal_id is not None
             else and_(Settlement.claim_id == claim_id, Settlement.appeal_id.is_(None)))
    row = db.session.scalar(select(Settlement).where(
        owner, Settlement.kind == SettlementKind.PAYOUT, Settlement.state == state)
        .order_by(Settlement.id.desc()).limit(1))
    if row is None:
        raise NotFound(_("There is nothing here."))
    return _lock(row.id)


def confirm_payout(claim_id: int, staff: User, appeal_id: int | None = None) -> Settlement:
    """Finance confirmed the transfer of a claim's payout, or of the top-up an appeal on the
    claim decided (inside a payout batch): its owed row (a re-issue's, after a return)."""
    row = _payout_row(claim_id, appeal_id, SettlementState.OWED)
    _settle(row, "finance_confirms", SettledVia.FINANCE, staff)
    return row


def payout_returned(claim_id: int, staff: User, *, appeal_id: int | None = None,
                    note: str) -> Settlement:
    """The bank returned a confirmed payout (finance says so, with the reason): its row
    fails and a new owed row, its re-issue, pays the same amount again. Both under the
    order's lock, in one transaction: the failed row releases what it held of the order
    total and the new one takes it back, so the order counts the payout once. Returns the
    new row."""
    row = _payout_row(claim_id, appeal_id, SettlementState.CONFIRMED)
    locked(Order, row.order_id)  # before the first audit entry
    _settle(row, "bank_returned", SettledVia.FINANCE, staff, note)
    return record(row.order, SettlementKind.PAYOUT, actor=staff, amount=row.amount,
                  discussion_id=row.discussion_id, claim_id=row.claim_id,
                  appeal_id=row.appeal_id, reissue_of_id=row.id)


# --- recoveries: what sellers owe the platform, settled by finance or the marketplace -------


def _recovery_for_finance(settlement_id: int, staff: User) -> Settlement:
    from accounts.roles import Role as StaffRole
    from orders.services import require_impartial

    if not staff.has_role(StaffRole.FINANCE):
        raise NotFound(_("There is nothing here."))
    row = _lock(settlement_id)
    if row.kind is not SettlementKind.RECOVERY:
        raise NotFound(_("There is nothing here."))
    require_impartial(staff, row)
    return row


def mark_recovered(settlement_id: int, staff: User, note: str = "") -> Settlement:
    """Finance saw the seller's money arrive: the recovery is confirmed."""
    row = _recovery_for_finance(settlement_id, staff)
    _settle(row, "finance_confirms", SettledVia.FINANCE, staff, note)
    notify(_seller(row), "settlement.recovered", row)
    return row


def write_off(settlement_id: int, staff: User, reason: str) -> Settlement:
    """Finance gives a recovery up (the seller cannot be made to pay), with the reason: the
    row fails; nothing about the buyer's compensation changes."""
    row = _recovery_for_finance(settlement_id, staff)
    MACHINE.require(row.state, "write_off")
    reason = (reason or "").strip()
    if not 10 <= len(reason) <= NOTE_MAX:
        raise ValidationFailed(
            _("Write why the recovery is written off (%(min)d to %(max)d characters).",
              min=10, max=NOTE_MAX),
            code="reason_required", fields={"reason": ["length"]})
    _settle(row, "write_off", SettledVia.FINANCE, staff, reason)
    return row


def cancel(row: Settlement, actor: User | None, note: str) -> None:
    """The platform took an obligation over (a claim was approved instead)."""
    row = _lock(row.id)
    _settle(row, "cancel", SettledVia.PLATFORM, actor, note)


def _buyer(row: Settlement) -> User:
    return db.session.get(User, row.buyer_id)


def _seller(row: Settlement) -> User:
    return db.session.get(User, row.seller_id)


# --- the sweeper's jobs -----------------------------------------------------------------------


def _seller_owes():
    return and_(Settlement.state == SettlementState.OWED, Settlement.payer == Party.SELLER,
                Settlement.payee == Party.BUYER)


def overdue_unasked(now: datetime):
    """Promises past their due date whose buyer was not asked yet."""
    return (select(Settlement)
            .where(_seller_owes(), Settlement.due_at < now,
                   Settlement.overdue_notified_at.is_(None))
            .order_by(Settlement.due_at, Settlement.id))


def ask_buyer(row: Settlement, now: datetime) -> None:
    row.overdue_notified_at = now
    audit.record("settlement.buyer_asked", row, after={"due_at": row.due_at})
    notify(_buyer(row), "settlement.overdue", row, settlement_kind=row.kind.value,
           due_at=row.due_at.isoformat())


def _with_its_case():
    """The sweeper locks what it takes FOR UPDATE SKIP LOCKED, before any audit entry of
    the batch: joining the discussion and the order locks them with the row (see
    :func:`_settle` on why nothing may be locked after an audit entry)."""
    return (select(Settlement)
            .join(Discussion, Discussion.id == Settlement.discussion_id)
            .join(Order, Order.id == Settlement.order_id))


def proofs_uncontested(now: datetime):
    limit = now - timedelta(days=terms().contest_days)
    return (_with_its_case().where(_seller_owes(), Settlement.proof_at < limit)
            .order_by(Settlement.proof_at, Settlement.id))


def accept_proof(row: Settlement, now: datetime) -> None:
    _settle(row, "proof_uncontested", SettledVia.SELLER_PROOF, None)
    notify(_buyer(row), "settlement.confirmed", row, settlement_kind=row.kind.value)
    notify(_seller(row), "settlement.confirmed", row, settlement_kind=row.kind.value)


def lapsed(now: datetime):
    """Promises the buyer stayed silent about for 7 days after the due date (and with no
    proof from the seller): they count as not kept."""
    limit = now - timedelta(days=terms().silence_days)
    return (_with_its_case()
            .where(_seller_owes(), Settlement.due_at < limit, Settlement.proof_at.is_(None))
            .order_by(Settlement.due_at, Settlement.id))


def lapse(row: Settlement, now: datetime) -> None:
    _settle(row, "lapse", SettledVia.DEADLINE, None,
            _("Not confirmed within %(days)d days after the due date.",
              days=terms().silence_days))
    for person in (_buyer(row), _seller(row)):
        notify(person, "settlement.failed", row, settlement_kind=row.kind.value)
