"""The state machines as data, generated from the transition tables the services use."""

from dataclasses import fields

from appeals import states as appeal_states
from claims import states as claim_states
from disputes import states as discussion_states
from settlements import states as settlement_states


def _transition(step) -> dict:
    data = {field.name: getattr(step, field.name) for field in fields(step)}
    target = data["target"]
    return {
        "action": data["action"],
        "from": sorted(state.value for state in data["sources"]),
        "to": None if target is None else target.value,  # None: the state stays
        "actor": data["actor"].value,
        "timer": data.get("timer"),
        "starts": data.get("starts"),
    }


def _machine(state_enum, terminal, transitions) -> dict:
    return {
        "states": [state.value for state in state_enum],
        "terminal_states": sorted(state.value for state in terminal),
        "transitions": [_transition(step) for step in transitions],
    }


def machines() -> dict:
    return {
        "discussion": _machine(discussion_states.DiscussionState,
                               discussion_states.TERMINAL_STATES,
                               discussion_states.TRANSITIONS),
        "claim": _machine(claim_states.ClaimState, claim_states.TERMINAL_STATES,
                          claim_states.TRANSITIONS),
        "settlement": _machine(settlement_states.SettlementState,
                               settlement_states.TERMINAL_STATES,
                               settlement_states.TRANSITIONS),
        "appeal": _machine(appeal_states.AppealState, appeal_states.TERMINAL_STATES,
                           appeal_states.TRANSITIONS),
    }
