"""GET /api/v1/state-machines publishes the transition tables the services use."""

from appeals import states as appeal_states
from claims import states as claim_states
from disputes import states as discussion_states
from settlements import states as settlement_states


def _expected(state_enum, terminal, transitions) -> dict:
    return {
        "states": [state.value for state in state_enum],
        "terminal_states": sorted(state.value for state in terminal),
        "transitions": [{
            "action": step.action,
            "from": sorted(state.value for state in step.sources),
            "to": None if step.target is None else step.target.value,
            "actor": step.actor.value,
            "timer": step.timer,
            "starts": getattr(step, "starts", None),
        } for step in transitions],
    }


def test_the_machines_match_the_tables(client):
    response = client.get("/api/v1/state-machines")
    assert response.status_code == 200
    assert response.json == {
        "discussion": _expected(discussion_states.DiscussionState,
                                discussion_states.TERMINAL_STATES,
                                discussion_states.TRANSITIONS),
        "claim": _expected(claim_states.ClaimState, claim_states.TERMINAL_STATES,
                           claim_states.TRANSITIONS),
        "settlement": _expected(settlement_states.SettlementState,
                                settlement_states.TERMINAL_STATES,
                                settlement_states.TRANSITIONS),
        "appeal": _expected(appeal_states.AppealState, appeal_states.TERMINAL_STATES,
                            appeal_states.TRANSITIONS),
    }


def test_a_change_to_a_table_shows_up_without_touching_the_api(client, monkeypatch):
    extra = discussion_states.Transition(
        "reopen", frozenset({discussion_states.DiscussionState.CLOSED}),
        discussion_states.DiscussionState.IN_PROGRESS, discussion_states.Role.STAFF,
        timer="closed_at + 7 days")
    monkeypatch.setattr(discussion_states, "TRANSITIONS",
                        (*discussion_states.TRANSITIONS, extra))
    published = client.get("/api/v1/state-machines").json["discussion"]["transitions"]
    assert published[-1] == {"action": "reopen", "from": ["closed"], "to": "in_progress",
                             "actor": "staff", "timer": "closed_at + 7 days", "starts": None}


def test_every_terminal_state_has_no_way_out(client):
    for machine in client.get("/api/v1/state-machines").json.values():
        for step in machine["transitions"]:
            assert not set(step["from"]) & set(machine["terminal_states"]), step
            assert set(step["from"]) <= set(machine["states"])
            assert step["to"] is None or step["to"] in machine["states"]  # None: it stays
