"""Read-side queries: the banner, the status page, staff lists and extension notices.
Nothing here changes state.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, exists, func, or_, select, tuple_
from sqlalchemy.orm import joinedload, selectinload

from arbiter.extensions import db
from arbiter.pagination import Page, page_of, parse_cursor
from incidents import policy
from incidents.models import (
    Bilingual,
    DeadlineExtension,
    Incident,
    IncidentUpdate,
    ProblemReport,
)
from incidents.states import DeadlineKind, IncidentState


@dataclass(frozen=True)
class BannerIncident(Bilingual):
    id: int
    title_pl: str
    title_en: str | None


def open_incidents_for_banner() -> list[BannerIncident]:
    """The open incidents, oldest first: one small query on a partial index."""
    rows = db.session.execute(
        select(Incident.id, Incident.title_pl, Incident.title_en)
        .where(Incident.state == IncidentState.OPEN)
        .order_by(Incident.started_at, Incident.id))
    return [BannerIncident(*row) for row in rows]


def open_incident_count():
    """How many incidents are open: read with the session's user on every page, so the
    banner query runs only while there is something to show."""
    return select(func.count(Incident.id)).where(Incident.state == IncidentState.OPEN)


@dataclass(frozen=True)
class StatusPage:
    open: list[Incident]
    recent: list[Incident]

    @property
    def all_working(self) -> bool:
        return not self.open


def status(now: datetime) -> StatusPage:
    """Open incidents and those that ended in the last 90 days, newest first, with their
    updates, in two queries."""
    incidents = db.session.scalars(
        select(Incident)
        .where(or_(Incident.state == IncidentState.OPEN,
                   Incident.ended_at >= now - policy.RECENT_FOR))
        .options(selectinload(Incident.updates))
        .order_by(Incident.started_at.desc(), Incident.id.desc())).all()
    return StatusPage(open=[i for i in incidents if i.is_open],
                      recent=[i for i in incidents if not i.is_open])


@dataclass(frozen=True)
class StaffRow:
    incident: Incident
    last_update_at: datetime
    update_overdue: bool
    extended: int


def _last_updates():
    return (select(IncidentUpdate.incident_id,
                   func.max(IncidentUpdate.posted_at).label("last_update_at"))
            .group_by(IncidentUpdate.incident_id).subquery())


def _extension_counts():
    return (select(DeadlineExtension.incident_id, func.count().label("extended"))
            .group_by(DeadlineExtension.incident_id).subquery())


def staff_list(now: datetime, limit: int = 100) -> list[StaffRow]:
    """Open incidents first, then the newest; with the time of the last update and the
    number of extended deadlines, in one query."""
    last, counts = _last_updates(), _extension_counts()
    rows = db.session.execute(
        select(Incident, last.c.last_update_at, counts.c.extended)
        .outerjoin(last, last.c.incident_id == Incident.id)
        .outerjoin(counts, counts.c.incident_id == Incident.id)
        .order_by(case((Incident.state == IncidentState.OPEN, 0), else_=1),
                  Incident.started_at.desc(), Incident.id.desc())
        .limit(limit)).all()
    return [_staff_row(incident, last_update_at, extended, now)
            for incident, last_update_at, extended in rows]


def _staff_row(incident: Incident, last_update_at: datetime | None, extended: int | None,
               now: datetime) -> StaffRow:
    # Before the first update, the declaration is what users last heard.
    last = last_update_at or incident.declared_at
    return StaffRow(incident, last, incident.is_open and policy.update_overdue(last, now),
                    extended or 0)


def staff_row(incident: Incident, now: datetime) -> StaffRow:
    last_update_at = max((u.posted_at for u in incident.updates), default=None)
    extended = db.session.scalar(
        select(func.count()).select_from(DeadlineExtension)
        .where(DeadlineExtension.incident_id == incident.id))
    return _staff_row(incident, last_update_at, extended, now)


def incident_page(incident_id: int) -> Incident | None:
    """An incident with its timeline and who posted it (staff pages only)."""
    return db.session.scalar(
        select(Incident).where(Incident.id == incident_id)
        .options(joinedload(Incident.declared_by),
                 selectinload(Incident.updates).joinedload(IncidentUpdate.posted_by)))


def extension_counts(incident_id: int) -> dict[DeadlineKind, int]:
    rows = db.session.execute(
        select(DeadlineExtension.deadline_kind, func.count())
        .where(DeadlineExtension.incident_id == incident_id)
        .group_by(DeadlineExtension.deadline_kind))
    return {kind: count for kind, count in rows}


def has_extensions(incident_id: int) -> bool:
    return db.session.scalar(
        select(DeadlineExtension.id).where(DeadlineExtension.incident_id == incident_id)
        .limit(1)) is not None


def filing_window_extension(order_id: int) -> timedelta:
    """How much later incidents moved the end of this order's claim filing window."""
    return extension_of(DeadlineKind.FILING_WINDOW, order_id)


def extension_of(kind: DeadlineKind, object_id: int) -> timedelta:
    """How much later incidents moved a deadline that is computed, not stored (a window
    from a start), for one object."""
    hours = db.session.scalar(
        select(func.coalesce(func.sum(DeadlineExtension.hours), 0))
        .where(DeadlineExtension.deadline_kind == kind,
               DeadlineExtension.object_id == object_id))
    return timedelta(hours=int(hours or 0))


@dataclass(frozen=True)
class ExtensionNotice(Bilingual):
    incident_id: int
    title_pl: str
    title_en: str | None
    hours: int


def deadline_extended(kinds: Iterable[DeadlineKind], object_id):
    """Whether an incident extended one of these deadlines of ``object_id`` (a value or a
    correlated column): an EXISTS a page's main query can carry, so the page runs
    :func:`extension_notices` only when there is something to show."""
    return exists().where(DeadlineExtension.deadline_kind.in_(list(kinds)),
                          DeadlineExtension.object_id == object_id)


def extension_notices(targets: Iterable[tuple[Iterable[DeadlineKind], Iterable[int]]]
                      ) -> list[ExtensionNotice]:
    """One notice per incident that extended any of these deadlines.

    ``targets`` pairs deadline kinds with the ids of their objects, e.g. the discussion
    deadlines with the discussion's id and information requests with its requests' ids.
    """
    conditions = []
    for kinds, ids in targets:
        ids = list(ids)
        if ids:
            conditions.append(and_(DeadlineExtension.deadline_kind.in_(list(kinds)),
                                   DeadlineExtension.object_id.in_(ids)))
    if not conditions:
        return []
    rows = db.session.execute(
        select(Incident.id, Incident.title_pl, Incident.title_en,
               func.max(DeadlineExtension.hours))
        .join(DeadlineExtension, DeadlineExtension.incident_id == Incident.id)
        .where(or_(*conditions))
        .group_by(Incident.id, Incident.title_pl, Incident.title_en).order_by(Incident.id))
    return [ExtensionNotice(*row) for row in rows]


def reports_for_incident(incident_id: int) -> list[ProblemReport]:
    return list(db.session.scalars(
        select(ProblemReport).where(ProblemReport.incident_id == incident_id)
        .options(joinedload(ProblemReport.user))
        .order_by(ProblemReport.reported_at, ProblemReport.id)))


def problem_reports(*, cursor: str | None = None, limit: int = 20) -> Page:
    """Problem reports for staff, newest first."""
    statement = (
        select(ProblemReport)
        .options(joinedload(ProblemReport.user), joinedload(ProblemReport.incident))
        .order_by(ProblemReport.reported_at.desc(), ProblemReport.id.desc()))
    after = parse_cursor(cursor)
    if after:
        statement = statement.where(
            tuple_(ProblemReport.reported_at, ProblemReport.id) < after)
    return page_of(statement, "reported_at", limit)


def linkable_incidents(now: datetime) -> list[Incident]:
    """Incidents a report can belong to: the open ones and those of the last 90 days."""
    return list(db.session.scalars(
        select(Incident)
        .where(or_(Incident.state == IncidentState.OPEN,
                   Incident.ended_at >= now - policy.RECENT_FOR))
        .order_by(Incident.started_at.desc(), Incident.id.desc())))
