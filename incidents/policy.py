"""Pure incident rules: no database, no Flask; the clock is passed in.

Which deadlines an incident protects
    A deadline "was running during the incident" when it started before the incident
    ended and falls due after the incident started (:func:`was_running`). An incident
    that is still open lasts until ``now``. Only the deadlines of the affected services
    are protected (:func:`protected_kinds`): discussions protect the seller's answer,
    the escalation time, information requests and the 30 days to appeal a verdict;
    claims protect document requests, claim filing windows, the seller's time to answer a
    claim and the 30 days to appeal a claim decision; either protects an open appeal's
    72 h answer and 14-day review; the whole site protects all of them; payments none of
    them (a payment outage stops nobody from answering, escalating, filing or appealing).

Which direction helps whom
    An extension exists so that nobody loses a right because the platform failed, so it
    only ever moves a deadline later, and only where later helps the party it binds
    (:data:`DIRECTION`, :func:`may_extend`). Every deadline kind is one of three:

    - a *duty* (:attr:`Direction.DUTY`): someone must act by it, and later gives them more
      time. The seller's answer to a discussion (``discussion.respond_by``: binds the
      seller; an answer that became on time by the extension counts as on time), a
      party's answer to staff's information request (binds the party asked), the buyer's
      documents for a claim (binds the buyer), the seller's answer to a claim (binds the
      seller), the other party's answer to an appeal (binds the respondent) and staff's
      review of an appeal (binds staff). Passing a duty gives no party a right of its own,
      so moving it later takes nothing from anybody.
    - a *closing right* (:attr:`Direction.CLOSING_RIGHT`): a party may do something until
      it, and later keeps the right open longer. The buyer's window to file a claim and
      either party's 30 days to appeal a verdict or a claim decision. A window that closed
      before the incident started never ran during it and is not reopened.
    - an *opening right* (:attr:`Direction.OPENING_RIGHT`): a party may do something from
      it on. Asking the platform for help (``discussion.escalation_available_at``) is the
      only one: the buyer waits 24 h so that the seller has time to answer, and an
      incident that kept the seller from answering may give the seller that day again,
      but only while the buyer is still waiting. Once escalation availability is reached
      (at the time the extension runs) it stays reached: moving it later would take away
      a right the buyer already had (and with it the right to file a claim, which opens at
      the same time).

How much, and how often
    Each protected deadline moves :data:`EXTENSION_HOURS` later, exactly once per
    incident: a unique record of the extension makes a repeated or concurrent run a
    no-op. When staff change the incident's window afterwards, the deadlines that are
    now inside it are extended; those already extended by this incident keep their
    extension even if a shrunk window no longer covers them. Taking back 24 h people
    were told they had would punish them for our correction, and "never twice" is
    simplest to guarantee when an extension is never undone.

Daily updates
    While an incident is open, staff owe users an update at least every 24 h
    (:func:`update_overdue`).
"""

from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum

from arbiter.clock import add_hours, ensure_aware
from incidents.states import AffectedService, DeadlineKind

EXTENSION_HOURS = 24
UPDATE_AT_LEAST_EVERY = timedelta(hours=24)
RECENT_FOR = timedelta(days=90)
TITLE_MAX = 200
TEXT_MAX = 5_000

# Appeals are filed, answered and reviewed on the pages of the verdict or the claim they
# are about; the appeal's own 72 h and 14 days are protected by either service.
_APPEAL_DEADLINES = frozenset({DeadlineKind.APPEAL_ANSWER, DeadlineKind.APPEAL_REVIEW})
_DISCUSSION_DEADLINES = frozenset({DeadlineKind.DISCUSSION_RESPOND_BY,
                                   DeadlineKind.DISCUSSION_ESCALATION,
                                   DeadlineKind.INFORMATION_REQUEST,
                                   DeadlineKind.VERDICT_APPEAL_WINDOW}) | _APPEAL_DEADLINES
_CLAIM_DEADLINES = frozenset({DeadlineKind.DOCUMENT_REQUEST, DeadlineKind.FILING_WINDOW,
                              DeadlineKind.CLAIM_SELLER_ANSWER,
                              DeadlineKind.CLAIM_APPEAL_WINDOW}) | _APPEAL_DEADLINES
PROTECTED_BY_SERVICE: dict[AffectedService, frozenset[DeadlineKind]] = {
    AffectedService.DISCUSSIONS: _DISCUSSION_DEADLINES,
    AffectedService.CLAIMS: _CLAIM_DEADLINES,
    AffectedService.PAYMENTS: frozenset(),
    AffectedService.WHOLE_SITE: frozenset(DeadlineKind),
}


class Direction(StrEnum):
    """What passing a deadline does, which decides whether moving it later helps."""

    DUTY = "duty"  # someone must act by it: later gives them more time
    CLOSING_RIGHT = "closing_right"  # a right ends with it: later keeps the right open
    OPENING_RIGHT = "opening_right"  # a right opens with it: later only while not yet open


DIRECTION: dict[DeadlineKind, Direction] = {
    DeadlineKind.DISCUSSION_RESPOND_BY: Direction.DUTY,  # the seller's answer
    DeadlineKind.DISCUSSION_ESCALATION: Direction.OPENING_RIGHT,  # the buyer may escalate
    DeadlineKind.INFORMATION_REQUEST: Direction.DUTY,  # the party asked
    DeadlineKind.DOCUMENT_REQUEST: Direction.DUTY,  # the buyer's documents
    DeadlineKind.FILING_WINDOW: Direction.CLOSING_RIGHT,  # the buyer may file a claim
    DeadlineKind.CLAIM_SELLER_ANSWER: Direction.DUTY,  # the seller's answer to a claim
    DeadlineKind.VERDICT_APPEAL_WINDOW: Direction.CLOSING_RIGHT,  # either party may appeal
    DeadlineKind.CLAIM_APPEAL_WINDOW: Direction.CLOSING_RIGHT,  # either party may appeal
    DeadlineKind.APPEAL_ANSWER: Direction.DUTY,  # the respondent's answer
    DeadlineKind.APPEAL_REVIEW: Direction.DUTY,  # staff's review
}


class WindowProblem(StrEnum):
    """Why an incident window is refused. Stable codes: forms and the API expose them."""

    START_IN_FUTURE = "start_in_future"
    END_IN_FUTURE = "end_in_future"
    END_NOT_AFTER_START = "end_not_after_start"


def protected_kinds(services: Iterable[str]) -> frozenset[DeadlineKind]:
    """The deadline kinds an incident of these affected services extends."""
    kinds: set[DeadlineKind] = set()
    for service in services:
        kinds |= PROTECTED_BY_SERVICE[AffectedService(service)]
    return frozenset(kinds)


def window_end(ended_at: datetime | None, now: datetime) -> datetime:
    """Where the incident window ends for the rule: its end, or ``now`` while open."""
    return ensure_aware(ended_at if ended_at is not None else now)


def was_running(deadline_started_at: datetime, due_at: datetime,
                window_start: datetime, window_end: datetime) -> bool:
    """The deadline started before the window ended and is due after the window started.

    Both ends are strict: a deadline that started the instant the incident ended, or fell
    due the instant it started, never ran while the platform was failing.
    """
    return (ensure_aware(deadline_started_at) < ensure_aware(window_end)
            and ensure_aware(due_at) > ensure_aware(window_start))


def extendable_from(kind: DeadlineKind, window_start: datetime, now: datetime) -> datetime:
    """A ``kind`` deadline can only be extended when it falls due after this instant: the
    incident's start, and for an opening right also ``now`` (a right already open stays
    open). For the SQL that selects candidates; :func:`may_extend` is the whole rule."""
    if DIRECTION[kind] is Direction.OPENING_RIGHT:
        return max(ensure_aware(window_start), ensure_aware(now))
    return ensure_aware(window_start)


def may_extend(kind: DeadlineKind, deadline_started_at: datetime, due_at: datetime,
               window_start: datetime, window_end: datetime, now: datetime) -> bool:
    """This incident extends this deadline: it was running during the window, and moving
    it later helps the party it binds (never delays a right that is already open)."""
    if not was_running(deadline_started_at, due_at, window_start, window_end):
        return False
    return ensure_aware(due_at) > extendable_from(kind, window_start, now)


def extended(due_at: datetime) -> datetime:
    """The deadline after one incident's extension: 24 h of elapsed time later."""
    return add_hours(due_at, EXTENSION_HOURS)


def window_problem(started_at: datetime, ended_at: datetime | None,
                   now: datetime) -> WindowProblem | None:
    """Why this incident window is impossible, or None.

    An incident may have started in the past (it is often declared after the fact), but
    never in the future, and it ends after it started, at the latest now.
    """
    started_at, now = ensure_aware(started_at), ensure_aware(now)
    if started_at > now:
        return WindowProblem.START_IN_FUTURE
    if ended_at is None:
        return None
    ended_at = ensure_aware(ended_at)
    if ended_at > now:
        return WindowProblem.END_IN_FUTURE
    if ended_at <= started_at:
        return WindowProblem.END_NOT_AFTER_START
    return None


def update_overdue(last_update_at: datetime, now: datetime) -> bool:
    """Staff owe an update: 24 h or more since the last one (or since the declaration)."""
    return ensure_aware(now) - ensure_aware(last_update_at) >= UPDATE_AT_LEAST_EVERY


def is_recent(ended_at: datetime, now: datetime) -> bool:
    """A resolved incident stays on the status page for 90 days after it ended."""
    return ensure_aware(now) - ensure_aware(ended_at) <= RECENT_FOR
