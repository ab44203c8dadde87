"""The discussion state machine: states, the one transition table, and its vocabulary.

Every service function names its transition here; ``require`` refuses anything the table
does not allow with :class:`TransitionNotAllowed` (HTTP 409). The JSON API publishes the
same table, so it is never written twice.
"""

from enum import StrEnum

from flask_babel import lazy_gettext as _l

from arbiter.statemachine import StateMachine, Transition


class DiscussionState(StrEnum):
    AWAITING_SELLER = "awaiting_seller"
    IN_PROGRESS = "in_progress"
    ESCALATED = "escalated"
    AWAITING_FULFILMENT = "awaiting_fulfilment"
    RESOLVED = "resolved"
    DECIDED = "decided"
    CLOSED = "closed"
    SETTLED_BY_PLATFORM = "settled_by_platform"


# The parties still negotiate (offers, escalation).
TALKING_STATES = frozenset({DiscussionState.AWAITING_SELLER, DiscussionState.IN_PROGRESS,
                            DiscussionState.ESCALATED})
# Not ended: at most one per order (database-enforced); messages may still be written.
OPEN_STATES = TALKING_STATES | {DiscussionState.AWAITING_FULFILMENT}
TERMINAL_STATES = frozenset({DiscussionState.RESOLVED, DiscussionState.DECIDED,
                             DiscussionState.CLOSED, DiscussionState.SETTLED_BY_PLATFORM})


class Reason(StrEnum):
    NOT_RECEIVED = "not_received"
    NOT_AS_DESCRIBED = "not_as_described"
    DAMAGED = "damaged"
    MISSING_PARTS = "missing_parts"
    OTHER = "other"


class ExpectedOutcome(StrEnum):
    REFUND = "refund"
    PARTIAL_REFUND = "partial_refund"
    REPLACEMENT = "replacement"
    REPAIR = "repair"


class OfferKind(StrEnum):
    REFUND = "refund"
    PARTIAL_REFUND = "partial_refund"
    REPLACEMENT = "replacement"
    REPAIR = "repair"


class OfferState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    SUPERSEDED = "superseded"


class Verdict(StrEnum):
    BUYER_FAVOUR = "buyer_favour"
    SELLER_FAVOUR = "seller_favour"
    PARTIAL = "partial"


class Party(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"


class Role(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"
    STAFF = "staff"
    SYSTEM = "system"


class EntryKind(StrEnum):
    MESSAGE = "message"
    OFFER = "offer"
    STATE_CHANGE = "state_change"
    SYSTEM_NOTE = "system_note"
    INFORMATION_REQUEST = "information_request"


S = DiscussionState
_ANSWERABLE = frozenset({S.AWAITING_SELLER, S.IN_PROGRESS})
TRANSITIONS: tuple[Transition, ...] = (
    Transition("seller_answers", frozenset({S.AWAITING_SELLER}), S.IN_PROGRESS, Role.SELLER),
    Transition("escalate", _ANSWERABLE, S.ESCALATED, Role.BUYER,
               timer="escalation_available_at"),
    # An accepted offer is a promise: the discussion waits until it is kept (settlements/).
    Transition("accept_offer", TALKING_STATES, S.AWAITING_FULFILMENT, Role.BUYER,
               starts="settlement.due_at"),
    Transition("fulfilment_confirmed", frozenset({S.AWAITING_FULFILMENT}), S.RESOLVED,
               Role.BUYER),
    # A broken promise reopens the discussion with escalation available at once.
    Transition("fulfilment_failed", frozenset({S.AWAITING_FULFILMENT}), S.IN_PROGRESS,
               Role.BUYER, timer="settlement.due_at"),
    Transition("close_as_solved", _ANSWERABLE | {S.ESCALATED}, S.RESOLVED, Role.BUYER),
    Transition("withdraw", _ANSWERABLE, S.CLOSED, Role.BUYER),
    Transition("close_for_inactivity", frozenset({S.IN_PROGRESS}), S.CLOSED, Role.SYSTEM,
               timer="last_activity_at + 30 days"),
    Transition("decide", frozenset({S.ESCALATED}), S.DECIDED, Role.STAFF),
    # A claim approved on the order: the platform compensates, the discussion ends.
    Transition("settle_by_platform", OPEN_STATES, S.SETTLED_BY_PLATFORM, Role.STAFF),
)
MACHINE = StateMachine(TRANSITIONS, subject="discussion", refusal=lambda state: str(_l(
    "This discussion is %(state)s; that is not possible now.", state=STATE_LABELS[state])))
transition, allowed, require = MACHINE.transition, MACHINE.allowed, MACHINE.require


STATE_LABELS = {
    S.AWAITING_SELLER: _l("awaiting the seller"),
    S.IN_PROGRESS: _l("in progress"),
    S.ESCALATED: _l("with the platform"),
    S.AWAITING_FULFILMENT: _l("awaiting fulfilment"),
    S.SETTLED_BY_PLATFORM: _l("settled by the platform"),
    S.RESOLVED: _l("resolved"),
    S.DECIDED: _l("decided by the platform"),
    S.CLOSED: _l("closed"),
}
REASON_LABELS = {
    Reason.NOT_RECEIVED: _l("Item not received"),
    Reason.NOT_AS_DESCRIBED: _l("Item not as described"),
    Reason.DAMAGED: _l("Item damaged"),
    Reason.MISSING_PARTS: _l("Parts missing"),
    Reason.OTHER: _l("Other problem"),
}
OUTCOME_LABELS = {
    ExpectedOutcome.REFUND: _l("Refund"),
    ExpectedOutcome.PARTIAL_REFUND: _l("Partial refund"),
    ExpectedOutcome.REPLACEMENT: _l("Replacement"),
    ExpectedOutcome.REPAIR: _l("Repair"),
}
OFFER_LABELS = {
    OfferKind.REFUND: _l("Full refund"),
    OfferKind.PARTIAL_REFUND: _l("Partial refund"),
    OfferKind.REPLACEMENT: _l("Replacement"),
    OfferKind.REPAIR: _l("Repair"),
}
VERDICT_LABELS = {
    Verdict.BUYER_FAVOUR: _l("In the buyer's favour"),
    Verdict.SELLER_FAVOUR: _l("In the seller's favour"),
    Verdict.PARTIAL: _l("Partly in the buyer's favour"),
}
PARTY_LABELS = {Party.BUYER: _l("the buyer"), Party.SELLER: _l("the seller")}
