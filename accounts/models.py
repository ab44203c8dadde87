from datetime import datetime
from enum import StrEnum

from flask_login import UserMixin
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.roles import Role, effective
from arbiter.db import Base, PrimaryKey, Timestamps, enum_type


class User(UserMixin, PrimaryKey, Timestamps, Base):
    """A marketplace member. Anyone can buy and sell; staff hold one or more roles
    (:class:`RoleGrant`)."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("locale IS NULL OR locale IN ('pl', 'en')", name="locale_known"),
    )

    email: Mapped[str] = mapped_column(String(254), unique=True, comment="lower-cased login")
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255), comment="argon2id")
    locale: Mapped[str | None] = mapped_column(String(5), comment="preferred language")
    password_changed_at: Mapped[datetime | None] = mapped_column()
    deleted_at: Mapped[datetime | None] = mapped_column(
        comment="When the person deleted the account; the row is anonymised from then on")
    deactivated_at: Mapped[datetime | None] = mapped_column(
        comment="When an administrator deactivated the account (accounts.staff): no login, "
                "no session, no API token until reactivated")
    verified_at: Mapped[datetime | None] = mapped_column(
        comment="When the owner of the address opened the e-mailed link (accounts."
                "verification); empty: orders do not attach and only the account pages open")

    sessions: Mapped[list["UserSession"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )
    # Read with the user (one small query) because nearly every page asks what they may do.
    role_grants: Mapped[list["RoleGrant"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True,
        lazy="selectin", foreign_keys="RoleGrant.user_id", order_by="RoleGrant.role")

    # Set on the instance Flask-Login holds for this request: the raw session token
    # (never stored; the table keeps its hash).
    session_token = None
    # Figures for the page chrome read together with the session (accounts.services).
    page_extras = None
    # When this request's session passed the second factor (its row's second_factor_at),
    # read with the session; None: not (yet) for this session (accounts.second_factor).
    second_factor_at = None

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def is_deactivated(self) -> bool:
        return self.deactivated_at is not None

    @property
    def is_verified(self) -> bool:
        return self.verified_at is not None

    @property
    def roles(self) -> frozenset[Role]:
        """The staff roles this person holds, with the ones they include (senior: advisor)."""
        return effective(grant.role for grant in self.role_grants)

    @property
    def is_staff(self) -> bool:
        """Holds any staff role."""
        return bool(self.role_grants)

    def has_role(self, *roles: Role) -> bool:
        """Holds at least one of ``roles`` (directly or through a role that includes it)."""
        return not self.roles.isdisjoint(roles)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class RoleGrant(Base):
    """One role a staff member holds; granting and removing are audited (accounts.staff)."""

    __tablename__ = "staff_roles"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    role: Mapped[Role] = mapped_column(enum_type(Role, name="staffrole"), primary_key=True)
    granted_at: Mapped[datetime] = mapped_column()
    granted_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"),
        comment="who granted it; empty for the command line and the migration")

    user: Mapped[User] = relationship(back_populates="role_grants", foreign_keys=[user_id])


_PENDING_INVITATION = text("accepted_at IS NULL AND revoked_at IS NULL")


class StaffInvitation(PrimaryKey, Base):
    """An e-mailed, single-use invitation to join the staff with some roles (accounts.staff).

    Only the SHA-256 of the link's token is stored. Accepting creates the account (or, for an
    address that already has one, grants the roles once its owner has signed in); a newer
    invitation to the same address replaces a pending one.
    """

    __tablename__ = "staff_invitations"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        CheckConstraint("accepted_user_id IS NULL OR accepted_at IS NOT NULL",
                        name="accepted_by_someone"),
        CheckConstraint("accepted_at IS NULL OR revoked_at IS NULL", name="accepted_or_revoked"),
        # At most one pending invitation per address (database-enforced).
        Index("uq_staff_invitations_pending_email", "email", unique=True,
              sqlite_where=_PENDING_INVITATION, postgresql_where=_PENDING_INVITATION),
    )

    email: Mapped[str] = mapped_column(String(254))
    roles: Mapped[list[str]] = mapped_column(JSON, comment="the staff roles to grant")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, comment="SHA-256 of token")
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(comment="created_at + 72 hours")
    accepted_at: Mapped[datetime | None] = mapped_column()
    accepted_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"))
    revoked_at: Mapped[datetime | None] = mapped_column(
        comment="replaced by a newer invitation or withdrawn by an administrator")

    invited_by: Mapped[User | None] = relationship(foreign_keys=[invited_by_id])

    @property
    def is_pending(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None


_PENDING_VERIFICATION = text("used_at IS NULL AND revoked_at IS NULL")


class EmailVerification(PrimaryKey, Base):
    """An e-mailed, single-use link that proves the account's owner reads its address
    (accounts.verification); only the SHA-256 of its token is stored (accounts.links). A
    newer link (resent) replaces a pending one."""

    __tablename__ = "email_verifications"
    __table_args__ = (
        CheckConstraint("expires_at > created_at", name="expires_after_creation"),
        CheckConstraint("used_at IS NULL OR revoked_at IS NULL", name="used_or_revoked"),
        # At most one pending link per account (database-enforced).
        Index("uq_email_verifications_pending_user", "user_id", unique=True,
              sqlite_where=_PENDING_VERIFICATION, postgresql_where=_PENDING_VERIFICATION),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, comment="SHA-256 of token")
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column(comment="created_at + 24 hours")
    used_at: Mapped[datetime | None] = mapped_column()
    revoked_at: Mapped[datetime | None] = mapped_column(comment="replaced by a newer link")

    user: Mapped[User] = relationship()

    @property
    def is_pending(self) -> bool:
        return self.used_at is None and self.revoked_at is None


class UserSession(PrimaryKey, Base):
    """One logged-in browser. Deleting the row ends that session, whatever the cookie says."""

    __tablename__ = "user_sessions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, comment="SHA-256 of token")
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    user_agent: Mapped[str | None] = mapped_column(String(255))
    second_factor_at: Mapped[datetime | None] = mapped_column(
        comment="when this session passed the second factor; a staff session without it "
                "reaches only the second-factor pages (accounts.second_factor)")

    user: Mapped[User] = relationship(back_populates="sessions")


class ExportState(StrEnum):
    REQUESTED = "requested"  # queued, the background task has not started
    PREPARING = "preparing"  # the task is collecting the files (see ``progress``)
    READY = "ready"          # the ZIP is stored and downloadable until ``expires_at``
    FAILED = "failed"        # the task failed or never finished; the person may ask again
    EXPIRED = "expired"      # the sweeper deleted the ZIP after ``expires_at``


PENDING_EXPORT_STATES = frozenset({ExportState.REQUESTED, ExportState.PREPARING})
_PENDING = text("state IN ('preparing', 'requested')")


class DataExport(PrimaryKey, Base):
    """A "Download my data" request and the ZIP it produced (stored in ``storage``)."""

    __tablename__ = "data_exports"
    __table_args__ = (
        # At most one export in preparation per person (database-enforced).
        Index("uq_data_exports_user_pending", "user_id", unique=True,
              sqlite_where=_PENDING, postgresql_where=_PENDING),
        Index("ix_data_exports_user", "user_id", "requested_at"),
        Index("ix_data_exports_expiry", "expires_at",
              sqlite_where=text("state = 'ready'"), postgresql_where=text("state = 'ready'")),
        CheckConstraint("(state = 'ready') = (storage_key IS NOT NULL)", name="file_iff_ready"),
        CheckConstraint(
            "state <> 'ready' OR (ready_at IS NOT NULL AND expires_at IS NOT NULL "
            "AND sha256 IS NOT NULL AND size IS NOT NULL)",
            name="ready_is_complete"),
        CheckConstraint("expires_at IS NULL OR expires_at > ready_at",
                        name="expires_after_ready"),
        CheckConstraint("progress BETWEEN 0 AND 100", name="progress_percent"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    state: Mapped[ExportState] = mapped_column(enum_type(ExportState),
                                               default=ExportState.REQUESTED)
    progress: Mapped[int] = mapped_column(default=0, comment="per cent, while preparing")
    requested_at: Mapped[datetime] = mapped_column()
    started_at: Mapped[datetime | None] = mapped_column()
    ready_at: Mapped[datetime | None] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column(comment="ready_at + 7 days")
    finished_at: Mapped[datetime | None] = mapped_column(comment="failed or expired at")
    storage_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    sha256: Mapped[str | None] = mapped_column(String(64), comment="SHA-256 of the ZIP")
    size: Mapped[int | None] = mapped_column(comment="bytes")
    error: Mapped[str | None] = mapped_column(String(200), comment="why it failed (no data)")

    user: Mapped[User] = relationship()

    @property
    def is_pending(self) -> bool:
        return self.state in PENDING_EXPORT_STATES

    def is_owner(self, user) -> bool:
        return bool(getattr(user, "is_authenticated", False)) and user.id == self.user_id


class SecondFactor(Base):
    """A person's TOTP authenticator (RFC 6238), required of every staff member.

    Pending from the moment the secret is shown (``confirmed_at`` empty) until its owner
    types a current code; only then does it count. ``last_step`` is the time step of the last
    code accepted: a code is accepted only for a later step (no replay within its window).
    """

    __tablename__ = "second_factors"
    __table_args__ = (
        CheckConstraint("confirmed_at IS NOT NULL OR last_step IS NULL",
                        name="steps_once_confirmed"),
        CheckConstraint("last_step IS NULL OR last_step >= 0", name="step_not_negative"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"),
                                         primary_key=True)
    # Stored as it must be to compute codes (the authenticator app holds the same value);
    # never shown again after enrolment, never exported.
    secret: Mapped[str] = mapped_column(String(64), comment="base32 TOTP secret (160 bits)")
    created_at: Mapped[datetime] = mapped_column(comment="when the secret was shown")
    confirmed_at: Mapped[datetime | None] = mapped_column(
        comment="when its owner typed a first code; empty: enrolment not finished")
    last_step: Mapped[int | None] = mapped_column(
        comment="time step (unix time // 30) of the last accepted code")


class RecoveryCode(PrimaryKey, Base):
    """One of the ten single-use codes that stand in for the authenticator app; only its
    SHA-256 is stored (see :mod:`accounts.second_factor` for why not argon2)."""

    __tablename__ = "recovery_codes"
    __table_args__ = (
        UniqueConstraint("user_id", "code_hash", name="uq_recovery_codes_user_code"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(String(64), comment="SHA-256 of the code")
    created_at: Mapped[datetime] = mapped_column()
    used_at: Mapped[datetime | None] = mapped_column(comment="empty: still usable")
