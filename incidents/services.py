"""Every change to an incident, one function per transition; deadline extensions; problem
reports.

Each function checks the rules, changes the rows, writes one audit entry and queues
notifications, all in the caller's transaction; the caller commits once. Forbidden steps
raise TransitionNotAllowed (409); bad input raises ValidationFailed (422).

Deadline extensions run after the commit, in batches that commit one by one
(:mod:`incidents.tasks`), because an incident can touch every order of the last 90 days.
Each batch extends each deadline at most once per incident: the insert of its
``DeadlineExtension`` record is ``ON CONFLICT DO NOTHING`` and only the run whose insert
went through moves the deadline, so repeated, resumed and concurrent runs are safe.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import NamedTuple

from flask_babel import gettext as _
from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from accounts.models import User
from arbiter import audit, clock
from arbiter.errors import DomainError, NotFound, ValidationFailed
from arbiter.extensions import db
from arbiter.files import Upload, check_upload, store
from arbiter.notifications import notify
from arbiter.validation import checked_text
from claims import policy as claims_policy
from claims.models import Claim, DocumentRequest, PolicyVersion
from claims.states import ClaimState
from disputes import policy as disputes_policy
from disputes.models import Discussion, InformationRequest
from disputes.states import OPEN_STATES as DISCUSSION_OPEN_STATES
from disputes.states import DiscussionState
from incidents import notifications as _notification_texts  # noqa: F401 - registers texts
from incidents import policy, queries
from incidents.models import DeadlineExtension, Incident, IncidentUpdate, ProblemReport
from incidents.states import AffectedService, DeadlineKind, IncidentState, UpdateKind, require
from orders.models import Order

AUDITED = ("state", "title", "started_at", "ended_at", "affected_services")


# --- validation -------------------------------------------------------------------------


_validate_text = partial(checked_text, maximum=policy.TEXT_MAX)


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
    if not user.is_staff:
        raise NotFound(_("There is nothing here."))


def _snapshot(incident: Incident) -> dict:
    return audit.snapshot(incident, AUDITED)


def load_for_update(incident_id: int) -> Incident:
    """The incident, row-locked on PostgreSQL, fresh from the database."""
    incident = db.session.scalar(
        select(Incident).where(Incident.id == incident_id)
        .with_for_update().execution_options(populate_existing=True))
    if incident is None:
        raise NotFound(_("There is nothing here."))
    return incident


def _extend_after_commit(incident: Incident, actor: User | None) -> None:
    from arbiter.tasks import enqueue_after_commit
    from incidents.tasks import extend_deadlines_task

    enqueue_after_commit(extend_deadlines_task, incident.id, actor.id if actor else None)


# --- transitions ------------------------------------------------------------------------


def declare(staff: User, *, title: str, impact: str, affected_services: Iterable[str],
            started_at: datetime | None, now: datetime | None = None) -> Incident:
    """Staff declare an incident; it shows on /status and in the banner at once."""
    _require_staff(staff)
    now = now or clock.now()
    title = _validate_text(title, "title", maximum=policy.TITLE_MAX)
    impact = _validate_text(impact, "impact")
    services = _validate_services(affected_services)
    _validate_window(started_at, None, now)
    incident = Incident(title=title, impact=impact, affected_services=services,
                        state=IncidentState.OPEN, started_at=started_at, declared_at=now,
                        declared_by_id=staff.id)
    db.session.add(incident)
    audit.record("incident.declared", incident, actor=staff, after=_snapshot(incident))
    return incident


def post_update(incident: Incident, staff: User, *, kind: UpdateKind, body: str,
                now: datetime | None = None) -> IncidentUpdate:
    """A public update: confirmed, impact or progress (resolving posts "resolved")."""
    _require_staff(staff)
    incident = load_for_update(incident.id)
    require(incident.state, "post_update")
    kind = UpdateKind(kind)
    if kind is UpdateKind.RESOLVED:
        raise ValidationFailed(
            _("Resolve the incident to post the resolution together with its end time."),
            code="resolve_instead", fields={"kind": ["resolved"]})
    body = _validate_text(body, "body")
    update = IncidentUpdate(incident=incident, kind=kind, body=body,
                            posted_at=now or clock.now(), posted_by_id=staff.id)
    db.session.add(update)
    db.session.flush()
    audit.record("incident.update_posted", incident, actor=staff,
                 after={"update_id": update.id, "kind": kind.value})
    return update


def resolve(incident: Incident, staff: User, *, ended_at: datetime | None, body: str,
            now: datetime | None = None) -> Incident:
    """Close the incident with its end time and a "resolved" update; the people who
    reported problems linked to it hear so, and the deadlines that ran during it are
    extended right after the commit."""
    _require_staff(staff)
    incident = load_for_update(incident.id)
    require(incident.state, "resolve")
    now = now or clock.now()
    if ended_at is None:
        raise ValidationFailed(_("Give the time the incident ended."),
                               code="ended_at_required", fields={"ended_at": ["required"]})
    _validate_window(incident.started_at, ended_at, now)
    body = _validate_text(body, "body")
    before = _snapshot(incident)
    incident.state = IncidentState.RESOLVED
    incident.ended_at = ended_at
    db.session.add(IncidentUpdate(incident=incident, kind=UpdateKind.RESOLVED, body=body,
                                  posted_at=now, posted_by_id=staff.id))
    audit.record("incident.resolved", incident, actor=staff, before=before,
                 after=_snapshot(incident))
    for report in queries.reports_for_incident(incident.id):
        notify(report.user, "problem_report.incident_resolved", report, title=incident.title)
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
    incident = load_for_update(incident.id)
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
    incident = load_for_update(incident.id)
    require(incident.state, "extend_deadlines")
    _extend_after_commit(incident, staff)


# --- deadline extensions, one batch at a time ---------------------------------------------


class ExtensionCursor(NamedTuple):
    """Where the next batch starts: the target (discussions, ...) and the last id done."""

    target: int
    after_id: int


@dataclass(frozen=True)
class ExtensionBatch:
    extended: int  # objects whose deadlines moved in this batch
    cursor: ExtensionCursor | None  # None: every target is done


@dataclass(frozen=True)
class _Window:
    incident_id: int
    start: datetime
    end: datetime
    now: datetime


@dataclass(frozen=True)
class _Target:
    """One table whose rows carry deadlines an incident can extend."""

    model: type
    kinds: tuple[DeadlineKind, ...]
    audit_action: str
    candidates: Callable[[_Window, list[DeadlineKind]], Select]
    # {row id: {kind: (when the deadline started, when it is due)}} for a batch of rows
    deadlines: Callable[[list, list[DeadlineKind]], dict[int, dict[DeadlineKind, tuple]]]
    apply: Callable[[object, list[tuple], datetime], tuple[dict, dict]]


def _not_extended(window: _Window, kind: DeadlineKind, object_id) -> object:
    return ~exists().where(DeadlineExtension.incident_id == window.incident_id,
                           DeadlineExtension.deadline_kind == kind,
                           DeadlineExtension.object_id == object_id)


# Discussions: both 24 h deadlines, while the buyer and the seller still talk. An
# escalated or ended discussion has no running deadline left to protect.
_DISCUSSION_COLUMNS = {DeadlineKind.DISCUSSION_RESPOND_BY: "respond_by",
                       DeadlineKind.DISCUSSION_ESCALATION: "escalation_available_at"}
_TALKING = (DiscussionState.AWAITING_SELLER, DiscussionState.IN_PROGRESS)


def _discussion_candidates(window: _Window, kinds: list[DeadlineKind]) -> Select:
    return select(Discussion).where(
        Discussion.state.in_(_TALKING), Discussion.opened_at < window.end,
        or_(*[and_(getattr(Discussion, _DISCUSSION_COLUMNS[kind]) > window.start,
                   _not_extended(window, kind, Discussion.id)) for kind in kinds]))


def _discussion_deadlines(discussions: list[Discussion], kinds: list[DeadlineKind]) -> dict:
    return {d.id: {kind: (d.opened_at, getattr(d, _DISCUSSION_COLUMNS[kind]))
                   for kind in kinds}
            for d in discussions}


def _apply_to_discussion(discussion: Discussion, moved: list[tuple], now: datetime):
    before, after = {}, {}
    for kind, due_before, due_after in moved:
        column = _DISCUSSION_COLUMNS[kind]
        before[column], after[column] = due_before, due_after
        setattr(discussion, column, due_after)
    if "respond_by" in after and discussion.seller_first_response_at is not None:
        # A seller who answered late because of the incident answered on time after all.
        before["seller_answered_on_time"] = discussion.seller_answered_on_time
        discussion.seller_answered_on_time = disputes_policy.answered_on_time(
            discussion.respond_by, discussion.seller_first_response_at)
        after["seller_answered_on_time"] = discussion.seller_answered_on_time
    if ("escalation_available_at" in after and discussion.escalation_notice_sent_at
            and discussion.escalation_available_at > now):
        # The buyer heard that escalation is open; it is not yet, so tell them again then.
        discussion.escalation_notice_sent_at = None
    return before, after


def _information_request_candidates(window: _Window, kinds: list[DeadlineKind]) -> Select:
    return (select(InformationRequest)
            .join(Discussion, Discussion.id == InformationRequest.discussion_id)
            .where(InformationRequest.answered_at.is_(None),
                   Discussion.state.in_(DISCUSSION_OPEN_STATES),
                   InformationRequest.requested_at < window.end,
                   InformationRequest.due_at > window.start,
                   _not_extended(window, DeadlineKind.INFORMATION_REQUEST,
                                 InformationRequest.id)))


def _document_request_candidates(window: _Window, kinds: list[DeadlineKind]) -> Select:
    return (select(DocumentRequest)
            .join(Claim, Claim.id == DocumentRequest.claim_id)
            .where(DocumentRequest.fulfilled_at.is_(None),
                   Claim.state == ClaimState.AWAITING_DOCUMENTS,
                   DocumentRequest.requested_at < window.end,
                   DocumentRequest.due_at > window.start,
                   _not_extended(window, DeadlineKind.DOCUMENT_REQUEST, DocumentRequest.id)))


def _request_deadlines(requests: list, kinds: list[DeadlineKind]) -> dict:
    return {r.id: {kinds[0]: (r.requested_at, r.due_at)} for r in requests}


def _apply_to_request(marker: str):
    def apply(request, moved: list[tuple], now: datetime):
        ((_, due_before, due_after),) = moved
        request.due_at = due_after
        if getattr(request, marker) is not None and due_after > now:
            # Reported overdue before the extension; report it again if the new time passes.
            setattr(request, marker, None)
        return {"due_at": due_before}, {"due_at": due_after}

    return apply


def _order_candidates(window: _Window, kinds: list[DeadlineKind]) -> Select:
    # A coarse range on paid_at (indexable); the exact rule runs in Python per order,
    # because the window's length depends on the policy version and earlier extensions.
    longest_days = db.session.scalar(select(func.max(PolicyVersion.filing_window_days))) or 0
    incidents = db.session.scalar(select(func.count()).select_from(Incident)) or 0
    horizon = timedelta(days=longest_days, hours=policy.EXTENSION_HOURS * incidents)
    return select(Order).where(
        Order.paid_at < window.end, Order.paid_at > window.start - horizon,
        _not_extended(window, DeadlineKind.FILING_WINDOW, Order.id))


def _filing_extensions(order_ids: list[int]) -> dict[int, timedelta]:
    rows = db.session.execute(
        select(DeadlineExtension.object_id, func.sum(DeadlineExtension.hours))
        .where(DeadlineExtension.deadline_kind == DeadlineKind.FILING_WINDOW,
               DeadlineExtension.object_id.in_(order_ids))
        .group_by(DeadlineExtension.object_id))
    return {order_id: timedelta(hours=int(hours)) for order_id, hours in rows}


def _filing_deadlines(orders: list[Order], kinds: list[DeadlineKind]) -> dict:
    """The end of each order's claim filing window as the claims policy computes it:
    the version in force at ``paid_at``, plus what earlier incidents added."""
    versions = [row.to_rules() for row in db.session.scalars(select(PolicyVersion))]
    extensions = _filing_extensions([order.id for order in orders])
    deadlines = {}
    for order in orders:
        try:
            rules = claims_policy.rules_in_force(versions, order.paid_at)
        except claims_policy.NoPolicyInForce:  # no buyer protection: no window to extend
            continue
        end = rules.filing_deadline(order.paid_at,
                                    extensions.get(order.id, claims_policy.NO_EXTENSION))
        deadlines[order.id] = {DeadlineKind.FILING_WINDOW: (order.paid_at, end)}
    return deadlines


def _apply_to_order(order: Order, moved: list[tuple], now: datetime):
    # The order row keeps paid_at; the window's end is paid_at + policy + the records.
    ((_, due_before, due_after),) = moved
    return {"filing_deadline": due_before}, {"filing_deadline": due_after}


TARGETS: tuple[_Target, ...] = (
    _Target(Discussion, tuple(_DISCUSSION_COLUMNS), "discussion.deadlines_extended",
            _discussion_candidates, _discussion_deadlines, _apply_to_discussion),
    _Target(InformationRequest, (DeadlineKind.INFORMATION_REQUEST,),
            "information_request.deadline_extended", _information_request_candidates,
            _request_deadlines, _apply_to_request("overdue_notified_at")),
    _Target(DocumentRequest, (DeadlineKind.DOCUMENT_REQUEST,),
            "document_request.deadline_extended", _document_request_candidates,
            _request_deadlines, _apply_to_request("overdue_at")),
    _Target(Order, (DeadlineKind.FILING_WINDOW,), "order.filing_window_extended",
            _order_candidates, _filing_deadlines, _apply_to_order),
)


def _record_once(window: _Window, plans: dict[int, list[tuple]]) -> set[tuple]:
    """Insert the extension records; return the (kind, object id) pairs this run won.

    A pair that already has its record (an earlier run, or a concurrent one that
    committed first) conflicts and is not returned, so its deadline is left alone.
    """
    applied_at = clock.now()
    values = [{"incident_id": window.incident_id, "deadline_kind": kind,
               "object_id": object_id, "hours": policy.EXTENSION_HOURS,
               "due_before": due_before, "due_after": due_after, "applied_at": applied_at}
              for object_id, moves in plans.items() for kind, due_before, due_after in moves]
    if not values:
        return set()
    dialect = db.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (insert(DeadlineExtension).values(values)
                 .on_conflict_do_nothing(
                     index_elements=["incident_id", "deadline_kind", "object_id"])
                 .returning(DeadlineExtension.deadline_kind, DeadlineExtension.object_id))
    return {(DeadlineKind(kind), object_id)
            for kind, object_id in db.session.execute(statement)}


def extend_deadline_batch(incident: Incident, actor: User | int | None, *,
                          now: datetime, after: ExtensionCursor | None = None,
                          batch_size: int = 500) -> ExtensionBatch:
    """Extend the next batch of deadlines the incident protects, in the caller's
    transaction; commit, then call again with the returned cursor until it is None.

    The batch's rows are locked (``FOR NO KEY UPDATE``, in id order) before anything is
    written, so two runs never hold rows the other waits for, and the audit log's lock
    is only taken while every row of the batch is already ours.
    """
    window = _Window(incident.id, incident.started_at,
                     policy.window_end(incident.ended_at, now), now)
    protected = policy.protected_kinds(incident.affected_services)
    start = after or ExtensionCursor(0, 0)
    for index in range(start.target, len(TARGETS)):
        target = TARGETS[index]
        kinds = [kind for kind in target.kinds if kind in protected]
        if not kinds:
            continue
        after_id = start.after_id if index == start.target else 0
        model = target.model
        rows = list(db.session.scalars(
            target.candidates(window, kinds).where(model.id > after_id)
            .order_by(model.id).limit(batch_size)
            .with_for_update(of=model, key_share=True)
            .execution_options(populate_existing=True)))
        if not rows:
            continue
        extended = _extend_rows(window, actor, target, rows, kinds)
        return ExtensionBatch(extended, ExtensionCursor(index, rows[-1].id))
    return ExtensionBatch(0, None)


def _extend_rows(window: _Window, actor, target: _Target, rows: list, kinds: list) -> int:
    plans: dict[int, list[tuple]] = {}
    for row_id, deadlines in target.deadlines(rows, kinds).items():
        for kind, (started_at, due_at) in deadlines.items():
            if policy.was_running(started_at, due_at, window.start, window.end):
                plans.setdefault(row_id, []).append((kind, due_at, policy.extended(due_at)))
    won = _record_once(window, plans)
    extended = 0
    for row in rows:
        moved = [move for move in plans.get(row.id, ()) if (move[0], row.id) in won]
        if not moved:
            continue
        before, after = target.apply(row, moved, window.now)
        audit.record(target.audit_action, row, actor=actor, before=before,
                     after={**after, "incident_id": window.incident_id,
                            "hours": policy.EXTENSION_HOURS})
        extended += 1
    return extended


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


def load_report_for_update(report_id: int) -> ProblemReport:
    report = db.session.scalar(
        select(ProblemReport).where(ProblemReport.id == report_id)
        .with_for_update().execution_options(populate_existing=True))
    if report is None:
        raise NotFound(_("There is nothing here."))
    return report


def link_report_to_incident(report: ProblemReport, incident_id: int, staff: User) -> bool:
    """Staff file a report under an incident; the reporter hears which one. Returns False
    when it was already linked there."""
    _require_staff(staff)
    report = load_report_for_update(report.id)
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
    notify(report.user, "problem_report.linked", report, title=incident.title)
    return True
