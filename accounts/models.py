from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from arbiter.db import Base, PrimaryKey, Timestamps


class User(UserMixin, PrimaryKey, Timestamps, Base):
    """A marketplace member. Anyone can buy and sell; ``is_staff`` marks platform advisors."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        CheckConstraint("locale IS NULL OR locale IN ('pl', 'en')", name="locale_known"),
    )

    email: Mapped[str] = mapped_column(String(254), unique=True, comment="lower-cased login")
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255), comment="argon2id")
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    locale: Mapped[str | None] = mapped_column(String(5), comment="preferred language")
    password_changed_at: Mapped[datetime | None] = mapped_column()

    sessions: Mapped[list["UserSession"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True
    )

    # Set on the instance Flask-Login holds for this request: the raw session token
    # (never stored; the table keeps its hash).
    session_token = None
    # Figures for the page chrome read together with the session (accounts.services).
    page_extras = None

    def get_id(self) -> str | None:
        return self.session_token

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class UserSession(PrimaryKey, Base):
    """One logged-in browser. Deleting the row ends that session, whatever the cookie says."""

    __tablename__ = "user_sessions"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, comment="SHA-256 of token")
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()
    user_agent: Mapped[str | None] = mapped_column(String(255))

    user: Mapped[User] = relationship(back_populates="sessions")
