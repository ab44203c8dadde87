from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from arbiter.db import AppendOnly, Base, PrimaryKey, Timestamps, enum_type
from incidents.states import DeadlineKind, IncidentState, UpdateKind

_OPEN = text("state = 'open'")

# Staff write every public text in Polish (required) and English (optional).
WRITTEN_IN = ("pl", "en")
REQUIRED_LANGUAGE = "pl"


@dataclass(frozen=True)
class Localized:
    """A public text in the reader's language, or in Polish when staff have not written
    that language yet (``fallback``: the page then says so, and marks the text's ``lang``
    so screen readers pronounce it right)."""

    text: str
    lang: str
    fallback: bool

    def __str__(self) -> str:
        return self.text


def localized(polish: str, english: str | None, locale: str) -> Localized:
    """Pick the reader's language; Polish, marked as a fallback, where English is missing."""
    if locale == "en" and english:
        return Localized(english, "en", False)
    return Localized(polish, REQUIRED_LANGUAGE, locale != REQUIRED_LANGUAGE)


def _length(column: str, maximum: int, *, required: bool):
    check = f"length({column}) BETWEEN 1 AND {maximum}"
    return CheckConstraint(check if required else f"{column} IS NULL OR {check}",
                           name=f"{column}_length")


class Bilingual:
    """Rows whose public texts exist as ``<field>_pl`` and ``<field>_en`` columns."""

    def text_in(self, field: str, locale: str) -> Localized:
        return localized(getattr(self, f"{field}_pl"), getattr(self, f"{field}_en"), locale)


class Incident(Bilingual, PrimaryKey, Timestamps, Base):
    """A failure of the platform itself, as staff declared it, and its window.

    ``started_at`` may lie before the declaration (incidents are often noticed late);
    ``ended_at`` is set when staff resolve it. The window decides which deadlines are
    extended, so changing it is a transition of its own (audited, recomputed).
    """

    __tablename__ = "incidents"
    __table_args__ = (
        # The banner on every page asks for the open incidents: a tiny partial index.
        Index("ix_incidents_open", "started_at", sqlite_where=_OPEN, postgresql_where=_OPEN),
        Index("ix_incidents_ended", "ended_at"),
        CheckConstraint("(state = 'resolved') = (ended_at IS NOT NULL)",
                        name="ended_iff_resolved"),
        CheckConstraint("ended_at IS NULL OR ended_at > started_at", name="ends_after_start"),
        _length("title_pl", 200, required=True),
        _length("title_en", 200, required=False),
        _length("impact_pl", 5000, required=True),
        _length("impact_en", 5000, required=False),
    )

    # Optimistic locking: a concurrent change of the same row fails instead of overwriting.
    version: Mapped[int] = mapped_column(default=1)
    __mapper_args__ = {"version_id_col": version}

    title_pl: Mapped[str] = mapped_column(
        String(200), comment="Public: shown on /status (Polish, required)")
    title_en: Mapped[str | None] = mapped_column(
        String(200), comment="Public: shown on /status (English, optional)")
    impact_pl: Mapped[str] = mapped_column(
        Text, comment="Public: what users cannot do (Polish, required)")
    impact_en: Mapped[str | None] = mapped_column(
        Text, comment="Public: what users cannot do (English, optional)")
    affected_services: Mapped[list[str]] = mapped_column(
        JSON, comment="AffectedService codes; decide which deadlines are extended")
    state: Mapped[IncidentState] = mapped_column(enum_type(IncidentState),
                                                 default=IncidentState.OPEN)
    started_at: Mapped[datetime] = mapped_column(comment="Start of the window (UTC)")
    ended_at: Mapped[datetime | None] = mapped_column(
        comment="End of the window (UTC); set on resolution")
    declared_at: Mapped[datetime] = mapped_column()
    declared_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))

    declared_by: Mapped[User] = relationship()
    updates: Mapped[list["IncidentUpdate"]] = relationship(
        back_populates="incident",
        order_by=lambda: (IncidentUpdate.posted_at, IncidentUpdate.id))

    @property
    def is_open(self) -> bool:
        return self.state is IncidentState.OPEN


class IncidentUpdate(Bilingual, AppendOnly, PrimaryKey, Base):
    """One public message about an incident. Append-only: what users were told stays."""

    __tablename__ = "incident_updates"
    __table_args__ = (
        Index("ix_incident_updates_timeline", "incident_id", "posted_at", "id"),
        # Resolving posts the one "resolved" update; the database refuses a second.
        Index("uq_incident_updates_resolved", "incident_id", unique=True,
              sqlite_where=text("kind = 'resolved'"),
              postgresql_where=text("kind = 'resolved'")),
        _length("body_pl", 5000, required=True),
        _length("body_en", 5000, required=False),
    )

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    kind: Mapped[UpdateKind] = mapped_column(enum_type(UpdateKind))
    body_pl: Mapped[str] = mapped_column(Text, comment="Public (Polish, required)")
    body_en: Mapped[str | None] = mapped_column(Text, comment="Public (English, optional)")
    posted_at: Mapped[datetime] = mapped_column()
    posted_by_id: Mapped[int] = mapped_column(
        ForeignKey("users.id"), comment="Staff only; never shown publicly")

    incident: Mapped[Incident] = relationship(back_populates="updates")
    posted_by: Mapped[User] = relationship()


class DeadlineExtension(AppendOnly, PrimaryKey, Base):
    """One deadline moved later because of one incident: the proof it happened once.

    ``object_id`` is the id of the discussion, information request, document request or
    (for the claim filing window) order, as ``deadline_kind`` says. The unique constraint
    is what makes a repeated or concurrent extension run a no-op.
    """

    __tablename__ = "deadline_extensions"
    __table_args__ = (
        UniqueConstraint("incident_id", "deadline_kind", "object_id",
                         name="uq_deadline_extensions_once"),
        Index("ix_deadline_extensions_target", "deadline_kind", "object_id"),
        CheckConstraint("hours > 0", name="hours_positive"),
        CheckConstraint("due_after > due_before", name="moves_later"),
    )

    incident_id: Mapped[int] = mapped_column(ForeignKey("incidents.id"))
    deadline_kind: Mapped[DeadlineKind] = mapped_column(enum_type(DeadlineKind, length=40))
    object_id: Mapped[int] = mapped_column()
    hours: Mapped[int] = mapped_column()
    due_before: Mapped[datetime] = mapped_column()
    due_after: Mapped[datetime] = mapped_column()
    applied_at: Mapped[datetime] = mapped_column()

    incident: Mapped[Incident] = relationship()


class ProblemReport(PrimaryKey, Base):
    """A user telling staff that the platform failed them ("Report a problem")."""

    __tablename__ = "problem_reports"
    __table_args__ = (
        Index("ix_problem_reports_reported", "reported_at", "id"),
        Index("ix_problem_reports_incident", "incident_id"),
        CheckConstraint("length(what_happened) BETWEEN 1 AND 5000",
                        name="what_happened_length"),
        CheckConstraint("length(doing) BETWEEN 1 AND 5000", name="doing_length"),
        CheckConstraint(
            "(screenshot_key IS NULL) = (screenshot_sha256 IS NULL) "
            "AND (screenshot_key IS NULL) = (screenshot_filename IS NULL)",
            name="screenshot_complete"),
        CheckConstraint("(incident_id IS NULL) = (linked_at IS NULL)",
                        name="linked_iff_incident"),
    )

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    what_happened: Mapped[str] = mapped_column(Text)
    happened_at: Mapped[datetime] = mapped_column(comment="When it happened, as the user says")
    doing: Mapped[str] = mapped_column(Text, comment="What the user was doing")
    screenshot_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    screenshot_sha256: Mapped[str | None] = mapped_column(String(64))
    screenshot_filename: Mapped[str | None] = mapped_column(
        String(120), comment="as shown (sanitised)")
    screenshot_content_type: Mapped[str | None] = mapped_column(String(40))
    reported_at: Mapped[datetime] = mapped_column()
    acknowledged_at: Mapped[datetime | None] = mapped_column(
        comment="When the user was told the report arrived")
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incidents.id"))
    linked_at: Mapped[datetime | None] = mapped_column()
    linked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    linked_by: Mapped[User | None] = relationship(foreign_keys=[linked_by_id])
    incident: Mapped[Incident | None] = relationship()
