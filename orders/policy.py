"""Pure rules about orders and the people on them: no database, no Flask.

An order is one case: its discussions, verdicts, claims, payouts and (later) appeals all
belong to it, and so do its two parties, the buyer and the seller.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from arbiter.clock import ensure_aware


def conflicted(user, case) -> bool:
    """Is ``user`` the buyer or the seller of ``case``?

    Staff buy and sell on the marketplace like anybody else, and on a case of their own they
    act as a party, never as staff: they do not take it, ask for information or documents,
    decide it, review an appeal of it, or approve or release its payout, and the staff
    queues do not offer it to them. ``case`` is anything that carries the order's parties
    (``buyer_id`` and ``seller_id``): an order, a discussion, a claim, a request, a payout.
    The database holds the same rule as CHECK constraints on those rows (migration 0013).
    """
    user_id = getattr(user, "id", None)
    return user_id is not None and user_id in (case.buyer_id, case.seller_id)


# --- the order page's headline ------------------------------------------------------------
#
# The order page says in one place where the case stands and what comes next. Everything
# else on the page (the promise card, the buyer-protection quote) gives details; nothing
# may contradict the headline. One pure function decides it from the case's facts, so
# each state has exactly one message, and every state is tested
# (tests/orders/test_headline.py). States are strings here (orders knows no other
# package's enums); the facts are gathered by orders.services.case_facts.


class Headline(StrEnum):
    """Where the case stands, most decisive first. Stable codes: the page exposes them."""

    FULLY_COMPENSATED = "fully_compensated"
    CLAIM_IN_REVIEW = "claim_in_review"
    CLAIM_AWAITING_DOCUMENTS = "claim_awaiting_documents"
    CLAIM_APPROVED = "claim_approved"
    CLAIM_PAID = "claim_paid"
    PROMISE_PENDING = "promise_pending"
    PROMISE_OVERDUE = "promise_overdue"
    AWAITING_SELLER = "awaiting_seller"
    SELLER_ANSWERED = "seller_answered"
    ESCALATION_OPEN = "escalation_open"
    ESCALATED = "escalated"
    AWAITING_FULFILMENT = "awaiting_fulfilment"
    DECIDED = "decided"
    RESOLVED = "resolved"
    CLOSED = "closed"
    SETTLED_BY_PLATFORM = "settled_by_platform"
    NO_DISCUSSION = "no_discussion"


class ClaimHint(StrEnum):
    """What the headline adds about a protection claim; nothing when a claim is not the
    buyer's next step (not covered, the window over, a claim already there, resolved)."""

    CAN_FILE = "can_file"  # until the filing deadline
    CAN_FILE_FROM = "can_file_from"  # once the discussion's 24 h have passed
    REPORT_FIRST = "report_first"  # a claim needs a discussion first


@dataclass(frozen=True)
class DiscussionFacts:
    """The discussion the headline is about: the open one, else the latest."""

    state: str
    opened_at: datetime
    respond_by: datetime
    escalation_available_at: datetime
    ended_at: datetime | None = None  # decided_at, resolved_at or closed_at


@dataclass(frozen=True)
class ClaimFacts:
    """The order's claim that is open or compensates it (claims.EXCLUSIVE_STATES)."""

    id: int
    state: str
    documents_due_at: datetime | None = None


@dataclass(frozen=True)
class CaseFacts:
    now: datetime
    covered: bool  # buyer protection covers the order (rules in force, payment method)
    fully_compensated: bool = False  # nothing is left to pay on the order
    filing_deadline: datetime | None = None  # the claim filing window's end
    # What claims.services.filing_refusal says: None (a claim can be filed now) or its code;
    # with "discussion_too_recent", from when.
    filing_refusal: str | None = None
    filing_available_at: datetime | None = None
    discussion: DiscussionFacts | None = None
    claim: ClaimFacts | None = None
    promise_due_at: datetime | None = None  # the seller's earliest promise not yet kept


@dataclass(frozen=True)
class HeadlineMessage:
    code: Headline
    when: datetime | None = None  # the one time the message names
    claim_id: int | None = None
    claim_hint: ClaimHint | None = None
    claim_when: datetime | None = None


_CLAIM_HEADLINES = {"submitted": Headline.CLAIM_IN_REVIEW,
                    "under_review": Headline.CLAIM_IN_REVIEW,
                    "awaiting_second_approval": Headline.CLAIM_IN_REVIEW,
                    "awaiting_documents": Headline.CLAIM_AWAITING_DOCUMENTS,
                    "approved": Headline.CLAIM_APPROVED,
                    "partially_approved": Headline.CLAIM_APPROVED,
                    "paid": Headline.CLAIM_PAID}
_ENDED_HEADLINES = {"decided": Headline.DECIDED, "resolved": Headline.RESOLVED,
                    "closed": Headline.CLOSED,
                    "settled_by_platform": Headline.SETTLED_BY_PLATFORM}


def headline(facts: CaseFacts) -> HeadlineMessage:
    """The one message of the order page for this state of the case (see :class:`Headline`
    for the order of precedence): the compensation, then the claim, then the seller's
    promise, then the discussion, with what it means for a protection claim."""
    if facts.fully_compensated and facts.promise_due_at is None:
        claim_id = facts.claim.id if facts.claim else None
        return HeadlineMessage(Headline.FULLY_COMPENSATED, claim_id=claim_id)
    if facts.claim is not None:
        code = _CLAIM_HEADLINES[facts.claim.state]
        when = facts.claim.documents_due_at if code is Headline.CLAIM_AWAITING_DOCUMENTS else None
        return HeadlineMessage(code, when=when, claim_id=facts.claim.id)
    if facts.promise_due_at is not None:
        overdue = ensure_aware(facts.now) > ensure_aware(facts.promise_due_at)
        return HeadlineMessage(Headline.PROMISE_OVERDUE if overdue else Headline.PROMISE_PENDING,
                               when=facts.promise_due_at)
    code, when = _discussion_headline(facts.discussion, facts.now)
    return HeadlineMessage(code, when=when, **_claim_hint(facts, code))


def _discussion_headline(discussion: DiscussionFacts | None,
                         now: datetime) -> tuple[Headline, datetime | None]:
    if discussion is None:
        return Headline.NO_DISCUSSION, None
    state = discussion.state
    if state == "awaiting_seller":
        return Headline.AWAITING_SELLER, discussion.respond_by
    if state == "in_progress":
        if ensure_aware(now) >= ensure_aware(discussion.escalation_available_at):
            return Headline.ESCALATION_OPEN, None
        return Headline.SELLER_ANSWERED, discussion.escalation_available_at
    if state == "escalated":
        return Headline.ESCALATED, None
    if state == "awaiting_fulfilment":
        return Headline.AWAITING_FULFILMENT, None
    return _ENDED_HEADLINES[state], discussion.ended_at


def _claim_hint(facts: CaseFacts, code: Headline) -> dict:
    """A claim is mentioned only when it is the buyer's possible next step: the order is
    covered and nothing but the discussion stands in the way."""
    if not facts.covered:
        return {}
    if facts.filing_refusal is None:
        return {"claim_hint": ClaimHint.CAN_FILE, "claim_when": facts.filing_deadline}
    if facts.filing_refusal == "discussion_too_recent":
        return {"claim_hint": ClaimHint.CAN_FILE_FROM, "claim_when": facts.filing_available_at}
    if facts.filing_refusal == "no_discussion":
        return {"claim_hint": ClaimHint.REPORT_FIRST}
    return {}
