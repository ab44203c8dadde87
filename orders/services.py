"""Order changes: the marketplace is the source of truth, Arbiter upserts by external_id."""

from dataclasses import dataclass
from enum import StrEnum

from flask_babel import gettext as _
from sqlalchemy import exists, select

from accounts.models import User
from arbiter import audit
from arbiter.errors import ConflictOfInterest, TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from orders.models import Order
from orders.policy import conflicted

AUDITED_FIELDS = (
    "external_id", "buyer_id", "seller_id", "item_title", "item_price", "shipping_cost",
    "currency", "payment_method", "paid_at", "delivered_at",
)


class UpsertOutcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class UpsertResult:
    order: Order
    outcome: UpsertOutcome


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


def upsert_order(data: dict, *, actor=None) -> UpsertResult:
    """Create or update the order ``data["external_id"]`` (validated by OrderInSchema).

    Writing the same data again changes nothing and writes no audit entry.
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
            _("The buyer and the seller of an order cannot change once a discussion about "
              "it exists."),
            code="order_parties_fixed",
            fields={name.replace("_id", "_email"): ["fixed"] for name in parties})
    for key, value in changed.items():
        setattr(order, key, value)
    audit.record("order.updated", order, actor=actor,
                 before={k: before[k] for k in changed},
                 after={k: audit.jsonable(v) for k, v in changed.items()})
    return UpsertResult(order, UpsertOutcome.UPDATED)


def _has_case(order: Order) -> bool:
    """Has anything happened about the order? A claim needs a discussion, so one is enough."""
    from disputes.models import Discussion  # disputes builds on orders, not the reverse

    return bool(db.session.scalar(select(exists().where(Discussion.order_id == order.id))))


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
