from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from accounts.roles import Role as StaffRole
from arbiter.db import CURRENCY, AppendOnly, Base, PrimaryKey, Timestamps, enum_type, values_in
from arbiter.files import EvidenceFile
from arbiter.party_requests import PartyRequest
from claims.policy import PolicyRules
from claims.states import (
    APPROVED_STATES,
    BUYER_DOCUMENT_KINDS,
    DECIDED_STATES,
    EXCLUSIVE_STATES,
    OPEN_STATES,
    PAYABLE_STATES,
    ClaimState,
    ClaimType,
    Decision,
    DocumentKind,
    PayoutState,
    RejectionReason,
    Role,
)
from orders.models import Order, order_parties_fk
from orders.policy import conflicted


class VersionStatus(StrEnum):
    DRAFT = "draft"  # an admin is preparing it; nothing judges by it
    PUBLISHED = "published"  # in force from effective_from on; never edited again
    WITHDRAWN = "withdrawn"  # published for a future date, then taken back before it


class PolicyVersion(PrimaryKey, Base):
    """One version of the buyer-protection rules: the first seeded by a migration, later
    ones drafted by an admin and published by a second one for a future date.

    A claim is judged by the published version in force when its order was paid, and
    decisions cite the code, so a published version is never edited: a change is a new
    version. Only published versions judge anything (:data:`PolicyVersion.judging`).
    """

    __tablename__ = "policy_versions"
    __table_args__ = (
        CheckConstraint("code <> ''", name="code_not_empty"),
        CheckConstraint("shipping_cap_minor >= 0", name="shipping_cap_not_negative"),
        CheckConstraint("total_cap_minor > 0", name="total_cap_positive"),
        CheckConstraint("shipping_cap_minor <= total_cap_minor",
                        name="shipping_cap_within_total_cap"),
        CheckConstraint("filing_window_days > 0", name="filing_window_positive"),
        # The seller's answer and appeal windows of claims (migration 0035). 0 hours gives
        # the seller no time: drafts refuse it (claims.policy.draft_problems).
        CheckConstraint("seller_answer_hours >= 0", name="seller_answer_not_negative"),
        CheckConstraint("appeal_window_days > 0", name="appeal_window_positive"),
        # The per-buyer cap over a rolling window: both or neither (migration 0021).
        CheckConstraint("(per_buyer_cap_minor IS NULL) = (per_buyer_window_days IS NULL)",
                        name="per_buyer_cap_has_window"),
        CheckConstraint("per_buyer_cap_minor IS NULL OR per_buyer_cap_minor > 0",
                        name="per_buyer_cap_positive"),
        CheckConstraint("per_buyer_window_days IS NULL OR per_buyer_window_days > 0",
                        name="per_buyer_window_positive"),
        # Four eyes: a drafted version is published by another admin (the seeded ones
        # were drafted by nobody). Migration 0032.
        CheckConstraint("status <> 'published' OR drafted_by_id IS NULL OR "
                        "(published_by_id IS NOT NULL AND published_by_id <> drafted_by_id)",
                        name="published_by_a_second_admin"),
        CheckConstraint("(status = 'withdrawn') = (withdrawn_at IS NOT NULL)",
                        name="withdrawn_has_time"),
        # One published version per instant; drafts may propose any date.
        Index("uq_policy_versions_published_from", "effective_from", unique=True,
              sqlite_where=text("status = 'published'"),
              postgresql_where=text("status = 'published'")),
    )

    status: Mapped[VersionStatus] = mapped_column(
        enum_type(VersionStatus), default=VersionStatus.PUBLISHED,
        server_default=VersionStatus.PUBLISHED.value)
    # Who drafted, published and withdrew it: user ids without a foreign key, like the
    # audit log's actors. The rules are reference data the migrations seed; a key into
    # users would make emptying or restoring the people tables cascade into the rules.
    drafted_by_id: Mapped[int | None] = mapped_column(comment="users.id of the drafter")
    drafted_at: Mapped[datetime | None] = mapped_column()
    published_by_id: Mapped[int | None] = mapped_column(comment="users.id of the publisher")
    published_at: Mapped[datetime | None] = mapped_column()
    withdrawn_by_id: Mapped[int | None] = mapped_column(comment="users.id")
    withdrawn_at: Mapped[datetime | None] = mapped_column()

    code: Mapped[str] = mapped_column(
        String(16), unique=True, comment="Version code that decisions cite, e.g. 2017-08"
    )
    effective_from: Mapped[datetime] = mapped_column(
        comment="Orders paid at or after this instant (UTC) fall under it"
    )
    covered_payment_methods: Mapped[list[str]] = mapped_column(
        JSON, comment="Payment method codes whose orders are eligible at all"
    )
    shipping_covered_for: Mapped[list[str]] = mapped_column(
        JSON, comment="Payment method codes whose shipping cost is reimbursed"
    )
    shipping_cap_minor: Mapped[int] = mapped_column(
        comment="Most shipping reimbursed per claim, grosze"
    )
    total_cap_minor: Mapped[int] = mapped_column(
        comment="Most paid per claim, item and shipping together, grosze"
    )
    filing_window_days: Mapped[int] = mapped_column(
        comment="Days (of 24 h) after paid_at during which a claim may be filed"
    )
    documents_required: Mapped[dict[str, list[str]]] = mapped_column(
        JSON, comment="What a claim must bring when filed: claim type code -> document kind "
                      "codes (police_report, supporting); types not named need nothing"
    )
    per_buyer_cap_minor: Mapped[int | None] = mapped_column(
        comment="Most the platform pays one buyer over the rolling window, grosze; "
                "empty: no per-buyer cap"
    )
    per_buyer_window_days: Mapped[int | None] = mapped_column(
        comment="The rolling window of the per-buyer cap, days of 24 h before a decision"
    )
    seller_answer_hours: Mapped[int] = mapped_column(
        comment="Hours after filing during which the seller may answer a claim"
    )
    appeal_window_days: Mapped[int] = mapped_column(
        comment="Days (of 24 h) after a claim decision during which a party may appeal it"
    )

    drafted_by: Mapped["User | None"] = relationship(
        primaryjoin="foreign(PolicyVersion.drafted_by_id) == User.id", viewonly=True)
    published_by: Mapped["User | None"] = relationship(
        primaryjoin="foreign(PolicyVersion.published_by_id) == User.id", viewonly=True)

    @classmethod
    def judging(cls):
        """The condition for versions that judge claims: published (in force or scheduled)."""
        return cls.status == VersionStatus.PUBLISHED

    def to_rules(self) -> PolicyRules:
        """The pure rules of this version (unknown codes in the JSON lists raise)."""
        return PolicyRules(
            version=self.code,
            effective_from=self.effective_from,
            covered_payment_methods=frozenset(self.covered_payment_methods),
            shipping_covered_for=frozenset(self.shipping_covered_for),
            shipping_cap_minor=self.shipping_cap_minor,
            total_cap_minor=self.total_cap_minor,
            filing_window_days=self.filing_window_days,
            documents_required=self.documents_required,
            per_buyer_cap_minor=self.per_buyer_cap_minor,
            per_buyer_window_days=self.per_buyer_window_days,
            seller_answer_hours=self.seller_answer_hours,
            appeal_window_days=self.appeal_window_days,
        )


class Claim(PrimaryKey, Timestamps, Base):
    """A buyer's request that the platform compensate one order.

    The quote is frozen at filing (the policy version in force at the order's ``paid_at``,
    the amounts and the clauses that shaped them): a later policy change or an order
    update never changes what this claim may pay. ``max_total`` is the ceiling the
    database itself enforces on ``approved_amount``.
    """

    __tablename__ = "claims"
    __table_args__ = (
        # One claim per order that is open or compensates the buyer (database-enforced).
        Index("uq_claims_order_exclusive", "order_id", unique=True,
              sqlite_where=text(values_in("state", EXCLUSIVE_STATES)),
              postgresql_where=text(values_in("state", EXCLUSIVE_STATES))),
        Index("ix_claims_queue", "state", "submitted_at", "id"),
        Index("ix_claims_buyer", "buyer_id", "submitted_at"),
        CheckConstraint("length(description) BETWEEN 1 AND 20000", name="description_length"),
        CheckConstraint("claimed_amount IS NULL OR claimed_amount > 0",
                        name="claimed_amount_positive"),
        CheckConstraint("(claim_type = 'other') = (claimed_amount IS NOT NULL)",
                        name="claimed_amount_iff_other"),
        CheckConstraint("item_amount >= 0 AND shipping_amount >= 0",
                        name="quote_amounts_not_negative"),
        CheckConstraint("max_total > 0 AND max_total <= item_amount + shipping_amount",
                        name="max_total_within_quote"),
        # Never more than the computed maximum, whatever the code above the database does.
        CheckConstraint("approved_amount IS NULL OR approved_amount <= max_total",
                        name="approved_within_max_total"),
        # An approval awaiting its second approver already carries its amount (migration
        # 0021 adds that state to both).
        CheckConstraint(
            f"NOT ({values_in('state', APPROVED_STATES)}) "
            "OR (approved_amount IS NOT NULL AND approved_amount > 0)",
            name="payable_has_positive_amount"),
        CheckConstraint(
            f"approved_amount IS NULL OR {values_in('state', APPROVED_STATES)}",
            name="amount_only_when_payable"),
        CheckConstraint("state <> 'partially_approved' OR approved_amount < max_total",
                        name="partial_below_max_total"),
        CheckConstraint(
            f"NOT ({values_in('state', DECIDED_STATES)}) "
            "OR (decided_at IS NOT NULL AND decided_by_id IS NOT NULL)",
            name="decided_has_decided_at"),
        CheckConstraint(f"decided_at IS NULL OR {values_in('state', DECIDED_STATES)}",
                        name="decided_at_only_when_decided"),
        CheckConstraint("state <> 'rejected' OR rejection_reason IS NOT NULL",
                        name="rejected_has_reason"),
        CheckConstraint("rejection_reason IS NULL OR state = 'rejected'",
                        name="reason_only_when_rejected"),
        CheckConstraint(
            f"NOT ({values_in('state', OPEN_STATES - {ClaimState.SUBMITTED})}) "
            "OR (assigned_staff_id IS NOT NULL AND taken_at IS NOT NULL)",
            name="reviewed_has_advisor"),
        CheckConstraint("state <> 'withdrawn' OR withdrawn_at IS NOT NULL",
                        name="withdrawn_has_withdrawn_at"),
        CheckConstraint("state <> 'paid' OR paid_at IS NOT NULL", name="paid_has_paid_at"),
        # Staff never review or decide a claim on their own purchase or sale
        # (orders.policy, migration 0013); the foreign key below makes the parties the
        # order's. (A NULL advisor or decider passes: nobody acted yet.)
        CheckConstraint("assigned_staff_id <> buyer_id AND assigned_staff_id <> seller_id",
                        name="advisor_not_a_party"),
        CheckConstraint("decided_by_id <> buyer_id AND decided_by_id <> seller_id",
                        name="decider_not_a_party"),
        order_parties_fk("claims"),
        # What document requests and payouts refer to with their copies of the parties.
        Index("uq_claims_parties", "id", "buyer_id", "seller_id", unique=True),
        # What an appeal refers to with its copy of the decision's author (migration 0017).
        Index("uq_claims_decider", "id", "decided_by_id", unique=True),
        # The seller's answer: a statement with its time, given within the seller's window
        # (migration 0016).
        CheckConstraint("seller_answer_due_at >= submitted_at",
                        name="seller_answer_due_after_filing"),
        CheckConstraint("(seller_answered_at IS NULL) = (seller_statement IS NULL)",
                        name="seller_statement_iff_answered"),
        CheckConstraint("seller_statement IS NULL OR length(seller_statement) BETWEEN 1 AND 20000",
                        name="seller_statement_length"),
        CheckConstraint("seller_answered_at IS NULL OR "
                        "(seller_answered_at >= submitted_at "
                        "AND seller_answered_at <= seller_answer_due_at)",
                        name="seller_answered_within_window"),
        # Four eyes on money (migration 0021). Who approved, and whether a second, different
        # senior must confirm; a claim that needs one is payable only once they did, and
        # the payout row refers to these columns (fk_payouts_claim_approvals), so the
        # database refuses a payout without the approvals it needs.
        CheckConstraint("(first_approver_id IS NULL) = (first_approved_at IS NULL)",
                        name="first_approver_has_time"),
        CheckConstraint("(second_approver_id IS NULL) = (second_approved_at IS NULL)",
                        name="second_approver_has_time"),
        CheckConstraint("second_approver_id <> first_approver_id",
                        name="second_approver_not_first"),
        CheckConstraint("first_approver_id <> buyer_id AND first_approver_id <> seller_id "
                        "AND second_approver_id <> buyer_id AND second_approver_id <> seller_id",
                        name="approvers_not_parties"),
        CheckConstraint("second_approver_id IS NULL OR requires_second_approval",
                        name="second_approval_only_when_required"),
        CheckConstraint(
            f"(first_approver_id IS NOT NULL) = ({values_in('state', APPROVED_STATES)})",
            name="approved_iff_first_approver"),
        CheckConstraint(
            "state <> 'awaiting_second_approval' OR "
            "(requires_second_approval AND second_approver_id IS NULL)",
            name="awaiting_second_approval_required"),
        CheckConstraint(
            f"NOT ({values_in('state', PAYABLE_STATES | {ClaimState.PAID})}) "
            "OR NOT requires_second_approval OR second_approver_id IS NOT NULL",
            name="payable_has_second_approval"),
        CheckConstraint("(state = 'awaiting_second_approval') = (pending_decision IS NOT NULL)",
                        name="pending_decision_iff_awaiting"),
        CheckConstraint("(sent_back_at IS NULL) = (sent_back_reason IS NULL) "
                        "AND (sent_back_at IS NULL) = (sent_back_by_id IS NULL)",
                        name="sent_back_has_reason"),
        CheckConstraint("buyer_cap_lowered_from IS NULL OR (approved_amount IS NOT NULL "
                        "AND buyer_cap_lowered_from > approved_amount)",
                        name="buyer_cap_lowered_the_amount"),
        # What a payout refers to with its copies of the approvals.
        Index("uq_claims_approvals", "id", "first_approver_id", "requires_second_approval",
              unique=True),
        Index("uq_claims_second_approver", "id", "second_approver_id", unique=True),
        Index("ix_claims_awaiting_second_approval", "first_approved_at", "id",
              sqlite_where=text("state = 'awaiting_second_approval'"),
              postgresql_where=text("state = 'awaiting_second_approval'")),
    )

    # Optimistic locking: a concurrent change of the same row fails instead of overwriting.
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), comment="= order.buyer_id")
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), comment="= order.seller_id")
    discussion_id: Mapped[int] = mapped_column(
        ForeignKey("discussions.id"), comment="The discussion that made the claim possible")
    claim_type: Mapped[ClaimType] = mapped_column(enum_type(ClaimType))
    description: Mapped[str] = mapped_column(Text)
    claimed_amount: Mapped[int | None] = mapped_column(
        comment="grosze; the documented loss, for claim type other only")
    police_report_reference: Mapped[str | None] = mapped_column(
        String(64), comment="Reference number of the police acknowledgement")
    payout_account: Mapped[str] = mapped_column(
        String(34), comment="IBAN the buyer gave for the payout (no spaces)")
    state: Mapped[ClaimState] = mapped_column(enum_type(ClaimState),
                                              default=ClaimState.SUBMITTED)
    submitted_at: Mapped[datetime] = mapped_column()

    policy_version_id: Mapped[int] = mapped_column(
        ForeignKey("policy_versions.id"), comment="The version in force at order.paid_at")
    item_amount: Mapped[int] = mapped_column(comment="grosze, quote at filing, before the cap")
    shipping_amount: Mapped[int] = mapped_column(
        comment="grosze, quote at filing, before the cap")
    max_total: Mapped[int] = mapped_column(
        comment="grosze, the most this claim may pay (quote total after the cap)")
    cap_applied: Mapped[bool] = mapped_column(Boolean)
    clauses: Mapped[list[str]] = mapped_column(JSON, comment="Policy clauses behind the quote")

    assigned_staff_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    taken_at: Mapped[datetime | None] = mapped_column()
    approved_amount: Mapped[int | None] = mapped_column(comment="grosze granted")
    rejection_reason: Mapped[RejectionReason | None] = mapped_column(
        enum_type(RejectionReason))
    rationale: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column()
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column()
    paid_at: Mapped[datetime | None] = mapped_column()
    seller_answer_due_at: Mapped[datetime] = mapped_column(
        comment="Until when the seller may answer (filing + the policy version's "
                "seller_answer_hours, moved by incidents); staff decide after it or after "
                "the answer")
    seller_answered_at: Mapped[datetime | None] = mapped_column()
    seller_statement: Mapped[str | None] = mapped_column(
        Text, comment="The seller's answer to the claim, in their words")

    # Four eyes on money (migration 0021).
    requires_second_approval: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false"),
        comment="The approval pays more than CLAIM_SECOND_APPROVAL_ABOVE: a second senior "
                "confirms it")
    pending_decision: Mapped[Decision | None] = mapped_column(
        enum_type(Decision, name="pending_decision"),
        comment="What the first approver decided, while awaiting the second approval")
    first_approver_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), comment="Who approved (the decider); set with the amount")
    first_approved_at: Mapped[datetime | None] = mapped_column()
    second_approver_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id"), comment="The senior who confirmed the approval")
    second_approved_at: Mapped[datetime | None] = mapped_column()
    sent_back_at: Mapped[datetime | None] = mapped_column(
        comment="The last time a second approver sent the approval back to review")
    sent_back_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sent_back_reason: Mapped[str | None] = mapped_column(
        Text, comment="Why it was sent back (for staff only)")
    buyer_cap_lowered_from: Mapped[int | None] = mapped_column(
        comment="grosze the approval would have paid without the policy's per-buyer cap, "
                "when that cap lowered it to the buyer's remaining room")

    # order_id alone: buyer_id and seller_id also refer to the order (their copies' key)
    order: Mapped[Order] = relationship(foreign_keys=[order_id])
    buyer: Mapped[User] = relationship(foreign_keys=[buyer_id])
    seller: Mapped[User] = relationship(foreign_keys=[seller_id], viewonly=True)
    assigned_staff: Mapped[User | None] = relationship(foreign_keys=[assigned_staff_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    first_approver: Mapped[User | None] = relationship(foreign_keys=[first_approver_id])
    second_approver: Mapped[User | None] = relationship(foreign_keys=[second_approver_id])
    sent_back_by: Mapped[User | None] = relationship(foreign_keys=[sent_back_by_id])
    policy_version: Mapped[PolicyVersion] = relationship()
    documents: Mapped[list["ClaimDocument"]] = relationship(
        back_populates="claim", order_by="ClaimDocument.id")
    document_requests: Mapped[list["DocumentRequest"]] = relationship(
        back_populates="claim", order_by="DocumentRequest.id",
        foreign_keys="DocumentRequest.claim_id")
    payout: Mapped["Payout | None"] = relationship(
        back_populates="claim", foreign_keys="Payout.claim_id",
        primaryjoin="and_(Claim.id == Payout.claim_id, Payout.appeal_id.is_(None), "
                    "Payout.reissue_of_id.is_(None))")
    # Every payout of the claim: its own, an appeal's top-up, re-issues of returned ones.
    payouts: Mapped[list["Payout"]] = relationship(
        foreign_keys="Payout.claim_id", order_by="Payout.id", viewonly=True,
        primaryjoin="Claim.id == Payout.claim_id")

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def open_document_request(self) -> "DocumentRequest | None":
        return next((r for r in self.document_requests if r.is_awaited), None)

    def role_of(self, user) -> Role | None:
        """Who ``user`` is in this claim: its buyer, the order's seller, staff, or nobody.

        A member of staff who is a party sees the claim as that party (never as staff)."""
        if not getattr(user, "is_authenticated", False):
            return None
        if user.id == self.buyer_id:
            return Role.BUYER
        if user.id == self.seller_id:
            return Role.SELLER
        if getattr(user, "is_staff", False):
            return Role.STAFF
        return None

    @property
    def payouts_awaiting_account(self) -> list["Payout"]:
        """Payouts the bank returned that wait for the buyer's corrected account."""
        return [p for p in self.payouts if p.awaits_account]

    def is_buyer(self, user) -> bool:
        return self.role_of(user) is Role.BUYER

    def is_seller(self, user) -> bool:
        """The order's seller: sees the claim without the buyer's bank account, police
        report or documents, and may answer within the window."""
        return self.role_of(user) is Role.SELLER

    def can_view(self, user) -> bool:
        return self.role_of(user) is not None

    def can_see_document(self, user, document: "ClaimDocument") -> bool:
        """The buyer's papers are for the buyer and staff; the seller sees only their own
        evidence."""
        role = self.role_of(user)
        if role is None:
            return False
        return role is not Role.SELLER or document.kind not in BUYER_DOCUMENT_KINDS

    def seller_window_open(self, now: datetime) -> bool:
        """The seller may still answer: no answer yet, before a decision, before the due
        time."""
        return (self.has_seller_window and self.seller_answered_at is None
                and self.state in OPEN_STATES and now < self.seller_answer_due_at)

    @property
    def has_seller_window(self) -> bool:
        """False when the seller was given no time (a version with seller_answer_hours 0)."""
        return self.seller_answer_due_at > self.submitted_at

    def awaits_seller(self, now: datetime) -> bool:
        """Staff must not decide yet: the seller has neither answered nor run out of time."""
        return (self.has_seller_window and self.seller_answered_at is None
                and now < self.seller_answer_due_at)

    def can_review(self, user) -> bool:
        """Staff who are neither its buyer nor its seller (orders.policy.conflicted)."""
        return (getattr(user, "is_authenticated", False) and user.has_role(StaffRole.ADVISOR)
                and not conflicted(user, self))

    def can_handle(self, user) -> bool:
        return self.can_review(user) and self.assigned_staff_id == user.id

    @property
    def awaits_second_approval(self) -> bool:
        return self.state is ClaimState.AWAITING_SECOND_APPROVAL

    def can_second_approve(self, user) -> bool:
        """A senior who is not the first approver and not a party confirms or sends back."""
        return (self.awaits_second_approval and getattr(user, "is_authenticated", False)
                and user.has_role(StaffRole.SENIOR) and not conflicted(user, self)
                and user.id != self.first_approver_id)


class ClaimDocument(EvidenceFile, AppendOnly, PrimaryKey, Base):
    """A document of a claim (police acknowledgement, evidence, requested papers).

    The bytes live in storage under ``storage_key``; evidence is never edited or removed.
    """

    __tablename__ = "claim_documents"
    __table_args__ = (Index("ix_claim_documents_claim", "claim_id", "id"),)

    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    kind: Mapped[DocumentKind] = mapped_column(enum_type(DocumentKind))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("document_requests.id"), comment="The staff request it answers, if any")

    claim: Mapped[Claim] = relationship(back_populates="documents")


class DocumentRequest(PartyRequest, PrimaryKey, Base):
    """Staff asking the buyer for documents, due 7 days (of 24 h) later; answered when the
    documents arrive."""

    __tablename__ = "document_requests"
    __table_args__ = (
        *PartyRequest.constraints(),
        Index("ix_document_requests_open", "claim_id", "answered_at"),
        ForeignKeyConstraint(["claim_id", "buyer_id", "seller_id"],
                             ["claims.id", "claims.buyer_id", "claims.seller_id"],
                             name="fk_document_requests_claim_parties"),
    )

    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    what: Mapped[str] = mapped_column(Text, comment="The documents asked for, in staff's words")

    claim: Mapped[Claim] = relationship(back_populates="document_requests",
                                        foreign_keys=[claim_id])
    requested_by: Mapped[User] = relationship()


class PayoutBatch(PrimaryKey, Base):
    """One CSV handed to the finance team. Its payouts are never exported again."""

    __tablename__ = "payout_batches"
    __table_args__ = (
        CheckConstraint("payout_count > 0 AND total_amount > 0", name="not_empty"),
        CheckConstraint("(marked_paid_at IS NULL) = (marked_paid_by_id IS NULL)",
                        name="marked_paid_by_someone"),
        # Four eyes (issue 20, migration 0022): whoever exported a batch never confirms it.
        CheckConstraint("marked_paid_by_id <> created_by_id", name="confirmer_not_exporter"),
        # What a payout refers to with its copies of who exported and who confirmed it.
        Index("uq_payout_batches_exporter", "id", "created_by_id", unique=True),
        Index("uq_payout_batches_marker", "id", "marked_paid_by_id", unique=True),
    )

    created_at: Mapped[datetime] = mapped_column()
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    payout_count: Mapped[int] = mapped_column()
    total_amount: Mapped[int] = mapped_column(comment="grosze, sum of the batch's payouts")
    currency: Mapped[str] = mapped_column(CURRENCY, default="PLN")
    csv_sha256: Mapped[str] = mapped_column(String(64), comment="SHA-256 of the exported CSV")
    csv_storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    marked_paid_at: Mapped[datetime | None] = mapped_column()
    marked_paid_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    marked_paid_by: Mapped[User | None] = relationship(foreign_keys=[marked_paid_by_id])
    payouts: Mapped[list["Payout"]] = relationship(back_populates="batch", order_by="Payout.id",
                                                   foreign_keys="Payout.batch_id")


class Payout(PrimaryKey, Base):
    """The money an approved claim pays: exactly one per claim, plus one per appeal that
    raised the claim's amount (the difference; unique indexes on both).

    Beneficiary and account are copied at approval, so an exported batch says what was
    decided even if the buyer's name changes later.
    """

    __tablename__ = "payouts"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("(state = 'pending') = (batch_id IS NULL)", name="batched_unless_pending"),
        # A returned transfer was paid first: it keeps when and by whom (migration 0022).
        CheckConstraint("(state IN ('paid', 'failed')) = (paid_at IS NOT NULL)",
                        name="paid_iff_paid_at"),
        Index("ix_payouts_state", "state", "id"),
        Index("ix_payouts_account", "account"),
        # One payout per claim, and one per appeal that raised its amount (migration 0017),
        # besides the re-issues of returned transfers: one per failed payout (migration 0022).
        Index("uq_payouts_claim", "claim_id", unique=True,
              sqlite_where=text("appeal_id IS NULL AND reissue_of_id IS NULL"),
              postgresql_where=text("appeal_id IS NULL AND reissue_of_id IS NULL")),
        Index("uq_payouts_appeal", "appeal_id", unique=True,
              sqlite_where=text("appeal_id IS NOT NULL AND reissue_of_id IS NULL"),
              postgresql_where=text("appeal_id IS NOT NULL AND reissue_of_id IS NULL")),
        # A re-issue pays the same claim (and appeal) as the payout it replaces.
        Index("uq_payouts_id_claim", "id", "claim_id", unique=True),
        ForeignKeyConstraint(["reissue_of_id", "claim_id"], ["payouts.id", "payouts.claim_id"],
                             name="fk_payouts_reissue_same_claim"),
        CheckConstraint("reissue_of_id IS NULL OR reissue_of_id <> id", name="reissue_not_self"),
        # Returned by the bank: when, by whom (finance, not a party) and why.
        CheckConstraint("(state = 'failed') = (failed_at IS NOT NULL)",
                        name="failed_iff_failed_at"),
        CheckConstraint("(failed_at IS NULL) = (failed_by_id IS NULL) "
                        "AND (failed_at IS NULL) = (failure_reason IS NULL)",
                        name="failure_has_who_and_why"),
        CheckConstraint("failed_by_id <> buyer_id AND failed_by_id <> seller_id",
                        name="failer_not_a_party"),
        # The account is shared with another buyer: a senior released it with a note.
        CheckConstraint("(released_at IS NULL) = (released_by_id IS NULL) "
                        "AND (released_at IS NULL) = (release_note IS NULL)",
                        name="release_has_who_and_why"),
        CheckConstraint("released_by_id <> buyer_id AND released_by_id <> seller_id",
                        name="releaser_not_a_party"),
        # Nobody exports or confirms the payout of a claim they are a party to (migration
        # 0013). The batch is one row for many payouts, so each payout carries who exported
        # and who confirmed it, tied to its batch by foreign keys, next to its claim's
        # parties, tied to the claim.
        CheckConstraint("(batch_id IS NULL) = (exported_by_id IS NULL)",
                        name="exported_by_iff_batched"),
        CheckConstraint("(state IN ('paid', 'failed')) = (marked_paid_by_id IS NOT NULL)",
                        name="marked_paid_by_iff_paid"),
        CheckConstraint("exported_by_id <> buyer_id AND exported_by_id <> seller_id",
                        name="exporter_not_a_party"),
        CheckConstraint("marked_paid_by_id <> buyer_id AND marked_paid_by_id <> seller_id",
                        name="marker_not_a_party"),
        ForeignKeyConstraint(["claim_id", "buyer_id", "seller_id"],
                             ["claims.id", "claims.buyer_id", "claims.seller_id"],
                             name="fk_payouts_claim_parties"),
        # Four eyes (migration 0021): a claim's payout copies its claim's approvals, tied
        # to the claim by foreign keys. Its first approver is never empty (the flag never
        # is), so the first key is always checked: a claim nobody approved has no first
        # approver to match. A claim needing a second approval gives its payout the flag,
        # which needs a second approver, which must be the claim's (the second key), so a
        # payout for a claim awaiting it, or approved by one person alone, is refused. An
        # appeal's payout (appeal_id) rests on the appeal's decision instead, taken by a
        # senior other than the decider (appeals.models): it copies no claim approval.
        CheckConstraint("NOT requires_second_approval OR second_approver_id IS NOT NULL",
                        name="second_approval_if_required"),
        CheckConstraint("appeal_id IS NOT NULL OR first_approver_id IS NOT NULL",
                        name="claim_payout_has_approver"),
        CheckConstraint("second_approver_id <> first_approver_id",
                        name="second_approver_not_first"),
        ForeignKeyConstraint(["claim_id", "first_approver_id", "requires_second_approval"],
                             ["claims.id", "claims.first_approver_id",
                              "claims.requires_second_approval"],
                             name="fk_payouts_claim_approvals"),
        ForeignKeyConstraint(["claim_id", "second_approver_id"],
                             ["claims.id", "claims.second_approver_id"],
                             name="fk_payouts_claim_second_approver"),
        ForeignKeyConstraint(["batch_id", "exported_by_id"],
                             ["payout_batches.id", "payout_batches.created_by_id"],
                             name="fk_payouts_batch_exporter"),
        ForeignKeyConstraint(["batch_id", "marked_paid_by_id"],
                             ["payout_batches.id", "payout_batches.marked_paid_by_id"],
                             name="fk_payouts_batch_marker"),
    )

    claim_id: Mapped[int] = mapped_column(ForeignKey("claims.id"))
    appeal_id: Mapped[int | None] = mapped_column(
        ForeignKey("appeals.id"),
        comment="An appeal that raised the claim's amount: this pays the difference")
    buyer_id: Mapped[int] = mapped_column(comment="= claim.buyer_id")
    seller_id: Mapped[int] = mapped_column(comment="= claim.seller_id")
    amount: Mapped[int] = mapped_column(comment="grosze = claim.approved_amount")
    currency: Mapped[str] = mapped_column(CURRENCY, default="PLN")
    beneficiary_name: Mapped[str] = mapped_column(String(120))
    account: Mapped[str] = mapped_column(String(34), comment="IBAN, no spaces")
    state: Mapped[PayoutState] = mapped_column(enum_type(PayoutState),
                                               default=PayoutState.PENDING)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("payout_batches.id"), index=True)
    created_at: Mapped[datetime] = mapped_column()
    paid_at: Mapped[datetime | None] = mapped_column()
    exported_by_id: Mapped[int | None] = mapped_column(comment="= batch.created_by_id")
    marked_paid_by_id: Mapped[int | None] = mapped_column(comment="= batch.marked_paid_by_id")
    first_approver_id: Mapped[int | None] = mapped_column(
        comment="= claim.first_approver_id; empty only for an appeal's payout")
    requires_second_approval: Mapped[bool] = mapped_column(
        Boolean, default=False, comment="= claim.requires_second_approval")
    second_approver_id: Mapped[int | None] = mapped_column(comment="= claim.second_approver_id")
    failed_at: Mapped[datetime | None] = mapped_column(
        comment="When finance recorded that the bank returned the transfer")
    failed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    failure_reason: Mapped[str | None] = mapped_column(
        Text, comment="The bank's reason for the return, in finance's words")
    reissue_of_id: Mapped[int | None] = mapped_column(
        unique=True, comment="The returned payout this one pays again (to the corrected account)")
    released_at: Mapped[datetime | None] = mapped_column(
        comment="A senior let a payout to an account shared with another buyer go out")
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    release_note: Mapped[str | None] = mapped_column(Text)

    @classmethod
    def approvals_of(cls, claim: "Claim") -> dict:
        """The claim's approvals as a payout copies them."""
        return {"first_approver_id": claim.first_approver_id,
                "requires_second_approval": claim.requires_second_approval,
                "second_approver_id": claim.second_approver_id}

    claim: Mapped[Claim] = relationship(foreign_keys=[claim_id])
    batch: Mapped[PayoutBatch | None] = relationship(back_populates="payouts",
                                                     foreign_keys=[batch_id])
    failed_by: Mapped[User | None] = relationship(foreign_keys=[failed_by_id])
    released_by: Mapped[User | None] = relationship(foreign_keys=[released_by_id])
    reissue_of: Mapped["Payout | None"] = relationship(
        remote_side="Payout.id", foreign_keys=[reissue_of_id], back_populates="reissue",
        primaryjoin="Payout.reissue_of_id == Payout.id")
    reissue: Mapped["Payout | None"] = relationship(
        foreign_keys=[reissue_of_id], back_populates="reissue_of",
        primaryjoin="Payout.reissue_of_id == Payout.id", uselist=False, viewonly=True)

    @property
    def awaits_account(self) -> bool:
        """Returned by the bank and not yet paid again: the buyer must give an account."""
        return self.state is PayoutState.FAILED and self.reissue is None


class ImpactRunState(StrEnum):
    QUEUED = "queued"  # asked for; the background task has not started
    RUNNING = "running"  # the task is replaying the claims (processed of total)
    DONE = "done"  # the figures are in ``result``
    FAILED = "failed"  # the task failed; the admin may ask again


UNFINISHED_IMPACT_STATES = frozenset({ImpactRunState.QUEUED, ImpactRunState.RUNNING})
_UNFINISHED_IMPACT = text("state IN ('queued', 'running')")


class ImpactRun(PrimaryKey, Base):
    """One replay of the claims of a period under a policy version (:mod:`claims.impact`),
    run in the background: its progress while it runs, its figures once done."""

    __tablename__ = "impact_runs"
    __table_args__ = (
        # A second request for the same version and period while one runs joins it.
        Index("uq_impact_runs_unfinished", "version_id", "period_start", "period_end",
              unique=True, sqlite_where=_UNFINISHED_IMPACT,
              postgresql_where=_UNFINISHED_IMPACT),
        Index("ix_impact_runs_version_period", "version_id", "period_start", "period_end"),
        CheckConstraint("period_start <= period_end", name="period_in_order"),
        CheckConstraint("processed >= 0 AND (total IS NULL OR processed <= total)",
                        name="processed_within_total"),
        CheckConstraint("(state = 'done') = (result IS NOT NULL)", name="result_iff_done"),
        CheckConstraint("state NOT IN ('done', 'failed') OR finished_at IS NOT NULL",
                        name="finished_has_time"),
    )

    version_id: Mapped[int] = mapped_column(ForeignKey("policy_versions.id", ondelete="CASCADE"))
    period_start: Mapped[date] = mapped_column(Date, comment="first Warsaw day of the claims")
    period_end: Mapped[date] = mapped_column(Date, comment="last Warsaw day, included")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    state: Mapped[ImpactRunState] = mapped_column(enum_type(ImpactRunState),
                                                  default=ImpactRunState.QUEUED)
    processed: Mapped[int] = mapped_column(default=0, comment="claims replayed so far")
    total: Mapped[int | None] = mapped_column(comment="claims in the period, once counted")
    result: Mapped[dict | None] = mapped_column(
        JSON, comment="the figures (grosze) and the largest changes, once done")
    error: Mapped[str | None] = mapped_column(String(200), comment="why it failed (no data)")
    requested_at: Mapped[datetime] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()

    version: Mapped[PolicyVersion] = relationship()
    requested_by: Mapped[User] = relationship()

    @property
    def is_unfinished(self) -> bool:
        return self.state in UNFINISHED_IMPACT_STATES

    @property
    def percent(self) -> int:
        if self.state is ImpactRunState.DONE:
            return 100
        return 100 * self.processed // self.total if self.total else 0
