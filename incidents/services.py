"""Every change to an incident, one function per transition; deadline extensions; problem
reports.

Each function checks the rules, changes the rows, writes one audit entry and queues
notifications, all in the caller's transaction; the caller commits once. Forbidden steps
raise TransitionNotAllowed (409); bad input raises ValidationFailed (422).

Deadline extensions run after the commit, in batches that commit one by one
(:mod:`incidents.tasks`, :mod:`incidents.extensions`), because an incident can touch every
order of the last 90 days.
"""

from collections.abc import Iterable
from datetime import datetime
from functools import partial

from flask_babel import gettext as _

from accounts.models import User
from accounts.roles import Role as StaffRole
from arbiter import audit, clock
from arbiter.db import locked
from arbiter.errors import DomainError, NotFound, ValidationFailed
from arbiter.extensions import db
from arbiter.files import Upload, check_upload, store
from arbiter.notifications import notify
from arbiter.validation import checked_text
from incidents import notifications as _notification_texts  # noqa: F401 - registers texts
from incidents import policy, queries
from incidents.models import REQUIRED_LANGUAGE, Incident, IncidentUpdate, ProblemReport
from incidents.states import AffectedService, IncidentState, UpdateKind, require

AUDITED = ("state", "title_pl", "title_en", "started_at", "ended_at", "affected_services")


# --- validation -------------------------------------------------------------------------


_validate_text = partial(checked_text, maximum=policy.TEXT_MAX)


def _validate_english(text: str | None, field: str, **limits) -> str | None:
    """The English version is optional: empty means "not written yet" (readers of English
    then see the Polish text with a note); when given it obeys the Polish one's rules."""
    if text is None or not text.strip():
        return None
    return _validate_text(text, field, **limits)


def _validate_services(services: Iterable[str]) -> list[str]:
    try:
        chosen = {AffectedService(service) for service in services}
    except ValueError:
        chosen = set()
    if not chosen:
        raise ValidationFailed(_("Choose at least one affected service."),
                               code="affected_services_required",
                               fields={"affected_services": ["required"]})
    return [service.value for service in AffectedService if service in chosen]


_WINDOW_FIELDS = {
    policy.WindowProblem.START_IN_FUTURE: "started_at",
    policy.WindowProblem.END_IN_FUTURE: "ended_at",
    policy.WindowProblem.END_NOT_AFTER_START: "ended_at",
}


def _validate_window(started_at: datetime | None, ended_at: datetime | None,
                     now: datetime) -> None:
    if started_at is None:
        raise ValidationFailed(_("Give the time the incident started."),
                               code="started_at_required", fields={"started_at": ["required"]})
    problem = policy.window_problem(started_at, ended_at, now)
    if problem is None:
        return
    messages = {
        policy.WindowProblem.START_IN_FUTURE: _("An incident cannot start in the future."),
        policy.WindowProblem.END_IN_FUTURE: _("An incident cannot end in the future."),
        policy.WindowProblem.END_NOT_AFTER_START: _(
            "The incident must end after it started."),
    }
    raise ValidationFailed(messages[problem], code=problem.value,
                           fields={_WINDOW_FIELDS[problem]: [problem.value]})


def _require_staff(user: User) -> None:
    if not user.has_role(StaffRole.ADMIN):
        raise NotFound(_("There is nothing here."))


def _title_for(incident: Incident, user: User) -> str:
    """The incident's title in the language the user reads (their notifications and
    e-mails are written in it)."""
    return incident.text_in("title", user.locale or REQUIRED_LANGUAGE).text


def _snapshot(incident: Incident) -> dict:
    return audit.snapshot(incident, AUDITED)


def _extend_after_commit(incident: Incident, actor: User | None) -> None:
    from arbiter.tasks import enqueue_after_commit
    from incidents.tasks import extend_deadlines_task

    enqueue_after_commit(extend_deadlines_task, incident.id, actor.id if actor else None)


# --- transitions ------------------------------------------------------------------------


def declare(staff: User, *, title: str, impact: str, affected_services: Iterable[str],
            started_at: datetime | None, title_en: str | None = None,
            impact_en: str | None = None, now: datetime | None = None) -> Incident:
    """Staff declare an incident; it shows on /status and in the banner at once.

    ``title`` and ``impact`` are the Polish texts (required); ``title_en`` and
    ``impact_en`` the optional English ones.
    """
    _require_staff(staff)
    now = now or clock.now()
    title = _validate_text(title, "title", maximum=policy.TITLE_MAX)
    title_en = _validate_english(title_en, "title_en", maximum=policy.TITLE_MAX)
    impact = _validate_text(impact, "impact")
    impact_en = _validate_english(impact_en, "impact_en")
    services = _validate_services(affected_services)
    _validate_window(started_at, None, now)
    incident = Incident(title_pl=title, title_en=title_en, impact_pl=impact,
                        impact_en=impact_en, affected_services=services,
                        state=IncidentState.OPEN, started_at=started_at, declared_at=now,
                        declared_by_id=staff.id)
    db.session.add(incident)
    audit.record("incident.declared", incident, actor=staff, after=_snapshot(incident))
    return incident


def post_update(incident: Incident, staff: User, *, kind: UpdateKind, body: str,
                body_en: str | None = None, now: datetime | None = None) -> IncidentUpdate:
    """A public update: confirmed, impact or progress (resolving posts "resolved"); ``body``
    in Polish, ``body_en`` optionally in English."""
    _require_staff(staff)
    incident = locked(Incident, incident.id)
    require(incident.state, "post_update")
    kind = UpdateKind(kind)
    if kind is UpdateKind.RESOLVED:
        raise ValidationFailed(
            _("Resolve the incident to post the resolution together with its end time."),
            code="resolve_instead", fields={"kind": ["resolved"]})
    body = _validate_text(body, "body")
    body_en = _validate_english(body_en, "body_en")
    update = IncidentUpdate(incident=incident, kind=kind, body_pl=body, body_en=body_en,
                            posted_at=now or clock.now(), posted_by_id=staff.id)
    db.session.add(update)
    db.session.flush()
    audit.record("incident.update_posted", incident, actor=staff,
                 after={"update_id": update.id, "kind": kind.value})
    return update


def resolve(incident: Incident, staff: User, *, ended_at: datetime | None, body: str,
            body_en: str | None = None, now: datetime | None = None) -> Incident:
    """Close the incident with its end time and a "resolved" update; the people who
    reported problems linked to it hear so, and the deadlines that ran during it are
    extended right after the commit."""
    _require_staff(staff)
    incident = locked(Incident, incident.id)
    require(incident.state, "resolve")
    now = now or clock.now()
    if ended_at is None:
        raise ValidationFailed(_("Give the time the incident ended."),
                               code="ended_at_required", fields={"ended_at": ["required"]})
    _validate_window(incident.started_at, ended_at, now)
    body = _validate_text(body, "body")
    body_en = _validate_english(body_en, "body_en")
    before = _snapshot(incident)
    incident.state = IncidentState.RESOLVED
    incident.ended_at = ended_at
    db.session.add(IncidentUpdate(incident=incident, kind=UpdateKind.RESOLVED, body_pl=body,
                                  body_en=body_en, posted_at=now, posted_by_id=staff.id))
    audit.record("incident.resolved", incident, actor=staff, before=before,
                 after=_snapshot(incident))
    for report in queries.reports_for_incident(incident.id):
        notify(report.user, "problem_report.incident_resolved", report,
               title=_title_for(incident, report.user))
    _extend_after_commit(incident, staff)
    return incident


def change_window(incident: Incident, staff: User, *, started_at: datetime | None,
                  ended_at: datetime | None, now: datetime | None = None) -> bool:
    """Correct when the incident started (and, once resolved, ended).

    When deadlines were already extended for this incident (always after resolution), the
    extension runs again after the commit: deadlines now inside the window are extended,
    the others keep what they got (see :mod:`incidents.policy`). Returns False when
    nothing changed.
    """
    _require_staff(staff)
    incident = locked(Incident, incident.id)
    require(incident.state, "change_window")
    now = now or clock.now()
    if incident.is_open and ended_at is not None:
        raise ValidationFailed(
            _("An incident in progress has no end yet: resolve it with its end time."),
            code="open_incident_has_no_end", fields={"ended_at": ["open"]})
    if not incident.is_open and ended_at is None:
        raise ValidationFailed(_("Give the time the incident ended."),
                               code="ended_at_required", fields={"ended_at": ["required"]})
    _validate_window(started_at, ended_at, now)
    started_at = clock.ensure_aware(started_at)
    ended_at = clock.ensure_aware(ended_at) if ended_at is not None else None
    if (started_at, ended_at) == (incident.started_at, incident.ended_at):
        return False
    before = _snapshot(incident)
    incident.started_at = started_at
    incident.ended_at = ended_at
    audit.record("incident.window_changed", incident, actor=staff, before=before,
                 after=_snapshot(incident))
    if not incident.is_open or queries.has_extensions(incident.id):
        _extend_after_commit(incident, staff)
    return True


def extend_deadlines(incident: Incident, staff: User) -> None:
    """Staff ask for the extension now, without waiting for the resolution.

    While the incident is open its window ends "now": deadlines that start later during
    it are extended by the next run (at the latest, on resolution).
    """
    _require_staff(staff)
    incident = locked(Incident, incident.id)
    require(incident.state, "extend_deadlines")
    _extend_after_commit(incident, staff)


# --- problem reports --------------------------------------------------------------------


def report_problem(user: User, *, what_happened: str, happened_at: datetime | None,
                   doing: str, screenshot: Upload | None = None,
                   now: datetime | None = None) -> ProblemReport:
    """A logged-in user reports a problem with the platform; they get an acknowledgement.

    Every check happens before the screenshot is stored, so a refused report leaves no
    row and no file behind.
    """
    now = now or clock.now()
    what_happened = _validate_text(what_happened, "what_happened")
    doing = _validate_text(doing, "doing")
    if happened_at is None:
        raise ValidationFailed(_("Say when it happened."), code="happened_at_required",
                               fields={"happened_at": ["required"]})
    if clock.ensure_aware(happened_at) > now:
        raise ValidationFailed(_("That time is in the future."), code="happened_in_future",
                               fields={"happened_at": ["future"]})
    checked = None
    if screenshot is not None:
        try:
            checked = check_upload(screenshot)
        except DomainError as error:  # the evidence rules; the error belongs to this field
            error.fields = {"screenshot": error.fields.get("files", [])}
            raise
    report = ProblemReport(user_id=user.id, what_happened=what_happened,
                           happened_at=happened_at, doing=doing, reported_at=now,
                           acknowledged_at=now)
    if checked is not None:
        blob = store(checked)
        report.screenshot_key = blob.key
        report.screenshot_sha256 = blob.sha256
        report.screenshot_filename = checked.filename
        report.screenshot_content_type = checked.content_type
    db.session.add(report)
    audit.record("problem_report.filed", report, actor=user,
                 after={"happened_at": report.happened_at,
                        "screenshot_sha256": report.screenshot_sha256})
    notify(user, "problem_report.received", report)
    return report


def link_report_to_incident(report: ProblemReport, incident_id: int, staff: User) -> bool:
    """Staff file a report under an incident; the reporter hears which one. Returns False
    when it was already linked there."""
    _require_staff(staff)
    report = locked(ProblemReport, report.id)
    incident = db.session.get(Incident, incident_id)
    if incident is None:
        raise ValidationFailed(_("Choose an incident."), code="incident_required",
                               fields={"incident_id": ["required"]})
    if report.incident_id == incident.id:
        return False
    before = {"incident_id": report.incident_id}
    report.incident_id = incident.id
    report.linked_at = clock.now()
    report.linked_by_id = staff.id
    audit.record("problem_report.linked", report, actor=staff, before=before,
                 after={"incident_id": incident.id})
    notify(report.user, "problem_report.linked", report, title=_title_for(incident, report.user))
    return True
