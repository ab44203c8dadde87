from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from arbiter.db import AppendOnly, Base, PrimaryKey
from signals.policy import NOTE_MAX


class AccountNote(AppendOnly, PrimaryKey, Base):
    """What a member of staff wrote about an account while looking at its signals.

    Append-only (the ORM here, a trigger in the database: migration 0023); a correction is
    a new note. Each note is also an audit entry (``account.note_added``). Staff never
    write about their own account (a CHECK).
    """

    __tablename__ = "account_notes"
    __table_args__ = (
        Index("ix_account_notes_user", "user_id", "created_at"),
        CheckConstraint(f"length(body) BETWEEN 1 AND {NOTE_MAX}", name="body_length"),
        CheckConstraint("author_id <> user_id", name="not_about_the_author"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"),
                                         comment="The account the note is about")
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"),
                                           comment="The member of staff who wrote it")
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column()

    author: Mapped[User] = relationship(foreign_keys=[author_id])
