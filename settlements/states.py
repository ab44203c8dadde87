"""The settlement state machine, its vocabulary, and what each kind of row means.

A row is never edited once written: it only moves ``owed`` -> ``confirmed`` | ``failed`` |
``cancelled``, each move one transition of the table below (409 otherwise) with its audit
entry. A different outcome is a new row.
"""

from enum import StrEnum

from flask_babel import lazy_gettext as _l

from arbiter.statemachine import StateMachine, Transition


class SettlementKind(StrEnum):
    REFUND = "refund"                  # an accepted full-refund offer (seller -> buyer)
    PARTIAL_REFUND = "partial_refund"  # an accepted partial-refund offer (seller -> buyer)
    VERDICT = "verdict"                # what a staff verdict orders (seller -> buyer)
    PAYOUT = "payout"                  # a claim's payout (platform -> buyer)
    RECOVERY = "recovery"              # the platform recovering a payout (seller -> platform)
    REPLACEMENT = "replacement"        # an accepted replacement: goods, no amount
    REPAIR = "repair"                  # an accepted repair: goods, no amount


# Obligations without an amount: something is shipped (tracking reference) and received.
GOODS_KINDS = frozenset({SettlementKind.REPLACEMENT, SettlementKind.REPAIR})
MONEY_KINDS = frozenset(SettlementKind) - GOODS_KINDS


class Party(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"
    PLATFORM = "platform"


class Source(StrEnum):
    OFFER = "offer"
    VERDICT = "verdict"
    CLAIM = "claim"
    APPEAL = "appeal"


# Who pays whom, per kind: one table, so a row cannot name another pair (CHECK).
PARTIES = {
    SettlementKind.REFUND: (Party.SELLER, Party.BUYER),
    SettlementKind.PARTIAL_REFUND: (Party.SELLER, Party.BUYER),
    SettlementKind.REPLACEMENT: (Party.SELLER, Party.BUYER),
    SettlementKind.REPAIR: (Party.SELLER, Party.BUYER),
    SettlementKind.VERDICT: (Party.SELLER, Party.BUYER),
    SettlementKind.PAYOUT: (Party.PLATFORM, Party.BUYER),
    SettlementKind.RECOVERY: (Party.SELLER, Party.PLATFORM),
}
# Where each kind may come from; the first is its own. An appeal's decision changes money
# only through new rows of the kinds it varies (a verdict's amount, a claim's payout and
# its recovery).
SOURCES = {
    SettlementKind.REFUND: (Source.OFFER,),
    SettlementKind.PARTIAL_REFUND: (Source.OFFER,),
    SettlementKind.REPLACEMENT: (Source.OFFER,),
    SettlementKind.REPAIR: (Source.OFFER,),
    SettlementKind.VERDICT: (Source.VERDICT, Source.APPEAL),
    SettlementKind.PAYOUT: (Source.CLAIM, Source.APPEAL),
    SettlementKind.RECOVERY: (Source.CLAIM, Source.APPEAL),
}


class SettlementState(StrEnum):
    OWED = "owed"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    CANCELLED = "cancelled"


# Rows that count against the order total while they are in these states.
COUNTED_STATES = frozenset({SettlementState.OWED, SettlementState.CONFIRMED})
# ``confirmed`` is not among them: a platform payout finance confirmed can still come back
# from the bank (bank_returned, issue 20), and a re-issue row pays it again.
TERMINAL_STATES = frozenset({SettlementState.FAILED, SettlementState.CANCELLED})


class SettledVia(StrEnum):
    """Who or what settled a row: the confirmation's provenance."""

    BUYER = "buyer"                # the buyer said it arrived, or that it did not
    MARKETPLACE = "marketplace"    # the marketplace over the API
    SELLER_PROOF = "seller_proof"  # the seller's proof, uncontested for 7 days
    FINANCE = "finance"            # finance confirmed a payout batch as paid
    DEADLINE = "deadline"          # the buyer stayed silent 7 days after the due date
    PLATFORM = "platform"          # a claim approval took the obligation over


class Role(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"
    STAFF = "staff"
    MARKETPLACE = "marketplace"
    SYSTEM = "system"


S = SettlementState
_OWED = frozenset({S.OWED})
TRANSITIONS: tuple[Transition, ...] = (
    Transition("submit_proof", _OWED, None, Role.SELLER,
               starts="contest_until = proof_at + 7 days"),
    Transition("confirm", _OWED, S.CONFIRMED, Role.BUYER),
    Transition("report_failed", _OWED, S.FAILED, Role.BUYER, timer="due_at"),
    Transition("marketplace_confirms", _OWED, S.CONFIRMED, Role.MARKETPLACE),
    Transition("marketplace_fails", _OWED, S.FAILED, Role.MARKETPLACE),
    Transition("proof_uncontested", _OWED, S.CONFIRMED, Role.SYSTEM,
               timer="proof_at + 7 days"),
    Transition("lapse", _OWED, S.FAILED, Role.SYSTEM, timer="due_at + 7 days"),
    Transition("finance_confirms", _OWED, S.CONFIRMED, Role.STAFF),
    Transition("cancel", _OWED, S.CANCELLED, Role.SYSTEM),
    # Finance: a confirmed payout's transfer came back (a new owed row pays it again), and a
    # recovery the platform gives up on, with the reason.
    Transition("bank_returned", frozenset({S.CONFIRMED}), S.FAILED, Role.STAFF),
    Transition("write_off", _OWED, S.FAILED, Role.STAFF),
)
MACHINE = StateMachine(TRANSITIONS, subject="settlement", refusal=lambda state: str(_l(
    "This settlement is %(state)s; that is not possible now.", state=STATE_LABELS[state])))
transition, allowed, require = MACHINE.transition, MACHINE.allowed, MACHINE.require


KIND_LABELS = {
    SettlementKind.REFUND: _l("Full refund"),
    SettlementKind.PARTIAL_REFUND: _l("Partial refund"),
    SettlementKind.VERDICT: _l("Refund ordered by the platform"),
    SettlementKind.PAYOUT: _l("Protection payout"),
    SettlementKind.RECOVERY: _l("Recovery of the payout from the seller"),
    SettlementKind.REPLACEMENT: _l("Replacement"),
    SettlementKind.REPAIR: _l("Repair"),
}
STATE_LABELS = {
    S.OWED: _l("owed"),
    S.CONFIRMED: _l("confirmed"),
    S.FAILED: _l("not fulfilled"),
    S.CANCELLED: _l("cancelled"),
}
PARTY_LABELS = {
    Party.BUYER: _l("the buyer"),
    Party.SELLER: _l("the seller"),
    Party.PLATFORM: _l("the platform"),
}
SETTLED_VIA_LABELS = {
    SettledVia.BUYER: _l("by the buyer"),
    SettledVia.MARKETPLACE: _l("by the marketplace"),
    SettledVia.SELLER_PROOF: _l("by the seller's proof, uncontested"),
    SettledVia.FINANCE: _l("by the finance team"),
    SettledVia.DEADLINE: _l("after the buyer's silence past the due date"),
    SettledVia.PLATFORM: _l("by the platform"),
}
