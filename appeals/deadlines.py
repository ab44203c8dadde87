"""The deadlines of appeals that a platform incident extends (registered with
:mod:`incidents.extensions`), each by 24 h once per incident, like every running deadline:

- an open appeal's ``answer_due_at`` (the other party's 72 h, until they answered) and
  ``review_due_at`` (staff's 14 days, until the decision): stored, so the columns move;
- the window to appeal a decided verdict (the setting) or claim (its policy version's):
  computed (``decided_at`` + the window + the extensions recorded so far,
  :func:`appeals.services.closes_at`), so only the ``DeadlineExtension`` record is
  written, as for the claim filing window of an order.

A window that closed before the incident started never ran during it and is not reopened;
a decision that every party able to appeal has already appealed has no window left to
protect.
"""

from datetime import datetime, timedelta

from sqlalchemy import Select, and_, func, or_, select

from appeals import policy
from appeals.models import Appeal
from appeals.services import appealed, terms, terms_for
from appeals.states import OPEN_STATES, Appellant
from arbiter.extensions import db
from claims.models import Claim, PolicyVersion
from claims.states import DECIDED_STATES as CLAIM_DECIDED_STATES
from disputes.models import Discussion
from disputes.states import DiscussionState
from incidents import extensions
from incidents import policy as incidents_policy
from incidents.extensions import ExtendableDeadlines, Window, not_extended
from incidents.models import DeadlineExtension, Incident
from incidents.states import DeadlineKind

# --- open appeals: the other party's answer and staff's review ----------------------------

_APPEAL_COLUMNS = {DeadlineKind.APPEAL_ANSWER: "answer_due_at",
                   DeadlineKind.APPEAL_REVIEW: "review_due_at"}


def _still_running(kind: DeadlineKind):
    """SQL: the deadline still binds someone (an answered appeal's 72 h protect nobody)."""
    if kind is DeadlineKind.APPEAL_ANSWER:
        return Appeal.respondent_answered_at.is_(None)
    return Appeal.decided_at.is_(None)


def _appeal_candidates(window: Window, kinds: list[DeadlineKind]) -> Select:
    return select(Appeal).where(
        Appeal.state.in_(sorted(state.value for state in OPEN_STATES)),
        Appeal.filed_at < window.end,
        or_(*[and_(_still_running(kind), getattr(Appeal, _APPEAL_COLUMNS[kind]) > window.start,
                   not_extended(window, kind, Appeal.id)) for kind in kinds]))


def _appeal_deadlines(rows: list[Appeal], kinds: list[DeadlineKind]) -> dict:
    deadlines = {}
    for appeal in rows:
        running = {kind: (appeal.filed_at, getattr(appeal, _APPEAL_COLUMNS[kind]))
                   for kind in kinds
                   if kind is not DeadlineKind.APPEAL_ANSWER
                   or appeal.respondent_answered_at is None}
        if running:
            deadlines[appeal.id] = running
    return deadlines


def _move_appeal(appeal: Appeal, moved: list[tuple], now: datetime):
    before, after = {}, {}
    for kind, due_before, due_after in moved:
        column = _APPEAL_COLUMNS[kind]
        before[column], after[column] = due_before, due_after
        setattr(appeal, column, due_after)
    return before, after


# --- decided verdicts and claims: the window to appeal ------------------------------------


def _verdict_window_days() -> int:
    return terms().window_days


def _longest_claim_window_days() -> int:
    """Claim decisions are appealed within their policy version's window: the longest any
    version gives bounds them all."""
    return db.session.scalar(select(func.max(PolicyVersion.appeal_window_days))) or 0


def _window_candidates(model, kind: DeadlineKind, decided, window_days):
    def candidates(window: Window, kinds: list[DeadlineKind]) -> Select:
        # A coarse range on decided_at (indexable); the exact rule runs per decision, as
        # the window's end depends on its terms and the extensions recorded so far.
        incidents = db.session.scalar(select(func.count()).select_from(Incident)) or 0
        horizon = timedelta(days=window_days(),
                            hours=incidents_policy.EXTENSION_HOURS * incidents)
        return select(model).where(
            decided, model.decided_at < window.end, model.decided_at > window.start - horizon,
            not_extended(window, kind, model.id))

    return candidates


def _recorded(kind: DeadlineKind, ids: list[int]) -> dict[int, timedelta]:
    rows = db.session.execute(
        select(DeadlineExtension.object_id, func.sum(DeadlineExtension.hours))
        .where(DeadlineExtension.deadline_kind == kind, DeadlineExtension.object_id.in_(ids))
        .group_by(DeadlineExtension.object_id))
    return {object_id: timedelta(hours=int(hours)) for object_id, hours in rows}


def _appellants(column, ids: list[int]) -> dict[int, set[Appellant]]:
    found: dict[int, set[Appellant]] = {}
    for object_id, appellant in db.session.execute(
            select(column, Appeal.appellant).where(column.in_(ids))):
        found.setdefault(object_id, set()).add(Appellant(appellant))
    return found


def _window_deadlines(kind: DeadlineKind, column):
    def deadlines(rows: list, kinds: list[DeadlineKind]) -> dict:
        ids = [row.id for row in rows]
        recorded, appealed_by = _recorded(kind, ids), _appellants(column, ids)
        found = {}
        for row in rows:
            target = appealed(row)
            decision, rules = target.decision, terms_for(target)
            may_appeal = {party for party in Appellant if policy.refusal(
                decision, party, now=decision.decided_at, terms=rules, already=False) is None}
            if not may_appeal - appealed_by.get(row.id, set()):
                continue  # everyone who could appeal did: the window protects nobody
            closes = policy.closes_at(decision, rules, recorded.get(row.id, timedelta(0)))
            found[row.id] = {kind: (decision.decided_at, closes)}
        return found

    return deadlines


def _window_moved(obj, moved: list[tuple], now: datetime):
    # Nothing is stored on the decision: its window's end is decided_at + its window + the
    # extension records, one of which was just written.
    ((_, due_before, due_after),) = moved
    return {"appeal_closes_at": due_before}, {"appeal_closes_at": due_after}


extensions.register(ExtendableDeadlines(
    Appeal, tuple(_APPEAL_COLUMNS), "appeal.deadlines_extended",
    _appeal_candidates, _appeal_deadlines, _move_appeal))
extensions.register(ExtendableDeadlines(
    Discussion, (DeadlineKind.VERDICT_APPEAL_WINDOW,), "discussion.appeal_window_extended",
    _window_candidates(Discussion, DeadlineKind.VERDICT_APPEAL_WINDOW,
                       Discussion.state == DiscussionState.DECIDED, _verdict_window_days),
    _window_deadlines(DeadlineKind.VERDICT_APPEAL_WINDOW, Appeal.discussion_id),
    _window_moved))
extensions.register(ExtendableDeadlines(
    Claim, (DeadlineKind.CLAIM_APPEAL_WINDOW,), "claim.appeal_window_extended",
    _window_candidates(Claim, DeadlineKind.CLAIM_APPEAL_WINDOW,
                       Claim.state.in_(CLAIM_DECIDED_STATES), _longest_claim_window_days),
    _window_deadlines(DeadlineKind.CLAIM_APPEAL_WINDOW, Appeal.claim_id),
    _window_moved))
