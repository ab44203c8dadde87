"""Pure rules of appeals: who may appeal what, until when, and what an outcome grants.

No database, no Flask; the clock is passed in. The durations are settings
(``APPEAL_*`` in arbiter.config); :class:`Terms` carries them.
"""

from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import StrEnum

from appeals.states import Appellant, Outcome, Subject
from arbiter.clock import ensure_aware


@dataclass(frozen=True, slots=True)
class Terms:
    window_days: int = 30    # a decision may be appealed within
    answer_hours: int = 72   # the other party may add a statement within
    review_days: int = 14    # the service level: staff decide within

    @classmethod
    def from_config(cls, config) -> "Terms":
        """``APPEAL_WINDOW_DAYS`` and so on override the defaults."""
        return cls(**{f.name: int(config.get(f"APPEAL_{f.name.upper()}", f.default))
                      for f in fields(cls)})


class Refusal(StrEnum):
    """Why a party may not appeal a decision. Stable codes: the API returns them."""

    NOT_APPEALABLE = "not_appealable"   # this party has nothing to appeal in this decision
    WINDOW_CLOSED = "appeal_window_closed"
    ALREADY_APPEALED = "already_appealed"


@dataclass(frozen=True, slots=True)
class Decision:
    """What the appeal rules need to know about the appealed decision."""

    subject: Subject
    decided_at: datetime
    granted: int          # grosze the decision granted the buyer
    maximum: int          # grosze the decision could have granted at most
    claim_state: str | None = None  # claims: approved, partially_approved, rejected, paid


def closes_at(decision: Decision, terms: Terms, extended_by: timedelta = timedelta(0)) -> datetime:
    return ensure_aware(decision.decided_at) + timedelta(days=terms.window_days) + extended_by


def refusal(decision: Decision, appellant: Appellant, *, now: datetime, terms: Terms,
            already: bool, extended_by: timedelta = timedelta(0)) -> Refusal | None:
    """Either party may appeal a verdict. In a claim, the buyer may appeal a rejection or a
    partial approval; the seller an approval (it creates the recovery from them)."""
    if decision.subject is Subject.CLAIM:
        if appellant is Appellant.BUYER and decision.granted >= decision.maximum:
            return Refusal.NOT_APPEALABLE
        if appellant is Appellant.SELLER and decision.granted == 0:
            return Refusal.NOT_APPEALABLE
    if already:
        return Refusal.ALREADY_APPEALED
    if ensure_aware(now) > closes_at(decision, terms, extended_by):
        return Refusal.WINDOW_CLOSED
    return None


def answer_due(filed_at: datetime, terms: Terms) -> datetime:
    return ensure_aware(filed_at) + timedelta(hours=terms.answer_hours)


def review_due(filed_at: datetime, terms: Terms) -> datetime:
    return ensure_aware(filed_at) + timedelta(days=terms.review_days)


class AmountProblem(StrEnum):
    AMOUNT_NOT_EXPECTED = "amount_not_expected"
    AMOUNT_REQUIRED = "amount_required"
    AMOUNT_UNCHANGED = "amount_unchanged"
    AMOUNT_OUT_OF_RANGE = "amount_out_of_range"
    WRONG_DIRECTION = "wrong_direction"


def granted_after(outcome: Outcome, *, original: int, amount: int | None, ceiling: int,
                  appellant: Appellant, subject: Subject) -> int:
    """What the buyer is granted after the appeal, in grosze, or ValueError(AmountProblem).

    - upheld: the original amount (no amount may be given);
    - varied: a different amount, at least 0.01 and at most ``ceiling``;
    - overturned: the opposite decision: nothing when the original granted something,
      otherwise an amount of at least 0.01 and at most ``ceiling``.
    A claim's seller appeals against paying the recovery, so the outcome can only lower
    what the decision granted; a claim's buyer appeals for more, so it can only raise it.
    """
    outcome = Outcome(outcome)
    if outcome is Outcome.UPHELD:
        if amount not in (None, original):
            raise ValueError(AmountProblem.AMOUNT_NOT_EXPECTED)
        return original
    if outcome is Outcome.OVERTURNED and original > 0:
        if amount not in (None, 0):
            raise ValueError(AmountProblem.AMOUNT_NOT_EXPECTED)
        granted = 0
    else:
        if amount is None:
            raise ValueError(AmountProblem.AMOUNT_REQUIRED)
        if not 0 < amount <= ceiling:
            raise ValueError(AmountProblem.AMOUNT_OUT_OF_RANGE)
        if outcome is Outcome.VARIED and amount == original:
            raise ValueError(AmountProblem.AMOUNT_UNCHANGED)
        granted = amount
    if subject is Subject.CLAIM:
        if appellant is Appellant.SELLER and granted > original:
            raise ValueError(AmountProblem.WRONG_DIRECTION)
        if appellant is Appellant.BUYER and granted < original:
            raise ValueError(AmountProblem.WRONG_DIRECTION)
    return granted
