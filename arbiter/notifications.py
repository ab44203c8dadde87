"""In-app notifications and the e-mail outbox.

Both are rows written in the same transaction as the change they announce: if the change
rolls back, nobody is told; if it commits, the outbox row is delivered afterwards by the
background worker (never inside the request).
"""

from datetime import datetime
from enum import StrEnum

from flask_babel import format_datetime
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from arbiter import clock
from arbiter.db import Base, PrimaryKey, enum_type
from arbiter.extensions import db


class OutboxState(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DEAD = "dead"


class Notification(PrimaryKey, Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_user_unread", "user_id", "read_at"),)

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(64), comment="e.g. discussion.opened")
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[int] = mapped_column()
    context: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    read_at: Mapped[datetime | None] = mapped_column()


class OutboxEmail(PrimaryKey, Base):
    __tablename__ = "outbox_emails"
    __table_args__ = (Index("ix_outbox_emails_state_due", "state", "send_after"),)

    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    to_address: Mapped[str] = mapped_column(String(254))
    template: Mapped[str] = mapped_column(String(64), comment="templates/emails/<template>/")
    locale: Mapped[str] = mapped_column(String(5))
    context: Mapped[dict] = mapped_column(JSON, default=dict)
    state: Mapped[OutboxState] = mapped_column(enum_type(OutboxState),
                                               default=OutboxState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    send_after: Mapped[datetime] = mapped_column(default=clock.now)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column()


def notify(user, kind: str, obj, *, email: bool = True, **context) -> None:
    """Tell ``user`` about ``kind`` on ``obj``: in the app, and by e-mail via the outbox.

    A deleted (anonymised) account is told nothing: nobody reads it, and its address is a
    placeholder that must never reach a mail server.
    """
    if getattr(user, "deleted_at", None) is not None:
        return
    object_type = obj.__tablename__
    context = {key: value for key, value in context.items() if value is not None}
    db.session.add(Notification(user_id=user.id, kind=kind, object_type=object_type,
                                object_id=obj.id, context=context))
    if email:
        db.session.add(OutboxEmail(
            recipient_id=user.id, to_address=user.email, template=kind.replace(".", "_"),
            locale=user.locale or "pl",
            context={"kind": kind, "object_type": object_type, "object_id": obj.id, **context},
        ))


def unread_count(user) -> int:
    return db.session.scalar(unread_count_of(user.id)) or 0


def unread_count_of(user_id):
    """The number of unread notifications of ``user_id`` (a value or a correlated column)."""
    return (select(func.count(Notification.id))
            .where(Notification.user_id == user_id, Notification.read_at.is_(None)))


def recent(user, limit: int = 50) -> list[Notification]:
    return list(db.session.scalars(
        select(Notification).where(Notification.user_id == user.id)
        .order_by(Notification.id.desc()).limit(limit)
    ))


def mark_all_read(user) -> None:
    db.session.execute(
        update(Notification)
        .where(Notification.user_id == user.id, Notification.read_at.is_(None))
        .values(read_at=clock.now())
    )


# What each notification kind says in the app; feature packages add theirs at import.
TEXTS: dict[str, object] = {}


def register_texts(texts: dict[str, object]) -> None:
    TEXTS.update(texts)


def _for_people(key: str, value: object) -> object:
    """A moment kept in the context as an ISO string ("due_at", "contest_until") as the
    reader's language writes it, in Warsaw time ("12.12.2026, 20:33"); anything else as is."""
    if not (isinstance(value, str) and key.endswith(("_at", "_until"))):
        return value
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return format_datetime(clock.ensure_aware(moment), "short")


def text_for_kind(kind: str, context: dict) -> str:
    template = TEXTS.get(kind)
    if template is None:
        return kind
    try:
        return str(template) % {"id": context.get("object_id"),
                                **{key: _for_people(key, value)
                                   for key, value in context.items()}}
    except (KeyError, ValueError):  # an older row without a newer placeholder
        return str(template)


def text_for(notification: Notification) -> str:
    return text_for_kind(notification.kind,
                         {"object_id": notification.object_id, **(notification.context or {})})
