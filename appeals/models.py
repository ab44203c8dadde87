from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
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
from appeals.states import OPEN_STATES, TERMINAL_STATES, AppealState, Appellant, Role, Subject
from arbiter.db import AppendOnly, Base, PrimaryKey, Timestamps, enum_type, values_in
from arbiter.files import EvidenceFile
from orders.models import Order, order_parties_fk
from orders.policy import conflicted

STATEMENT_MIN, STATEMENT_MAX = 30, 20_000
RATIONALE_MIN = 30


class Appeal(PrimaryKey, Timestamps, Base):
    """One party's appeal against one decision: a discussion's verdict or a claim's decision.

    The original decider is copied from the decision and tied to it by a composite foreign
    key, so the database itself refuses them as the appeal's reviewer.
    """

    __tablename__ = "appeals"
    __table_args__ = (
        CheckConstraint("(subject = 'verdict') = (discussion_id IS NOT NULL) AND "
                        "(subject = 'claim') = (claim_id IS NOT NULL)",
                        name="subject_names_its_decision"),
        CheckConstraint(f"length(statement) BETWEEN {STATEMENT_MIN} AND {STATEMENT_MAX}",
                        name="statement_length"),
        CheckConstraint("answer_due_at > filed_at AND review_due_at > filed_at",
                        name="deadlines_after_filing"),
        CheckConstraint("(respondent_answered_at IS NULL) = (respondent_statement IS NULL)",
                        name="answer_has_statement"),
        CheckConstraint("original_amount >= 0", name="original_amount_not_negative"),
        # A second pair of eyes: never the decision's own author, never a party.
        CheckConstraint("reviewer_id <> original_decider_id", name="reviewer_not_the_decider"),
        CheckConstraint("reviewer_id <> buyer_id AND reviewer_id <> seller_id",
                        name="reviewer_not_a_party"),
        CheckConstraint(f"NOT ({values_in('state', OPEN_STATES - {AppealState.SUBMITTED})}) "
                        "OR (reviewer_id IS NOT NULL AND taken_at IS NOT NULL)",
                        name="reviewed_has_reviewer"),
        CheckConstraint(
            f"({values_in('state', TERMINAL_STATES)}) = (decided_at IS NOT NULL) AND "
            f"(decided_at IS NULL OR (reviewer_id IS NOT NULL AND "
            f"length(rationale) >= {RATIONALE_MIN} AND new_amount IS NOT NULL))",
            name="decided_has_reasons"),
        CheckConstraint("new_amount IS NULL OR new_amount >= 0", name="new_amount_not_negative"),
        CheckConstraint("state <> 'varied' OR new_amount <> original_amount",
                        name="varied_changes_the_amount"),
        CheckConstraint("state <> 'upheld' OR new_amount = original_amount",
                        name="upheld_keeps_the_amount"),
        order_parties_fk("appeals"),
        ForeignKeyConstraint(["discussion_id", "original_decider_id"],
                             ["discussions.id", "discussions.decided_by_id"],
                             name="fk_appeals_verdict_decider"),
        ForeignKeyConstraint(["claim_id", "original_decider_id"],
                             ["claims.id", "claims.decided_by_id"],
                             name="fk_appeals_claim_decider"),
        # Once per decision per party (database-enforced).
        Index("uq_appeals_verdict_appellant", "discussion_id", "appellant", unique=True,
              sqlite_where=text("discussion_id IS NOT NULL"),
              postgresql_where=text("discussion_id IS NOT NULL")),
        Index("uq_appeals_claim_appellant", "claim_id", "appellant", unique=True,
              sqlite_where=text("claim_id IS NOT NULL"),
              postgresql_where=text("claim_id IS NOT NULL")),
        Index("ix_appeals_queue", "state", "filed_at", "id"),
        Index("ix_appeals_order", "order_id", "id"),
    )

    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), comment="= order.buyer_id")
    seller_id: Mapped[int] = mapped_column(ForeignKey("users.id"), comment="= order.seller_id")
    subject: Mapped[Subject] = mapped_column(enum_type(Subject, name="appeal_subject"))
    discussion_id: Mapped[int | None] = mapped_column(
        ForeignKey("discussions.id"), comment="The verdict appealed")
    claim_id: Mapped[int | None] = mapped_column(
        ForeignKey("claims.id"), comment="The claim whose decision is appealed")
    original_decider_id: Mapped[int] = mapped_column(
        ForeignKey("users.id"), comment="= the decision's decided_by_id")
    original_amount: Mapped[int] = mapped_column(
        comment="grosze the appealed decision granted the buyer (0: nothing)")
    appellant: Mapped[Appellant] = mapped_column(enum_type(Appellant))
    statement: Mapped[str] = mapped_column(Text)
    filed_at: Mapped[datetime] = mapped_column()
    answer_due_at: Mapped[datetime] = mapped_column(
        comment="filed_at + 72 h (+ extensions): the other party's statement")
    respondent_statement: Mapped[str | None] = mapped_column(Text)
    respondent_answered_at: Mapped[datetime | None] = mapped_column()
    review_due_at: Mapped[datetime] = mapped_column(
        comment="filed_at + 14 days (+ extensions): the service level for a decision")
    state: Mapped[AppealState] = mapped_column(enum_type(AppealState),
                                               default=AppealState.SUBMITTED)
    reviewer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    taken_at: Mapped[datetime | None] = mapped_column()
    new_amount: Mapped[int | None] = mapped_column(
        comment="grosze the appeal decision grants the buyer (= original when upheld)")
    rationale: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column()

    order: Mapped[Order] = relationship(foreign_keys=[order_id])
    buyer: Mapped[User] = relationship(foreign_keys=[buyer_id])
    seller: Mapped[User] = relationship(foreign_keys=[seller_id])
    reviewer: Mapped[User | None] = relationship(foreign_keys=[reviewer_id])
    original_decider: Mapped[User] = relationship(foreign_keys=[original_decider_id])
    files: Mapped[list["AppealFile"]] = relationship(back_populates="appeal",
                                                     order_by="AppealFile.id")
    reads: Mapped[list["EvidenceRead"]] = relationship(back_populates="appeal",
                                                       order_by="EvidenceRead.id")

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @property
    def appellant_id(self) -> int:
        return self.buyer_id if self.appellant is Appellant.BUYER else self.seller_id

    @property
    def respondent_id(self) -> int:
        return self.seller_id if self.appellant is Appellant.BUYER else self.buyer_id

    def role_of(self, user) -> Role | None:
        if not getattr(user, "is_authenticated", False):
            return None
        if user.id == self.appellant_id:
            return Role.APPELLANT
        if user.id == self.respondent_id:
            return Role.RESPONDENT
        if user.is_staff:
            return Role.STAFF
        return None

    def can_view(self, user) -> bool:
        return self.role_of(user) is not None

    def can_review(self, user) -> bool:
        """Staff who neither made the decision nor are a party to the case."""
        return (getattr(user, "is_authenticated", False) and user.has_role(StaffRole.SENIOR)
                and user.id != self.original_decider_id and not conflicted(user, self))


class AppealFile(EvidenceFile, AppendOnly, PrimaryKey, Base):
    """New evidence a party adds to an appeal (the shared file rules)."""

    __tablename__ = "appeal_files"
    __table_args__ = (Index("ix_appeal_files_appeal", "appeal_id", "id"),)

    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id"))
    party: Mapped[Appellant] = mapped_column(enum_type(Appellant, name="appeal_file_party"))

    appeal: Mapped[Appeal] = relationship(back_populates="files")


class EvidenceRead(AppendOnly, PrimaryKey, Base):
    """The reviewer marked one piece of the case's evidence read (``item`` is its key, e.g.
    ``attachment:12``). The decision waits until every item is marked."""

    __tablename__ = "appeal_evidence_reads"
    __table_args__ = (Index("uq_appeal_evidence_reads_item", "appeal_id", "item", unique=True),)

    appeal_id: Mapped[int] = mapped_column(ForeignKey("appeals.id"))
    item: Mapped[str] = mapped_column(String(64))
    read_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    read_at: Mapped[datetime] = mapped_column()

    appeal: Mapped[Appeal] = relationship(back_populates="reads")
