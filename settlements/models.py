from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from arbiter.db import CURRENCY, Base, PrimaryKey, enum_type, values_in
from orders.models import Order, order_parties_fk
from settlements.states import (
    COUNTED_STATES,
    GOODS_KINDS,
    PARTIES,
    SOURCES,
    Party,
    SettledVia,
    SettlementKind,
    SettlementState,
    Source,
)

_PAIRS = " OR ".join(
    f"(kind = '{kind.value}' AND payer = '{payer.value}' AND payee = '{payee.value}' "
    f"AND {values_in('source', SOURCES[kind])})"
    for kind, (payer, payee) in PARTIES.items())


class Settlement(PrimaryKey, Base):
    """One money outcome (or goods obligation) of an order: who owes whom, how much, by when.

    Written once; afterwards only ``state`` and the settling columns change, each change
    one transition of ``settlements.states`` with its audit entry. Rows paid to the buyer
    count against the order's total through ``orders.compensation_committed``.
    """

    __tablename__ = "settlements"
    __table_args__ = (
        CheckConstraint(_PAIRS, name="kind_names_its_parties"),
        CheckConstraint(
            f"({values_in('kind', GOODS_KINDS)}) = (amount IS NULL)", name="amount_iff_money"),
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
        CheckConstraint("(source = 'offer') = (offer_id IS NOT NULL)", name="offer_iff_source"),
        CheckConstraint("(source = 'claim') = (claim_id IS NOT NULL)", name="claim_iff_source"),
        CheckConstraint("(source = 'appeal') = (appeal_id IS NOT NULL)",
                        name="appeal_iff_source"),
        CheckConstraint("source <> 'verdict' OR discussion_id IS NOT NULL",
                        name="verdict_has_discussion"),
        CheckConstraint("due_at > created_at", name="due_after_creation"),
        CheckConstraint("ship_by IS NULL OR ship_by <= due_at", name="ship_before_due"),
        CheckConstraint("(state = 'owed') = (settled_at IS NULL)", name="settled_iff_not_owed"),
        CheckConstraint("(settled_at IS NULL) = (settled_via IS NULL)",
                        name="settled_says_how"),
        CheckConstraint("(proof_at IS NULL) = (proof_reference IS NULL)",
                        name="proof_has_reference"),
        order_parties_fk("settlements"),
        # One row per accepted offer, per verdict, per claim and kind (payout, recovery):
        # a retried acceptance or approval can never record the same outcome twice.
        Index("uq_settlements_offer", "offer_id", unique=True,
              sqlite_where=text("offer_id IS NOT NULL"),
              postgresql_where=text("offer_id IS NOT NULL")),
        Index("uq_settlements_verdict", "discussion_id", unique=True,
              sqlite_where=text("source = 'verdict'"),
              postgresql_where=text("source = 'verdict'")),
        # A payout the bank returned is paid again through a new row (reissue_of_id, migration
        # 0022): one re-issue per failed row, and apart from re-issues still one row per
        # claim or appeal and kind.
        Index("uq_settlements_claim_kind", "claim_id", "kind", unique=True,
              sqlite_where=text("claim_id IS NOT NULL AND reissue_of_id IS NULL"),
              postgresql_where=text("claim_id IS NOT NULL AND reissue_of_id IS NULL")),
        Index("uq_settlements_appeal_kind", "appeal_id", "kind", unique=True,
              sqlite_where=text("appeal_id IS NOT NULL AND reissue_of_id IS NULL"),
              postgresql_where=text("appeal_id IS NOT NULL AND reissue_of_id IS NULL")),
        CheckConstraint("reissue_of_id IS NULL OR kind = 'payout'", name="reissue_is_payout"),
        Index("ix_settlements_order", "order_id", "id"),
        Index("ix_settlements_owed_due", "due_at", sqlite_where=text("state = 'owed'"),
              postgresql_where=text("state = 'owed'")),
    )

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), comment="= order.buyer_id")
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), comment="= order.seller_id")
    kind: Mapped[SettlementKind] = mapped_column(enum_type(SettlementKind))
    payer: Mapped[Party] = mapped_column(enum_type(Party, name="payer"))
    payee: Mapped[Party] = mapped_column(enum_type(Party, name="payee"))
    amount: Mapped[int | None] = mapped_column(comment="grosze; NULL for goods")
    currency: Mapped[str] = mapped_column(CURRENCY, default="PLN")
    source: Mapped[Source] = mapped_column(enum_type(Source, name="settlementsource"))
    discussion_id: Mapped[int | None] = mapped_column(
        ForeignKey("discussions.id"), index=True,
        comment="The discussion of the offer or verdict; for claims the one it rests on")
    offer_id: Mapped[int | None] = mapped_column(ForeignKey("offers.id"))
    claim_id: Mapped[int | None] = mapped_column(ForeignKey("claims.id"))
    appeal_id: Mapped[int | None] = mapped_column(ForeignKey("appeals.id"))
    state: Mapped[SettlementState] = mapped_column(enum_type(SettlementState),
                                                   default=SettlementState.OWED)
    created_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column(comment="When it must have arrived")
    ship_by: Mapped[datetime | None] = mapped_column(
        comment="Goods: when the tracking reference is due")
    proof_reference: Mapped[str | None] = mapped_column(
        String(200), comment="The seller's transfer confirmation or tracking number")
    proof_at: Mapped[datetime | None] = mapped_column()
    overdue_notified_at: Mapped[datetime | None] = mapped_column(
        comment="When the buyer was asked whether it arrived, after the due date")
    settled_at: Mapped[datetime | None] = mapped_column()
    settled_via: Mapped[SettledVia | None] = mapped_column(enum_type(SettledVia))
    settled_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), comment="The person who confirmed or failed it, if a person")
    note: Mapped[str | None] = mapped_column(Text, comment="Why it failed or was cancelled")
    reissue_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("settlements.id"), unique=True,
        comment="The payout the bank returned that this row pays again")

    order: Mapped[Order] = relationship(foreign_keys=[order_id])
    settled_by: Mapped[User | None] = relationship(foreign_keys=[settled_by_id])

    @property
    def is_owed(self) -> bool:
        return self.state is SettlementState.OWED

    @property
    def is_goods(self) -> bool:
        return self.kind in GOODS_KINDS

    @property
    def counts_for_buyer(self) -> bool:
        return (self.payee is Party.BUYER and self.amount is not None
                and self.state in COUNTED_STATES)

    def is_party(self, user) -> bool:
        return bool(getattr(user, "is_authenticated", False)) and user.id in (
            self.buyer_id, self.seller_id)
