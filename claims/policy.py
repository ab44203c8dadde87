"""Buyer-protection rules as pure functions: no database, no Flask, no clock.

A policy version is data (:class:`PolicyRules`, stored as a row of ``policy_versions``).
A claim is judged by the version in force when the order was paid (:func:`rules_in_force`),
and :func:`quote` turns that version plus the facts of one purchase into a :class:`Quote`:
eligible or not (with reason codes), what the policy pays and which clauses decided it.
Amounts are integer grosze. ``now`` is always passed in, so a quote can be replayed.

The claim rules around the quote live here too: which discussion lets a claim be filed
(:func:`check_discussion`), when requested documents are due (:func:`documents_due`) and
what a decision may pay (:func:`decided_amount`).
"""

import dataclasses
import heapq
from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from statistics import median_low

from arbiter.clock import ensure_aware
from claims.states import FILING_DOCUMENT_KINDS, ClaimType, Decision, DocumentKind
from disputes.states import DiscussionState
from orders.states import PaymentMethod

DESCRIPTION_MAX = 20_000
RATIONALE_MIN = 30
POLICE_REPORT_REFERENCE_MAX = 64
DOCUMENT_REQUEST_DAYS = 7
DOCUMENTS_PER_UPLOAD = 5
DOCUMENTS_PER_CLAIM = 30
# No platform incident extended the filing window of the order.
NO_EXTENSION = timedelta(0)
# The longest windows a version may give (a longer one is not a policy, and the numbers
# must fit their columns): filing and appealing in days, the seller's answer in hours.
FILING_WINDOW_DAYS_MAX = 3650
APPEAL_WINDOW_DAYS_MAX = 365
SELLER_ANSWER_HOURS_MAX = 720


class Reason(StrEnum):
    """Why a quote is not eligible. Stable codes: the API and decisions expose them."""

    NO_POLICY_IN_FORCE = "no_policy_in_force"
    PAYMENT_METHOD_NOT_COVERED = "payment_method_not_covered"
    CLAIMED_AMOUNT_REQUIRED = "claimed_amount_required"
    CLAIMED_AMOUNT_EXCEEDS_PRICE = "claimed_amount_exceeds_price"
    FILING_WINDOW_EXPIRED = "filing_window_expired"


class Clause(StrEnum):
    """A rule of a policy version that shaped a quote, so a decision can cite it."""

    COVERED_PAYMENT_METHODS = "covered_payment_methods"
    ITEM_FULL_PRICE = "item_full_price"
    ITEM_DOCUMENTED_LOSS = "item_documented_loss"
    SHIPPING_COVERED = "shipping_covered"
    SHIPPING_NOT_COVERED = "shipping_not_covered"
    SHIPPING_CAP = "shipping_cap"
    TOTAL_CAP = "total_cap"
    FILING_WINDOW = "filing_window"
    POLICE_REPORT_REQUIRED = "police_report_required"
    SUPPORTING_DOCUMENTS_REQUIRED = "supporting_documents_required"


class NoPolicyInForce(LookupError):
    """No policy version was in force yet at that ``paid_at``."""

    reason = Reason.NO_POLICY_IN_FORCE

    def __init__(self, paid_at: datetime):
        super().__init__(f"no buyer-protection policy was in force at {paid_at.isoformat()}")
        self.paid_at = paid_at


def required_documents(value: Mapping) -> dict[ClaimType, frozenset[DocumentKind]]:
    """The documents a version requires, by claim type, from a mapping of codes (a JSON
    row or a form): ``{"not_received": ["police_report"]}``. Strict: an unknown claim type,
    a kind the buyer does not hand in at filing (:data:`FILING_DOCUMENT_KINDS`), a kind
    named twice or anything but a list of kinds raises ValueError. Types that require
    nothing are left out."""
    if not isinstance(value, Mapping):
        raise ValueError("documents required: a mapping of claim type to document kinds")
    required = {}
    for claim_type, kinds in value.items():
        if isinstance(kinds, str | bytes) or not isinstance(kinds, Iterable):
            raise ValueError(f"documents required for {claim_type}: a list of kinds")
        kinds = list(kinds)
        chosen = frozenset(map(DocumentKind, kinds))
        if len(chosen) != len(kinds) or not chosen <= set(FILING_DOCUMENT_KINDS):
            raise ValueError(f"documents required for {claim_type}: each of "
                             f"{', '.join(FILING_DOCUMENT_KINDS)} at most once")
        if chosen:
            required[ClaimType(claim_type)] = chosen
    return required


def documents_json(required: Mapping) -> dict[str, list[str]]:
    """``documents_required`` as stored and published: codes, in a stable order."""
    required = required_documents(required)
    return {claim_type.value: [kind.value for kind in FILING_DOCUMENT_KINDS
                               if kind in required[claim_type]]
            for claim_type in ClaimType if claim_type in required}


@dataclass(frozen=True, slots=True)
class PolicyRules:
    """One policy version. The defaults are the rules of version 2017-08."""

    version: str
    effective_from: datetime
    covered_payment_methods: frozenset[PaymentMethod] = frozenset(
        {PaymentMethod.PLATFORM_PAYMENTS, PaymentMethod.BANK_TRANSFER}
    )
    shipping_covered_for: frozenset[PaymentMethod] = frozenset(
        {PaymentMethod.PLATFORM_PAYMENTS}
    )
    shipping_cap_minor: int = 10_000
    total_cap_minor: int = 1_000_000
    filing_window_days: int = 90
    # What the buyer must hand in when filing, by claim type (types not named: nothing).
    # Not hashed: a mapping is not hashable, and versions are compared, never hashed.
    documents_required: Mapping[ClaimType, frozenset[DocumentKind]] = field(
        default_factory=lambda: {ClaimType.NOT_RECEIVED: frozenset({DocumentKind.POLICE_REPORT})},
        hash=False)
    # The most the platform pays one buyer over a rolling window (2017-08 has none).
    per_buyer_cap_minor: int | None = None
    per_buyer_window_days: int | None = None
    # How long the seller may answer a claim (hours of 3,600 s after filing), and how long
    # a party may appeal the decision on a claim (days of 24 h after it). 0 hours: the
    # seller is given no time (only a database row can say so; a draft cannot).
    seller_answer_hours: int = 48
    appeal_window_days: int = 30

    def __post_init__(self) -> None:
        # Rows and JSON hand in lists of plain strings; the rules compare enum members.
        set_field = object.__setattr__
        set_field(self, "effective_from", ensure_aware(self.effective_from))
        set_field(self, "covered_payment_methods",
                  frozenset(map(PaymentMethod, self.covered_payment_methods)))
        set_field(self, "shipping_covered_for",
                  frozenset(map(PaymentMethod, self.shipping_covered_for)))
        set_field(self, "documents_required", required_documents(self.documents_required))
        if not self.version:
            raise ValueError("a policy version needs a code such as 2017-08")
        if self.shipping_cap_minor < 0 or self.total_cap_minor <= 0:
            raise ValueError("caps must be positive (the shipping cap may be zero)")
        if self.filing_window_days <= 0:
            raise ValueError("the filing window must be at least one day")
        if self.appeal_window_days <= 0 or self.seller_answer_hours < 0:
            raise ValueError("the appeal window must be at least one day, the seller's "
                             "answer window not negative")
        if (self.per_buyer_cap_minor is None) != (self.per_buyer_window_days is None):
            raise ValueError("a per-buyer cap needs its window, and a window its cap")
        if self.per_buyer_cap_minor is not None and (
                self.per_buyer_cap_minor <= 0 or self.per_buyer_window_days <= 0):
            raise ValueError("the per-buyer cap and its window must be positive")

    @property
    def police_report_required_for(self) -> frozenset[ClaimType]:
        """The claim types that need a police-report acknowledgement."""
        return frozenset(claim_type for claim_type, kinds in self.documents_required.items()
                         if DocumentKind.POLICE_REPORT in kinds)

    def documents_for(self, claim_type: ClaimType) -> frozenset[DocumentKind]:
        """What a claim of ``claim_type`` must bring when it is filed."""
        return self.documents_required.get(ClaimType(claim_type), frozenset())

    def seller_answer_due(self, filed_at: datetime) -> datetime:
        """Until when the seller may answer a claim filed at ``filed_at``: hours of 3,600 s
        in UTC (incidents move the stored instant later)."""
        return ensure_aware(filed_at) + timedelta(hours=self.seller_answer_hours)

    def buyer_window_start(self, now: datetime) -> datetime | None:
        """Decisions from this instant on count against the per-buyer cap (None: no cap).
        A rolling window of days of 24 h before ``now``."""
        if self.per_buyer_window_days is None:
            return None
        return ensure_aware(now) - timedelta(days=self.per_buyer_window_days)

    def filing_deadline(self, paid_at: datetime,
                        extended_by: timedelta = NO_EXTENSION) -> datetime:
        """The last instant a claim may be filed: ``paid_at`` + N days of 24 h, in UTC,
        plus ``extended_by``: the time platform incidents added to this order's window.

        Elapsed time, not Warsaw calendar days: like every deadline in Arbiter, a day is
        86,400 s whatever DST does. The deadline itself is still inside the window.
        """
        if extended_by < NO_EXTENSION:
            raise ValueError("an extension cannot shorten the filing window")
        return ensure_aware(paid_at) + timedelta(days=self.filing_window_days) + extended_by


@dataclass(frozen=True, slots=True)
class Quote:
    """What the policy pays for one purchase, and whether a claim may be filed at all.

    ``item_amount`` and ``shipping_amount`` are before the total cap, ``total`` after it;
    ``cap_applied`` is true only when the total cap lowered the total. ``clauses`` lists
    the rules that shaped this quote, in policy order: the shipping and total caps appear
    only when they lowered an amount.
    """

    eligible: bool
    reasons: tuple[Reason, ...]
    policy_version: str | None
    item_amount: int
    shipping_amount: int
    total: int
    cap_applied: bool
    clauses: tuple[Clause, ...]
    police_report_required: bool
    filing_deadline: datetime | None
    # What the buyer must hand in when filing (FILING_DOCUMENT_KINDS order).
    documents_required: tuple[DocumentKind, ...] = ()


def rules_in_force(versions: Iterable[PolicyRules], paid_at: datetime) -> PolicyRules:
    """The version with the latest ``effective_from`` at or before ``paid_at``.

    An order paid at the very instant a version takes effect is judged by that version.
    Raises :class:`NoPolicyInForce` (reason ``no_policy_in_force``) before the first one.
    """
    paid_at = ensure_aware(paid_at)
    candidates = [rules for rules in versions if rules.effective_from <= paid_at]
    if not candidates:
        raise NoPolicyInForce(paid_at)
    return max(candidates, key=lambda rules: rules.effective_from)


def quote(
    rules: PolicyRules,
    *,
    item_price: int,
    shipping_cost: int,
    payment_method: PaymentMethod,
    claim_type: ClaimType,
    claimed_amount: int | None,
    paid_at: datetime,
    now: datetime,
    extended_by: timedelta = NO_EXTENSION,
) -> Quote:
    """Apply one policy version to the facts of a purchase (amounts in grosze).

    The amounts are computed even when the quote is not eligible, exactly as the rules
    would give them, so the buyer can see what the policy covers and why it does not
    apply; ``eligible`` (no reasons) is what decides whether anything may be paid:

    - payment method not covered: item amount as usual; shipping as the rules give it;
    - ``other`` without a claimed amount (or a zero one): item amount 0;
    - ``other`` claiming more than the item price: item amount = the item price;
    - filing window passed: amounts as usual.

    ``claimed_amount`` matters only for ``other`` and is ignored for the other types.
    The filing window includes its last instant: filing exactly ``filing_window_days``
    days of 24 h after ``paid_at`` is on time; one microsecond later it has expired.
    ``extended_by`` (the order's incident extensions, 24 h per incident) moves that
    instant later.
    """
    if item_price <= 0:
        raise ValueError("item_price must be positive")
    if shipping_cost < 0 or (claimed_amount is not None and claimed_amount < 0):
        raise ValueError("amounts must not be negative")
    paid_at, now = ensure_aware(paid_at), ensure_aware(now)
    if paid_at < rules.effective_from:
        raise ValueError(f"policy {rules.version} was not yet in force at {paid_at.isoformat()}")
    payment_method, claim_type = PaymentMethod(payment_method), ClaimType(claim_type)

    reasons: list[Reason] = []
    clauses: list[Clause] = [Clause.COVERED_PAYMENT_METHODS]
    if payment_method not in rules.covered_payment_methods:
        reasons.append(Reason.PAYMENT_METHOD_NOT_COVERED)

    if claim_type is ClaimType.OTHER:
        clauses.append(Clause.ITEM_DOCUMENTED_LOSS)
        if not claimed_amount:
            reasons.append(Reason.CLAIMED_AMOUNT_REQUIRED)
            item_amount = 0
        elif claimed_amount > item_price:
            reasons.append(Reason.CLAIMED_AMOUNT_EXCEEDS_PRICE)
            item_amount = item_price
        else:
            item_amount = claimed_amount
    else:
        clauses.append(Clause.ITEM_FULL_PRICE)
        item_amount = item_price

    if payment_method in rules.shipping_covered_for:
        clauses.append(Clause.SHIPPING_COVERED)
        shipping_amount = min(shipping_cost, rules.shipping_cap_minor)
        if shipping_amount < shipping_cost:
            clauses.append(Clause.SHIPPING_CAP)
    else:
        clauses.append(Clause.SHIPPING_NOT_COVERED)
        shipping_amount = 0

    uncapped = item_amount + shipping_amount
    total = min(uncapped, rules.total_cap_minor)
    cap_applied = total < uncapped
    if cap_applied:
        clauses.append(Clause.TOTAL_CAP)

    deadline = rules.filing_deadline(paid_at, extended_by)
    clauses.append(Clause.FILING_WINDOW)
    if now > deadline:
        reasons.append(Reason.FILING_WINDOW_EXPIRED)

    documents = rules.documents_for(claim_type)
    police_report_required = DocumentKind.POLICE_REPORT in documents
    if police_report_required:
        clauses.append(Clause.POLICE_REPORT_REQUIRED)
    if DocumentKind.SUPPORTING in documents:
        clauses.append(Clause.SUPPORTING_DOCUMENTS_REQUIRED)

    return Quote(
        eligible=not reasons,
        reasons=tuple(reasons),
        policy_version=rules.version,
        item_amount=item_amount,
        shipping_amount=shipping_amount,
        total=total,
        cap_applied=cap_applied,
        clauses=tuple(clauses),
        police_report_required=police_report_required,
        filing_deadline=deadline,
        documents_required=tuple(kind for kind in FILING_DOCUMENT_KINDS if kind in documents),
    )


def quote_in_force(
    versions: Iterable[PolicyRules],
    *,
    item_price: int,
    shipping_cost: int,
    payment_method: PaymentMethod,
    claim_type: ClaimType,
    claimed_amount: int | None,
    paid_at: datetime,
    now: datetime,
    extended_by: timedelta = NO_EXTENSION,
) -> Quote:
    """:func:`quote` under the version in force at ``paid_at``.

    Before the first version there are no rules to compute amounts with: the quote is
    ineligible with ``no_policy_in_force``, no policy version and all amounts zero.
    """
    try:
        rules = rules_in_force(versions, paid_at)
    except NoPolicyInForce as error:
        return Quote(
            eligible=False, reasons=(error.reason,), policy_version=None, item_amount=0,
            shipping_amount=0, total=0, cap_applied=False, clauses=(),
            police_report_required=False, filing_deadline=None,
        )
    return quote(rules, item_price=item_price, shipping_cost=shipping_cost,
                 payment_method=payment_method, claim_type=claim_type,
                 claimed_amount=claimed_amount, paid_at=paid_at, now=now,
                 extended_by=extended_by)


# --- filing: the discussion requirement ---------------------------------------------------


class DiscussionProblem(StrEnum):
    """Why no discussion of the order allows a claim yet. Stable codes, like :class:`Reason`."""

    NO_DISCUSSION = "no_discussion"
    DISCUSSION_RESOLVED = "discussion_resolved"
    DISCUSSION_TOO_RECENT = "discussion_too_recent"


@dataclass(frozen=True, slots=True)
class DiscussionFacts:
    """What the claim rules need to know about one discussion of the order."""

    id: int
    state: DiscussionState
    escalation_available_at: datetime


@dataclass(frozen=True, slots=True)
class DiscussionCheck:
    """The discussion a claim would rest on, or why there is none.

    ``available_at`` is set with ``discussion_too_recent``: the earliest instant one of the
    order's unresolved discussions passes its 24 h window.
    """

    discussion_id: int | None
    problem: DiscussionProblem | None
    available_at: datetime | None = None


def check_discussion(discussions: Iterable[DiscussionFacts], now: datetime) -> DiscussionCheck:
    """A claim needs a discussion of the order that is not resolved and whose 24 h window
    has passed (from ``escalation_available_at`` on, inclusive).

    A resolved discussion means the buyer accepted a solution, so it never qualifies; any
    other state does, ended or not (a seller who never answered and a verdict the seller
    ignored are exactly the cases the programme pays for). The newest qualifying discussion
    is the one the claim cites.
    """
    now = ensure_aware(now)
    discussions = list(discussions)
    if not discussions:
        return DiscussionCheck(None, DiscussionProblem.NO_DISCUSSION)
    resolved = DiscussionState.RESOLVED
    unresolved = [d for d in discussions if DiscussionState(d.state) is not resolved]
    if not unresolved:
        return DiscussionCheck(None, DiscussionProblem.DISCUSSION_RESOLVED)
    ready = [d for d in unresolved if ensure_aware(d.escalation_available_at) <= now]
    if not ready:
        soonest = min(ensure_aware(d.escalation_available_at) for d in unresolved)
        return DiscussionCheck(None, DiscussionProblem.DISCUSSION_TOO_RECENT, soonest)
    return DiscussionCheck(max(ready, key=lambda d: d.id).id, None)


# --- review: document requests and decisions -------------------------------------------


def documents_due(requested_at: datetime) -> datetime:
    """A document request is due 7 days of 24 h later (elapsed UTC time, DST or not)."""
    return ensure_aware(requested_at) + timedelta(days=DOCUMENT_REQUEST_DAYS)


def deadline_passed(due_at: datetime, now: datetime) -> bool:
    """The buyer has until ``due_at`` itself; from the next instant on it has passed."""
    return ensure_aware(now) > ensure_aware(due_at)


class DecisionProblem(StrEnum):
    AMOUNT_NOT_EXPECTED = "amount_not_expected"
    AMOUNT_REQUIRED = "amount_required"
    AMOUNT_NOT_BELOW_MAXIMUM = "amount_not_below_maximum"
    AMOUNT_NOT_POSITIVE = "amount_not_positive"


def decided_amount(decision: Decision, amount: int | None, maximum: int) -> int | None:
    """What a decision pays, in grosze, or raise ValueError with a :class:`DecisionProblem`.

    - approved: the claim's computed maximum (the policy total frozen at filing); an amount
      may be given only if it is exactly that maximum;
    - partially approved: an amount of at least 0.01 and below the maximum (paying the
      maximum is an approval; paying more is never possible);
    - rejected: nothing, and no amount may be given.
    """
    decision = Decision(decision)
    if decision is Decision.APPROVED:
        if amount not in (None, maximum):
            raise ValueError(DecisionProblem.AMOUNT_NOT_EXPECTED)
        return maximum
    if decision is Decision.PARTIALLY_APPROVED:
        if amount is None:
            raise ValueError(DecisionProblem.AMOUNT_REQUIRED)
        if amount <= 0:
            raise ValueError(DecisionProblem.AMOUNT_NOT_POSITIVE)
        if amount >= maximum:
            raise ValueError(DecisionProblem.AMOUNT_NOT_BELOW_MAXIMUM)
        return amount
    if amount not in (None, 0):
        raise ValueError(DecisionProblem.AMOUNT_NOT_EXPECTED)
    return None


# --- the per-buyer cap ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuyerCap:
    """What the per-buyer cap leaves of an approval: ``amount`` is what may be paid,
    ``lowered_from`` the approval's own amount when the cap lowered it (else None)."""

    amount: int
    lowered_from: int | None
    room: int | None  # what the buyer had left in the window; None without a cap


def apply_buyer_cap(rules: PolicyRules, amount: int, paid_in_window: int) -> BuyerCap:
    """An approval of ``amount`` for a buyer to whom ``paid_in_window`` was already granted
    inside the rolling window: at most the remaining room (which may be 0: then nothing
    can be approved). Without a cap in the version the amount stands."""
    if amount <= 0 or paid_in_window < 0:
        raise ValueError("amounts must be positive (paid in the window: not negative)")
    if rules.per_buyer_cap_minor is None:
        return BuyerCap(amount, None, None)
    room = max(rules.per_buyer_cap_minor - paid_in_window, 0)
    if amount <= room:
        return BuyerCap(amount, None, room)
    return BuyerCap(room, amount, room)


# --- drafting a new version ----------------------------------------------------------------


class DraftProblem(StrEnum):
    NOT_IN_THE_FUTURE = "not_in_the_future"
    NOTHING_COVERED = "nothing_covered"
    SHIPPING_FOR_UNCOVERED = "shipping_for_uncovered"
    CAP_NOT_POSITIVE = "cap_not_positive"
    SHIPPING_CAP_ABOVE_TOTAL = "shipping_cap_above_total"
    WINDOW_NOT_POSITIVE = "window_not_positive"
    WINDOW_TOO_LONG = "window_too_long"
    BUYER_CAP_HALF_GIVEN = "buyer_cap_half_given"
    DOCUMENTS_NOT_VALID = "documents_not_valid"


# Each window of a version and the longest it may be.
WINDOW_MAXIMA = {"filing_window_days": FILING_WINDOW_DAYS_MAX,
                 "seller_answer_hours": SELLER_ANSWER_HOURS_MAX,
                 "appeal_window_days": APPEAL_WINDOW_DAYS_MAX}


def draft_problems(rules: dict, now: datetime) -> dict[str, DraftProblem]:
    """What is wrong with a proposed version's fields, by field (empty: nothing).

    ``rules`` holds :class:`PolicyRules`'s fields by name. The money rules of the design
    hold for every version: a cap of 0 pays nobody and a window of 0 days lets nobody
    file, so both are refused (so is a window of 0 for the seller's answer or an appeal,
    and any window longer than :data:`WINDOW_MAXIMA`); a version applies only to orders
    paid from a future instant, so that no buyer's protection changes after they paid.
    """
    problems: dict[str, DraftProblem] = {}
    if ensure_aware(rules["effective_from"]) <= ensure_aware(now):
        problems["effective_from"] = DraftProblem.NOT_IN_THE_FUTURE
    covered = set(rules["covered_payment_methods"])
    if not covered:
        problems["covered_payment_methods"] = DraftProblem.NOTHING_COVERED
    if not set(rules["shipping_covered_for"]) <= covered:
        problems["shipping_covered_for"] = DraftProblem.SHIPPING_FOR_UNCOVERED
    if rules["total_cap_minor"] <= 0:
        problems["total_cap_minor"] = DraftProblem.CAP_NOT_POSITIVE
    if rules["shipping_covered_for"] and rules["shipping_cap_minor"] <= 0:
        problems["shipping_cap_minor"] = DraftProblem.CAP_NOT_POSITIVE
    elif rules["shipping_cap_minor"] > rules["total_cap_minor"] > 0:
        problems["shipping_cap_minor"] = DraftProblem.SHIPPING_CAP_ABOVE_TOTAL
    for name, longest in WINDOW_MAXIMA.items():
        if rules.get(name) is None or rules[name] <= 0:
            problems[name] = DraftProblem.WINDOW_NOT_POSITIVE
        elif rules[name] > longest:
            problems[name] = DraftProblem.WINDOW_TOO_LONG
    try:
        required_documents(rules.get("documents_required"))
    except ValueError:
        problems["documents_required"] = DraftProblem.DOCUMENTS_NOT_VALID
    cap, window = rules.get("per_buyer_cap_minor"), rules.get("per_buyer_window_days")
    if (cap is None) != (window is None):
        problems["per_buyer_cap_minor" if cap is None else "per_buyer_window_days"] = (
            DraftProblem.BUYER_CAP_HALF_GIVEN)
    elif cap is not None and cap <= 0:
        problems["per_buyer_cap_minor"] = DraftProblem.CAP_NOT_POSITIVE
    elif window is not None and window <= 0:
        problems["per_buyer_window_days"] = DraftProblem.WINDOW_NOT_POSITIVE
    elif window is not None and window > FILING_WINDOW_DAYS_MAX:  # as long as filing may be
        problems["per_buyer_window_days"] = DraftProblem.WINDOW_TOO_LONG
    return problems


COMPARED_FIELDS = ("covered_payment_methods", "shipping_covered_for", "shipping_cap_minor",
                   "total_cap_minor", "filing_window_days", "documents_required",
                   "per_buyer_cap_minor", "per_buyer_window_days", "seller_answer_hours",
                   "appeal_window_days")


def changed_fields(before: PolicyRules, after: PolicyRules) -> list[str]:
    """The fields in which ``after`` differs from ``before``, in the rules page's order."""
    return [name for name in COMPARED_FIELDS if getattr(before, name) != getattr(after, name)]


# --- the impact of a draft: past claims replayed under it ----------------------------------


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    """What a past claim's quote depended on, and the version that judged it."""

    claim_id: int
    submitted_at: datetime
    paid_at: datetime
    item_price: int
    shipping_cost: int
    payment_method: PaymentMethod
    claim_type: ClaimType
    claimed_amount: int | None
    judged_by: str  # the version code


@dataclass(frozen=True, slots=True)
class ClaimChange:
    claim_id: int
    judged_by: str
    eligible_before: bool
    eligible_after: bool
    total_before: int  # the most the claim could pay (0 when not eligible)
    total_after: int

    @property
    def change(self) -> int:
        return self.total_after - self.total_before


@dataclass(frozen=True)
class Impact:
    claims: int
    eligibility_changed: int
    amount_changed: int  # claims whose maximum payout changes
    total_change: int  # grosze, the sum of every claim's change
    median_change: int  # grosze, over every replayed claim (the lower middle; 0 for none)
    largest: tuple[ClaimChange, ...]  # by the size of the change, the largest first


# Replayed claims are judged as though each version had been in force when the order was
# paid (a draft's date is after every past payment). Its date matters to quote() only for
# that check, so each version is moved back once per replay, not once per claim.
_BEFORE_EVERY_PAYMENT = datetime.min.replace(tzinfo=UTC)


def _in_force_for_every_payment(rules: PolicyRules) -> PolicyRules:
    return dataclasses.replace(rules, effective_from=_BEFORE_EVERY_PAYMENT)


def _payable(rules: PolicyRules, facts: ClaimFacts) -> tuple[bool, int]:
    """Eligible at filing under ``rules`` (in force for every payment), and the most it
    could pay (0 when not)."""
    result = quote(rules, item_price=facts.item_price, shipping_cost=facts.shipping_cost,
                   payment_method=facts.payment_method, claim_type=facts.claim_type,
                   claimed_amount=facts.claimed_amount, paid_at=facts.paid_at,
                   now=facts.submitted_at)
    return result.eligible, result.total if result.eligible else 0


def replay(claims: Iterable[ClaimFacts], draft: PolicyRules,
           versions: dict[str, PolicyRules], largest: int = 20) -> Impact:
    """Every claim under the version that judged it and under ``draft``, in one pass.

    Memory stays flat in the number of claims except for one machine integer per claim,
    which the exact median needs (8 bytes: 8 MB for a million claims).
    """
    draft = _in_force_for_every_payment(draft)
    versions = {code: _in_force_for_every_payment(rules) for code, rules in versions.items()}
    changes = array("q")
    biggest: list[tuple[int, int, ClaimChange]] = []  # a min-heap of the largest changes
    eligibility_changed = amount_changed = 0
    for facts in claims:
        eligible_before, before = _payable(versions[facts.judged_by], facts)
        eligible_after, after = _payable(draft, facts)
        changes.append(after - before)
        eligibility_changed += eligible_before != eligible_after
        if after != before:
            amount_changed += 1
            change = ClaimChange(facts.claim_id, facts.judged_by, eligible_before,
                                 eligible_after, before, after)
            entry = (abs(after - before), -facts.claim_id, change)
            if len(biggest) < largest:
                heapq.heappush(biggest, entry)
            elif entry[:2] > biggest[0][:2]:
                heapq.heapreplace(biggest, entry)
    ordered = tuple(change for *_key, change in sorted(biggest, key=lambda e: e[:2],
                                                       reverse=True))
    return Impact(claims=len(changes), eligibility_changed=eligibility_changed,
                  amount_changed=amount_changed, total_change=sum(changes),
                  median_change=median_low(changes) if changes else 0, largest=ordered)
