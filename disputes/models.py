from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from arbiter.db import AppendOnly, Base, PrimaryKey, Timestamps, enum_type
from arbiter.files import EvidenceFile
from arbiter.party_requests import PartyRequest
from disputes.states import (
    OPEN_STATES,
    TALKING_STATES,
    TERMINAL_STATES,
    DiscussionState,
    EntryKind,
    ExpectedOutcome,
    OfferKind,
    OfferState,
    Party,
    Reason,
    Role,
    Verdict,
)
from orders.models import Order, order_parties_fk

_OPEN = text("state IN ({})".format(
    ", ".join(f"'{state.value}'" for state in sorted(OPEN_STATES))))


class Discussion(PrimaryKey, Timestamps, Base):
    """A buyer's problem with one order, talked through with the seller."""

    __tablename__ = "discussions"
    __table_args__ = (
        # At most one discussion per order that has not ended (database-enforced).
        Index("uq_discussions_order_open", "order_id", unique=True,
              sqlite_where=_OPEN, postgresql_where=_OPEN),
        Index("ix_discussions_seller_inbox", "seller_id", "respond_by", "id"),
        # The inbox proper: open discussions only (most of a seller's have ended, and they
        # hold the oldest deadlines). Queries must name the states as literals to use it.
        Index("ix_discussions_seller_inbox_open", "seller_id", "respond_by", "id",
              sqlite_where=_OPEN, postgresql_where=_OPEN),
        Index("ix_discussions_buyer", "buyer_id", "opened_at"),
        # the dashboard's charts and the seller profile (migration 0011)
        Index("ix_discussions_opened_at", "opened_at"),
        Index("ix_discussions_seller_opened", "seller_id", "opened_at"),
        Index("ix_discussions_queue", "state", "escalated_at", "id"),
        Index("ix_discussions_escalation_notice_due", "escalation_available_at",
              sqlite_where=text("escalation_notice_sent_at IS NULL"),
              postgresql_where=text("escalation_notice_sent_at IS NULL")),
        Index("ix_discussions_reminder_due", "respond_by",
              sqlite_where=text("seller_reminded_at IS NULL AND state = 'awaiting_seller'"),
              postgresql_where=text("seller_reminded_at IS NULL AND state = 'awaiting_seller'")),
        Index("ix_discussions_inactive", "last_activity_at",
              sqlite_where=text("state = 'in_progress'"),
              postgresql_where=text("state = 'in_progress'")),
        CheckConstraint("respond_by > opened_at", name="respond_by_after_opening"),
        CheckConstraint("state <> 'escalated' OR escalated_at IS NOT NULL",
                        name="escalated_has_escalated_at"),
        CheckConstraint(
            "state <> 'decided' OR (decided_at IS NOT NULL AND verdict IS NOT NULL "
            "AND decided_by_id IS NOT NULL AND refund_amount IS NOT NULL)",
            name="decided_has_verdict"),
        CheckConstraint("(verdict IS NULL) = (decided_at IS NULL)", name="verdict_iff_decided"),
        CheckConstraint("state <> 'resolved' OR resolved_at IS NOT NULL",
                        name="resolved_has_resolved_at"),
        CheckConstraint("state NOT IN ('closed', 'settled_by_platform') "
                        "OR closed_at IS NOT NULL", name="closed_has_closed_at"),
        CheckConstraint("refund_amount IS NULL OR refund_amount >= 0",
                        name="refund_not_negative"),
        CheckConstraint("length(description) BETWEEN 1 AND 20000", name="description_length"),
        # Staff never handle or decide a case they bought or sold in (orders.policy,
        # migration 0013). The parties are the order's: the foreign key below makes the
        # copies equal to it. (A NULL advisor or decider passes: nobody acted yet.)
        CheckConstraint("assigned_staff_id <> buyer_id AND assigned_staff_id <> seller_id",
                        name="advisor_not_a_party"),
        CheckConstraint("decided_by_id <> buyer_id AND decided_by_id <> seller_id",
                        name="decider_not_a_party"),
        order_parties_fk("discussions"),
        # What information requests refer to with their copies of the parties.
        Index("uq_discussions_parties", "id", "buyer_id", "seller_id", unique=True),
        # What an appeal refers to with its copy of the verdict's author (migration 0017).
        Index("uq_discussions_decider", "id", "decided_by_id", unique=True),
    )

    # Optimistic locking: a concurrent change of the same row fails instead of overwriting.
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), comment="= order.buyer_id")
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), comment="= order.seller_id")
    reason: Mapped[Reason] = mapped_column(enum_type(Reason))
    expected_outcome: Mapped[ExpectedOutcome] = mapped_column(enum_type(ExpectedOutcome))
    description: Mapped[str] = mapped_column(Text)
    state: Mapped[DiscussionState] = mapped_column(
        enum_type(DiscussionState), default=DiscussionState.AWAITING_SELLER)
    opened_at: Mapped[datetime] = mapped_column()
    respond_by: Mapped[datetime] = mapped_column(comment="opened_at + 24 h (+ extensions)")
    escalation_available_at: Mapped[datetime] = mapped_column(
        comment="opened_at + 24 h (+ extensions)")
    last_activity_at: Mapped[datetime] = mapped_column()
    seller_first_response_at: Mapped[datetime | None] = mapped_column()
    seller_answered_on_time: Mapped[bool | None] = mapped_column()
    escalated_at: Mapped[datetime | None] = mapped_column()
    escalation_reason: Mapped[str | None] = mapped_column(Text)
    assigned_staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    taken_at: Mapped[datetime | None] = mapped_column()
    verdict: Mapped[Verdict | None] = mapped_column(enum_type(Verdict))
    refund_amount: Mapped[int | None] = mapped_column(comment="grosze granted by the verdict")
    rationale: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    resolved_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    # Markers of the sweeper's one-off actions: set in the same transaction as the
    # notification they stand for, so each happens exactly once.
    seller_reminded_at: Mapped[datetime | None] = mapped_column()
    escalation_notice_sent_at: Mapped[datetime | None] = mapped_column()

    # order_id alone: buyer_id and seller_id also refer to the order (their copies' key)
    order: Mapped[Order] = relationship(foreign_keys=[order_id])
    buyer: Mapped[User] = relationship(foreign_keys=[buyer_id])
    seller: Mapped[User] = relationship(foreign_keys=[seller_id])
    assigned_staff: Mapped[User | None] = relationship(foreign_keys=[assigned_staff_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    entries: Mapped[list["Entry"]] = relationship(
        back_populates="discussion", order_by="Entry.id")
    offers: Mapped[list["Offer"]] = relationship(
        back_populates="discussion", order_by="Offer.id")
    information_requests: Mapped[list["InformationRequest"]] = relationship(
        back_populates="discussion", order_by="InformationRequest.id",
        foreign_keys="InformationRequest.discussion_id")

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def is_talking(self) -> bool:
        """The parties still negotiate: offers can be made and answered."""
        return self.state in TALKING_STATES

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def offer_made_in(self, entry_id: int) -> "Offer | None":
        """The offer an ``offer`` entry of the thread made: the thread shows what became of
        it, so that a replaced or answered offer does not read as if it were still open."""
        return next((offer for offer in self.offers if offer.entry_id == entry_id), None)

    def role_of(self, user) -> Role | None:
        if not getattr(user, "is_authenticated", False):
            return None
        if user.id == self.buyer_id:
            return Role.BUYER
        if user.id == self.seller_id:
            return Role.SELLER
        if user.is_staff:
            return Role.STAFF
        return None

    def can_view(self, user) -> bool:
        return self.role_of(user) is not None

    def can_post(self, user) -> bool:
        role = self.role_of(user)
        if role is None or not self.is_open:
            return False
        return role is not Role.STAFF or self.state is DiscussionState.ESCALATED

    @property
    def waiting_for_information(self) -> bool:
        """Staff asked a party for information that has not come yet (and still wait)."""
        return any(request.is_awaited for request in self.information_requests)


class Entry(AppendOnly, PrimaryKey, Base):
    """One line of the thread: a message, an offer, a state change or a system note.

    Append-only: the thread is the record of what everybody saw and said.
    """

    __tablename__ = "discussion_entries"
    __table_args__ = (Index("ix_discussion_entries_thread", "discussion_id", "id"),)

    discussion_id: Mapped[int] = mapped_column(ForeignKey("discussions.id"))
    kind: Mapped[EntryKind] = mapped_column(enum_type(EntryKind))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_role: Mapped[Role] = mapped_column(enum_type(Role))
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict | None] = mapped_column(
        JSON, comment="structured details (state, offer id, ...)")
    created_at: Mapped[datetime] = mapped_column()

    discussion: Mapped[Discussion] = relationship(back_populates="entries")
    author: Mapped[User | None] = relationship()
    attachments: Mapped[list["Attachment"]] = relationship(
        back_populates="entry", order_by="Attachment.id")


class Offer(PrimaryKey, Base):
    __tablename__ = "offers"
    __table_args__ = (
        CheckConstraint("amount IS NULL OR amount > 0", name="amount_positive"),
        CheckConstraint("kind <> 'partial_refund' OR amount IS NOT NULL",
                        name="partial_refund_has_amount"),
        # one pending offer per discussion: a new one supersedes the old
        Index("uq_offers_pending", "discussion_id", unique=True,
              sqlite_where=text("state = 'pending'"),
              postgresql_where=text("state = 'pending'")),
    )

    discussion_id: Mapped[int] = mapped_column(ForeignKey("discussions.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("discussion_entries.id"))
    kind: Mapped[OfferKind] = mapped_column(enum_type(OfferKind))
    amount: Mapped[int | None] = mapped_column(comment="grosze; for refunds")
    state: Mapped[OfferState] = mapped_column(enum_type(OfferState),
                                              default=OfferState.PENDING)
    created_at: Mapped[datetime] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()

    discussion: Mapped[Discussion] = relationship(back_populates="offers")


class InformationRequest(PartyRequest, PrimaryKey, Base):
    """Staff asking one party for something, with a 72 h deadline."""

    __tablename__ = "information_requests"
    __table_args__ = (
        *PartyRequest.constraints(),
        Index("ix_information_requests_open", "discussion_id", "answered_at"),
        ForeignKeyConstraint(["discussion_id", "buyer_id", "seller_id"],
                             ["discussions.id", "discussions.buyer_id", "discussions.seller_id"],
                             name="fk_information_requests_discussion_parties"),
    )

    discussion_id: Mapped[int] = mapped_column(ForeignKey("discussions.id"))
    party: Mapped[Party] = mapped_column(enum_type(Party))
    question: Mapped[str] = mapped_column(Text)
    answer_entry_id: Mapped[int | None] = mapped_column(ForeignKey("discussion_entries.id"))

    discussion: Mapped[Discussion] = relationship(back_populates="information_requests",
                                                  foreign_keys=[discussion_id])


class Attachment(EvidenceFile, PrimaryKey, Base):
    """An evidence file of a message; the bytes live in storage under ``storage_key``."""

    __tablename__ = "attachments"

    discussion_id: Mapped[int] = mapped_column(ForeignKey("discussions.id"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("discussion_entries.id"), index=True)

    entry: Mapped[Entry] = relationship(back_populates="attachments")
