"""The incident state machine, its one transition table, and the incident vocabulary.

An incident is open until staff resolve it with its end time. Every service function
names its transition here; ``require`` refuses anything the table does not allow with
:class:`TransitionNotAllowed` (HTTP 409).
"""

from enum import StrEnum

from flask_babel import lazy_gettext as _l

from arbiter.statemachine import StateMachine, Transition


class IncidentState(StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class UpdateKind(StrEnum):
    """The four messages of incident communication, in the order they usually come."""

    CONFIRMED = "confirmed"  # acknowledged, being handled
    IMPACT = "impact"  # what users cannot do
    PROGRESS = "progress"  # at least one a day while open
    RESOLVED = "resolved"  # with the end time; posted only by resolving


class AffectedService(StrEnum):
    DISCUSSIONS = "discussions"
    CLAIMS = "claims"
    PAYMENTS = "payments"
    WHOLE_SITE = "whole_site"


class DeadlineKind(StrEnum):
    """Every deadline an incident can extend: ``<object>.<column>``; the object id of an
    extension record is the id of that object (the order, for the filing window)."""

    DISCUSSION_RESPOND_BY = "discussion.respond_by"
    DISCUSSION_ESCALATION = "discussion.escalation_available_at"
    INFORMATION_REQUEST = "information_request.due_at"
    DOCUMENT_REQUEST = "document_request.due_at"
    FILING_WINDOW = "order.filing_window"
    CLAIM_SELLER_ANSWER = "claim.seller_answer_due_at"
    VERDICT_APPEAL_WINDOW = "discussion.appeal_window"
    CLAIM_APPEAL_WINDOW = "claim.appeal_window"
    APPEAL_ANSWER = "appeal.answer_due_at"
    APPEAL_REVIEW = "appeal.review_due_at"


S = IncidentState
_ANY = frozenset(S)
TRANSITIONS: tuple[Transition, ...] = (
    Transition("post_update", frozenset({S.OPEN}), None),
    Transition("resolve", frozenset({S.OPEN}), S.RESOLVED),
    Transition("change_window", _ANY, None),
    Transition("extend_deadlines", _ANY, None),
)
MACHINE = StateMachine(TRANSITIONS, subject="incident", refusal=lambda state: str(_l(
    "This incident is %(state)s; that is not possible now.", state=STATE_LABELS[state])))
transition, allowed, require = MACHINE.transition, MACHINE.allowed, MACHINE.require


STATE_LABELS = {
    S.OPEN: _l("in progress"),
    S.RESOLVED: _l("resolved"),
}
UPDATE_KIND_LABELS = {
    UpdateKind.CONFIRMED: _l("Confirmed"),
    UpdateKind.IMPACT: _l("Impact"),
    UpdateKind.PROGRESS: _l("Progress"),
    UpdateKind.RESOLVED: _l("Resolved"),
}
SERVICE_LABELS = {
    AffectedService.DISCUSSIONS: _l("Discussions"),
    AffectedService.CLAIMS: _l("Protection claims"),
    AffectedService.PAYMENTS: _l("Payments"),
    AffectedService.WHOLE_SITE: _l("The whole site"),
}
DEADLINE_KIND_LABELS = {
    DeadlineKind.DISCUSSION_RESPOND_BY: _l("Seller's answer"),
    DeadlineKind.DISCUSSION_ESCALATION: _l("Asking the platform for help"),
    DeadlineKind.INFORMATION_REQUEST: _l("Information requests"),
    DeadlineKind.DOCUMENT_REQUEST: _l("Document requests"),
    DeadlineKind.FILING_WINDOW: _l("Claim filing windows"),
    DeadlineKind.CLAIM_SELLER_ANSWER: _l("Seller's answer to a claim"),
    DeadlineKind.VERDICT_APPEAL_WINDOW: _l("Appealing a verdict"),
    DeadlineKind.CLAIM_APPEAL_WINDOW: _l("Appealing a claim decision"),
    DeadlineKind.APPEAL_ANSWER: _l("Answer to an appeal"),
    DeadlineKind.APPEAL_REVIEW: _l("Review of an appeal"),
}
