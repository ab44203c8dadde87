"""Deadline extensions, one committed batch at a time.

Incidents know no other package's tables: each package registers the deadlines of its
rows that an incident can extend (:func:`register`: which rows may have one running,
when each started and falls due, and how to move it), and an extension run walks every
registered kind of row in batches (:mod:`incidents.tasks`).

Each batch extends each deadline at most once per incident: the insert of its
``DeadlineExtension`` record is ``ON CONFLICT DO NOTHING`` and only the run whose insert
went through moves the deadline, so repeated, resumed and concurrent runs are safe.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import Select, exists
from sqlalchemy.dialects import postgresql, sqlite

from accounts.models import User
from arbiter import audit, clock
from arbiter.extensions import db
from incidents import policy
from incidents.models import DeadlineExtension, Incident
from incidents.states import DeadlineKind


class ExtensionCursor(NamedTuple):
    """Where the next batch starts: the target (discussions, ...) and the last id done."""

    target: int
    after_id: int


@dataclass(frozen=True)
class ExtensionBatch:
    extended: int  # objects whose deadlines moved in this batch
    cursor: ExtensionCursor | None  # None: every target is done


@dataclass(frozen=True)
class Window:
    """The incident's window as one extension run sees it (``now`` fixed for the run)."""

    incident_id: int
    start: datetime
    end: datetime
    now: datetime


@dataclass(frozen=True)
class ExtendableDeadlines:
    """One table whose rows carry deadlines an incident can extend, as its package
    describes them (:func:`register`)."""

    model: type
    kinds: tuple[DeadlineKind, ...]
    audit_action: str
    # The rows that may have such a deadline running in the window, not yet extended by
    # this incident (:func:`not_extended`).
    candidates: Callable[[Window, list[DeadlineKind]], Select]
    # {row id: {kind: (when the deadline started, when it is due)}} for a batch of rows
    deadlines: Callable[[list, list[DeadlineKind]], dict[int, dict[DeadlineKind, tuple]]]
    apply: Callable[[object, list[tuple], datetime], tuple[dict, dict]]


def not_extended(window: Window, kind: DeadlineKind, object_id) -> object:
    """SQL: this incident has not extended the ``kind`` deadline of ``object_id`` yet."""
    return ~exists().where(DeadlineExtension.incident_id == window.incident_id,
                           DeadlineExtension.deadline_kind == kind,
                           DeadlineExtension.object_id == object_id)

_REGISTERED: list[ExtendableDeadlines] = []


def register(deadlines: ExtendableDeadlines) -> None:
    """Called by the package that owns the deadlines, when it is imported. A table may carry
    deadlines of several packages (a decided claim: its seller's answer for claims, its
    appeal window for appeals), so one registration is one table with its kinds."""
    if all((known.model, known.kinds) != (deadlines.model, deadlines.kinds)
           for known in _REGISTERED):
        _REGISTERED.append(deadlines)


def request_deadlines(requests: list, kinds: list[DeadlineKind]) -> dict:
    """For a request with a deadline (``requested_at``, ``due_at``): when it started and
    falls due."""
    return {r.id: {kinds[0]: (r.requested_at, r.due_at)} for r in requests}


def move_request_deadline(request, moved: list[tuple], now: datetime):
    """Moves a request's ``due_at`` (``arbiter.party_requests.PartyRequest``)."""
    ((_, due_before, due_after),) = moved
    request.due_at = due_after
    if request.overdue_notified_at is not None and due_after > now:
        # Reported overdue before the extension; report it again if the new time passes.
        request.overdue_notified_at = None
    return {"due_at": due_before}, {"due_at": due_after}


def _record_once(window: Window, plans: dict[int, list[tuple]]) -> set[tuple]:
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
    window = Window(incident.id, incident.started_at,
                     policy.window_end(incident.ended_at, now), now)
    protected = policy.protected_kinds(incident.affected_services)
    start = after or ExtensionCursor(0, 0)
    for index in range(start.target, len(_REGISTERED)):
        target = _REGISTERED[index]
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


def _extend_rows(window: Window, actor, target: ExtendableDeadlines, rows: list,
                 kinds: list) -> int:
    plans: dict[int, list[tuple]] = {}
    for row_id, deadlines in target.deadlines(rows, kinds).items():
        for kind, (started_at, due_at) in deadlines.items():
            if policy.may_extend(kind, started_at, due_at, window.start, window.end,
                                 window.now):
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
