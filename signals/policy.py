"""Abuse signals as pure rules: which of a buyer's figures are strong, and how strong the
whole is. No database, no Flask; the figures come in as plain numbers (signals.queries).

Signals are shown to staff, never acted on by the software: nothing here refuses,
delays or lowers anything. A sanction is a human decision with a written rationale
(DESIGN.md, "Money and people controls").

Each rule is data (:data:`RULES`): the figure it reads, how high it must be, the share of
the buyer's orders it must exceed, and its weight in the score. :func:`assess` applies the
rules in Python (the panel beside a claim or an escalation); ``signals.queries`` writes
the same rules as SQL to rank every buyer in one statement. One table of rules, two
readers of it; tests/signals compare them.
"""

from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from arbiter.metrics import percent
from disputes.policy import PROFILE_WINDOW_MONTHS, profile_window_start

# The same "last 12 months" as the seller's public profile (12 calendar months in Warsaw).
WINDOW_MONTHS = PROFILE_WINDOW_MONTHS
# How many accounts the staff page ranks.
RANKING_SIZE = 50
# Longest staff note about an account.
NOTE_MAX = 5_000


def window_start(now: datetime) -> datetime:
    """Where "the last 12 months" of the signals begin."""
    return profile_window_start(now)


class Signal(StrEnum):
    SHARED_ACCOUNT = "shared_account"
    NOT_RECEIVED_CLAIMS_ON_DELIVERED = "not_received_claims_on_delivered"
    NOT_RECEIVED_DISCUSSIONS_ON_DELIVERED = "not_received_discussions_on_delivered"
    REJECTED_CLAIMS = "rejected_claims"
    CLAIMS_SHARE = "claims_share"
    DISCUSSIONS_SHARE = "discussions_share"


@dataclass(frozen=True, slots=True)
class Figures:
    """One buyer's figures. Counts of the last 12 months except ``other_buyers``."""

    orders: int = 0                      # orders paid in the window
    claims: int = 0                      # protection claims filed in the window
    discussions: int = 0                 # discussions opened in the window
    rejected_claims: int = 0             # of those claims, rejected
    not_received_claims_on_delivered: int = 0       # "not received" claims on orders
    not_received_discussions_on_delivered: int = 0  # ... and discussions, that the
    #                                                 marketplace reports delivered
    other_buyers: int = 0                # other people whose claims name one of this
    #                                      buyer's bank accounts (at any time)

    @property
    def claims_percent(self) -> Decimal | None:
        """Claims per orders in per cent (one decimal); None without orders."""
        return percent(self.claims, self.orders)

    @property
    def discussions_percent(self) -> Decimal | None:
        return percent(self.discussions, self.orders)


FIGURE_NAMES = tuple(f.name for f in fields(Figures))


@dataclass(frozen=True, slots=True)
class Rule:
    """A signal is strong when its figure is at least ``at_least`` and, for a share,
    when figure / orders is more than ``share_above_percent`` % (with no order in the
    window, any count of at least ``at_least`` is more than every share)."""

    signal: Signal
    figure: str
    at_least: int
    weight: int
    share_above_percent: int | None = None


RULES: tuple[Rule, ...] = (
    # A bank account is one person's or one household's. Several buyer accounts paid to
    # one IBAN is how one person gets round per-person limits, or how a mule account
    # collects for many: a single other buyer is worth a look, and it weighs most.
    Rule(Signal.SHARED_ACCOUNT, "other_buyers", at_least=1, weight=4),
    # "Not received" against the carrier's delivery record: once can be a stolen parcel
    # or a wrong neighbour; twice in a year is a pattern.
    Rule(Signal.NOT_RECEIVED_CLAIMS_ON_DELIVERED, "not_received_claims_on_delivered",
         at_least=2, weight=3),
    Rule(Signal.NOT_RECEIVED_DISCUSSIONS_ON_DELIVERED, "not_received_discussions_on_delivered",
         at_least=2, weight=2),
    # Claims that failed on their merits (or for missing documents). Three is the number
    # past bad luck with sellers that advisors asked for.
    Rule(Signal.REJECTED_CLAIMS, "rejected_claims", at_least=3, weight=3),
    # The programme compensated 0.0036 % of transactions: claims on more than one order
    # in ten are thousands of times the norm. At least two claims, so that one honest
    # claim on a buyer's first order (100 %) is not a signal.
    Rule(Signal.CLAIMS_SHARE, "claims", at_least=2, weight=2, share_above_percent=10),
    # Discussions are ordinary (most end between the parties), so only a quarter of the
    # buyer's orders and at least three of them count, and they weigh least.
    Rule(Signal.DISCUSSIONS_SHARE, "discussions", at_least=3, weight=1,
         share_above_percent=25),
)
RULE_FOR = {rule.signal: rule for rule in RULES}


def is_strong(rule: Rule, figures: Figures) -> bool:
    value = getattr(figures, rule.figure)
    if value < rule.at_least:
        return False
    if rule.share_above_percent is None:
        return True
    return value * 100 > rule.share_above_percent * figures.orders


@dataclass(frozen=True, slots=True)
class Assessment:
    figures: Figures
    strong: frozenset[Signal]

    @property
    def score(self) -> int:
        return score_of(self.strong)

    def is_strong(self, signal: Signal | str) -> bool:
        return Signal(signal) in self.strong

    @property
    def rules(self) -> list[dict]:
        """Every rule with whether this buyer's figure is above its threshold."""
        return [{"signal": rule.signal, "figure": rule.figure, "at_least": rule.at_least,
                 "share_above_percent": rule.share_above_percent, "weight": rule.weight,
                 "strong": rule.signal in self.strong} for rule in RULES]


def score_of(strong) -> int:
    """The ranking score: the sum of the weights of the strong signals (0 to 15).

    Weights, not counts: a shared bank account (4) outranks a buyer who merely files
    often (2); two different strong signals together outrank any single one but the
    shared account. Equal scores are ordered by :func:`ranking_key`.
    """
    return sum(RULE_FOR[Signal(signal)].weight for signal in strong)


def assess(figures: Figures) -> Assessment:
    return Assessment(figures, frozenset(r.signal for r in RULES if is_strong(r, figures)))


def ranking_key(user_id: int, assessment: Assessment) -> tuple:
    """Staff page order: the higher score first; then more claims, then more discussions
    (more cases to read behind the same signals); then the older account (lower id)."""
    f = assessment.figures
    return (-assessment.score, -f.claims, -f.discussions, user_id)
