"""Order changes: the marketplace is the source of truth, Arbiter upserts by external_id."""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from flask_babel import gettext as _
from sqlalchemy import exists, select

from accounts.models import User
from arbiter import audit
from arbiter.errors import ConflictOfInterest, DomainError, TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from orders.models import Order
from orders.policy import CaseFacts, ClaimFacts, DiscussionFacts, conflicted

AUDITED_FIELDS = (
    "external_id", "buyer_id", "seller_id", "item_title", "item_price", "shipping_cost",
    "currency", "payment_method", "paid_at", "delivered_at", "integration",
)


class UpsertOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class UpsertResult:
    order: Order
    outcome: UpsertOutcome


class OrderOfAnotherIntegration(DomainError):
    """An integration changing an order another integration pushed (403). Not 404: the
    order id is the marketplace's own and taken, so a PUT could not create it either."""

    status = 403
    code = "order_of_another_integration"


def _user_id_by_email(email: str, field: str) -> int:
    """The account an order's party attaches to: only one whose owner confirmed the address
    (accounts.verification). Anyone can register an address; an unconfirmed one is treated
    like an unknown one, so the marketplace's answer reveals nothing either."""
    user_id = db.session.scalar(select(User.id).where(User.email == email.strip().lower(),
                                                      User.verified_at.is_not(None)))
    if user_id is None:
        raise ValidationFailed(f"unknown user {email}", code="unknown_user",
                               fields={field: ["unknown user"]})
    return user_id


def upsert_order(data: dict, *, actor=None, integration: str | None = None) -> UpsertResult:
    """Create or update the order ``data["external_id"]`` (validated by OrderInSchema).

    Writing the same data again changes nothing and writes no audit entry. ``integration``
    (the API's caller) owns the orders it creates and alone changes them; an order without
    an owner (imported by staff) becomes the first integration's that updates it.
    """
    values = {
        "external_id": data["external_id"],
        "buyer_id": _user_id_by_email(data["buyer_email"], "buyer_email"),
        "seller_id": _user_id_by_email(data["seller_email"], "seller_email"),
        "item_title": data["item_title"],
        "item_price": data["item_price"],
        "shipping_cost": data["shipping_cost"],
        "currency": data.get("currency", "PLN"),
        "payment_method": data["payment_method"],
        "paid_at": data["paid_at"],
        "delivered_at": data.get("delivered_at"),
    }
    order = db.session.scalar(select(Order).where(Order.external_id == values["external_id"]))
    if integration is not None:
        if order is not None and order.integration not in (None, integration):
            raise OrderOfAnotherIntegration(
                _("Another integration reported this order; only it may change it."))
        values["integration"] = integration
    if order is None:
        order = Order(**values)
        db.session.add(order)
        audit.record("order.created", order, actor=actor,
                     after=audit.snapshot(order, AUDITED_FIELDS))
        return UpsertResult(order, UpsertOutcome.CREATED)

    before = audit.snapshot(order, AUDITED_FIELDS)
    changed = {k: v for k, v in values.items() if getattr(order, k) != v}
    if not changed:
        return UpsertResult(order, UpsertOutcome.UNCHANGED)
    parties = sorted(changed.keys() & {"buyer_id", "seller_id"})
    if parties and _has_case(order):
        # The case's rows carry the parties, tied to the order by a foreign key (migration
        # 0013): who judged and who may judge depend on them, and the claim's payout
        # account and evidence belong to the buyer who filed it.
        raise TransitionNotAllowed(
            _("The buyer and the seller of an order cannot change once it has a case (a "
              "discussion, a claim or a settlement)."),
            code="order_parties_fixed",
            fields={name.replace("_id", "_email"): ["fixed"] for name in parties})
    for key, value in changed.items():
        setattr(order, key, value)
    audit.record("order.updated", order, actor=actor,
                 before={k: before[k] for k in changed},
                 after={k: audit.jsonable(v) for k, v in changed.items()})
    return UpsertResult(order, UpsertOutcome.UPDATED)


def _has_case(order: Order) -> bool:
    """Has anything happened about the order: a discussion, a claim or a settlement row?"""
    # These packages build on orders, not the reverse.
    from claims.models import Claim
    from disputes.models import Discussion
    from settlements.models import Settlement

    return any(db.session.scalar(select(exists().where(model.order_id == order.id)))
               for model in (Discussion, Claim, Settlement))


def require_impartial(staff: User, case) -> None:
    """Refuse staff work on a case whose buyer or seller ``staff`` is (403).

    Every staff step on a case calls it (take, request information or documents, decide,
    export or confirm a payout, and appeals when they come); the database refuses the same
    rows on its own (CHECK constraints, migration 0013).
    """
    if conflicted(staff, case):
        raise ConflictOfInterest(
            _("You are the buyer or the seller in this case, so another staff member must "
              "handle it."))


def purchases_query(user):
    return select(Order).where(Order.buyer_id == user.id).order_by(
        Order.paid_at.desc(), Order.id.desc()
    )


def sales_query(user):
    return select(Order).where(Order.seller_id == user.id).order_by(
        Order.paid_at.desc(), Order.id.desc()
    )


def case_facts(order: Order, now: datetime) -> CaseFacts:
    """What the order page's headline is derived from (:func:`orders.policy.headline`): the
    order's coverage and claim filing, its claim, the seller's promises and its discussion
    (the open one, else the latest), read once for the page."""
    from claims.services import exclusive_claim_for, filing_refusal, quotes_for_order
    from disputes.models import Discussion
    from settlements.services import owed_to_buyer

    quote = next(iter(quotes_for_order(order).values()))
    covered = quote.policy_version is not None and "payment_method_not_covered" not in {
        str(reason) for reason in quote.reasons}
    refusal = filing_refusal(order, now)
    claim = exclusive_claim_for(order)
    request = claim.open_document_request if claim is not None else None
    promises = owed_to_buyer(order.id)
    discussion = db.session.scalar(select(Discussion).where(Discussion.order_id == order.id)
                                   .order_by(Discussion.opened_at.desc(), Discussion.id.desc())
                                   .limit(1))
    return CaseFacts(
        now=now, covered=covered, fully_compensated=order.compensation_remaining <= 0,
        filing_deadline=quote.filing_deadline,
        filing_refusal=refusal.code if refusal is not None else None,
        filing_available_at=refusal.available_at if refusal is not None else None,
        claim=ClaimFacts(claim.id, claim.state.value,
                         request.due_at if request is not None else None) if claim else None,
        promise_due_at=promises[0].due_at if promises else None,
        discussion=DiscussionFacts(
            discussion.state.value, discussion.opened_at, discussion.respond_by,
            discussion.escalation_available_at,
            discussion.decided_at or discussion.resolved_at or discussion.closed_at)
        if discussion is not None else None)
