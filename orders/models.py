from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    ColumnElement,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    and_,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from arbiter.db import CURRENCY, Base, PrimaryKey, Timestamps, enum_type
from orders.states import PaymentMethod

if TYPE_CHECKING:  # the case's rows; their modules import this one
    from claims.models import Claim
    from disputes.models import Discussion
    from settlements.models import Settlement


class Order(PrimaryKey, Timestamps, Base):
    """One purchase, as the marketplace reported it. Amounts are integer grosze."""

    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint("item_price > 0", name="item_price_positive"),
        CheckConstraint("shipping_cost >= 0", name="shipping_cost_not_negative"),
        CheckConstraint("buyer_id <> seller_id", name="buyer_is_not_seller"),
        CheckConstraint("delivered_at IS NULL OR delivered_at >= paid_at",
                        name="delivered_after_paid"),
        Index("ix_orders_buyer_paid", "buyer_id", "paid_at"),
        Index("ix_orders_seller_paid", "seller_id", "paid_at"),
        Index("ix_orders_paid_at", "paid_at"),  # claims paid per orders (migration 0011)
        # What the case's rows (discussions, claims) refer to with their copies of the
        # parties, so a copy cannot differ from the order (migration 0013).
        Index("uq_orders_parties", "id", "buyer_id", "seller_id", unique=True),
        # The settlement ledger's invariant: what is owed or paid to the buyer never
        # exceeds the order total. Changed only under the order's row lock, in the same
        # transaction as the ledger row (settlements.services, migration 0015).
        CheckConstraint("compensation_committed >= 0 AND "
                        "compensation_committed <= item_price + shipping_cost",
                        name="compensation_within_total"),
    )

    external_id: Mapped[str] = mapped_column(
        String(64), unique=True, comment="The marketplace's own order id"
    )
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    item_title: Mapped[str] = mapped_column(String(200))
    item_price: Mapped[int] = mapped_column(comment="grosze")
    shipping_cost: Mapped[int] = mapped_column(comment="grosze")
    currency: Mapped[str] = mapped_column(CURRENCY, default="PLN")
    payment_method: Mapped[PaymentMethod] = mapped_column(enum_type(PaymentMethod))
    paid_at: Mapped[datetime] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()
    integration: Mapped[str | None] = mapped_column(
        String(100), comment="the integration (token name) that pushed it and alone "
                             "changes it over the API; NULL: imported by staff")
    compensation_committed: Mapped[int] = mapped_column(
        default=0, server_default="0",
        comment="grosze owed or paid to the buyer by settlement rows (owed or confirmed)")

    buyer: Mapped[User] = relationship(foreign_keys=[buyer_id])
    seller: Mapped[User] = relationship(foreign_keys=[seller_id])
    # The case (settlements.queries.case_file): read-only, loaded only when asked for.
    discussions: Mapped[list["Discussion"]] = relationship(
        viewonly=True, lazy="raise_on_sql", order_by="Discussion.id",
        primaryjoin="Order.id == foreign(Discussion.order_id)")
    claims: Mapped[list["Claim"]] = relationship(
        viewonly=True, lazy="raise_on_sql", order_by="Claim.id",
        primaryjoin="Order.id == foreign(Claim.order_id)")
    settlements: Mapped[list["Settlement"]] = relationship(
        viewonly=True, lazy="raise_on_sql", order_by="Settlement.id",
        primaryjoin="Order.id == foreign(Settlement.order_id)")

    @property
    def total(self) -> int:
        return self.item_price + self.shipping_cost

    @property
    def compensation_remaining(self) -> int:
        """What may still be promised or paid to the buyer on this order."""
        return self.total - self.compensation_committed

    def is_party(self, user) -> bool:
        return user.id in (self.buyer_id, self.seller_id)

    def can_view(self, user) -> bool:
        return bool(user.is_authenticated) and (self.is_party(user) or user.is_staff)


def order_parties_fk(table: str) -> ForeignKeyConstraint:
    """For a row of an order's case (a discussion, a claim, a settlement, an appeal): its
    copies of the buyer and the seller are the order's (migration 0013). The copies let the
    database refuse staff acting on their own case in a CHECK of the row itself."""
    return ForeignKeyConstraint(["order_id", "buyer_id", "seller_id"],
                                ["orders.id", "orders.buyer_id", "orders.seller_id"],
                                name=f"fk_{table}_order_parties")


def not_a_party(user_id, case) -> ColumnElement[bool]:
    """``orders.policy.conflicted`` is false, in SQL: for the staff queues and the payout
    export. ``case`` has ``buyer_id`` and ``seller_id`` columns (a mapped class or a
    table's ``c``); ``user_id`` is a value or a bind parameter."""
    return and_(case.buyer_id != user_id, case.seller_id != user_id)
