"""Pure rules of the follow-through: due dates, and what counts against the order total.

No database, no Flask; the clock is passed in. The durations are settings
(``SETTLEMENT_*`` in arbiter.config); :class:`Terms` carries them.
"""

from dataclasses import dataclass, fields
from datetime import datetime, timedelta

from arbiter.clock import ensure_aware
from settlements.states import GOODS_KINDS, SettlementKind


@dataclass(frozen=True, slots=True)
class Terms:
    refund_days: int = 7         # an accepted refund arrives within
    ship_days: int = 7           # a replacement/repair is shipped (tracking reference) within
    receive_days: int = 21       # ... and received within
    verdict_days: int = 14       # a verdict's amount is paid within
    contest_days: int = 7        # the buyer may contest the seller's proof within
    silence_days: int = 7        # after the due date, silence counts as "not received"

    @classmethod
    def from_config(cls, config) -> "Terms":
        """``SETTLEMENT_REFUND_DAYS`` and so on override the defaults."""
        return cls(**{f.name: int(config.get(f"SETTLEMENT_{f.name.upper()}", f.default))
                      for f in fields(cls)})


@dataclass(frozen=True, slots=True)
class DueDates:
    due_at: datetime                # when the money or the goods must have arrived
    ship_by: datetime | None = None  # goods: when the tracking reference is due


def due_dates(kind: SettlementKind, start: datetime, terms: Terms) -> DueDates:
    """Days of 24 h of elapsed UTC time from ``start`` (the acceptance or the verdict)."""
    start = ensure_aware(start)
    kind = SettlementKind(kind)
    if kind in GOODS_KINDS:
        return DueDates(start + timedelta(days=terms.receive_days),
                        start + timedelta(days=terms.ship_days))
    if kind in (SettlementKind.VERDICT, SettlementKind.RECOVERY):
        return DueDates(start + timedelta(days=terms.verdict_days))
    return DueDates(start + timedelta(days=terms.refund_days))


def contest_until(proof_at: datetime, terms: Terms) -> datetime:
    return ensure_aware(proof_at) + timedelta(days=terms.contest_days)


def lapses_at(due_at: datetime, terms: Terms) -> datetime:
    return ensure_aware(due_at) + timedelta(days=terms.silence_days)


def may_report_failed(*, due_at: datetime, ship_by: datetime | None, proof_at: datetime | None,
                      contested_until: datetime | None, now: datetime) -> bool:
    """The buyer may say "it did not arrive" once the due date passed, or once goods were
    not shipped by their ship-by date, or while the seller's proof can be contested."""
    now = ensure_aware(now)
    if proof_at is not None and contested_until is not None:
        return now <= ensure_aware(contested_until) or now > ensure_aware(due_at)
    if ship_by is not None and now > ensure_aware(ship_by):
        return True
    return now > ensure_aware(due_at)


def remaining(order_total: int, committed: int) -> int:
    """What may still be promised or paid to the buyer on an order."""
    return max(order_total - committed, 0)
