"""Settlement changes are events: in the feed (for the parties, not for strangers) and in
webhook bodies; the state machines endpoint publishes the settlement machine."""

import json

from sqlalchemy import select

from arbiter.audit import AuditEntry
from arbiter.extensions import db
from arbiter.transparency_log import sequence
from integrations import webhooks
from settlements import states


def _settlement_events(api, token) -> list[dict]:
    sequence()  # events reach the feed once the audit log's sequencer has added them
    response = api.get("/api/v1/events?limit=500", token=token)
    assert response.status_code == 200
    return [event for event in response.json["events"] if event["object_type"] == "settlement"]


def test_the_parties_and_the_integration_see_settlement_events(
        api, story, token_for, buyer, seller, integration_token, create_user):
    expected = {(story.promise.id, "settlement.recorded", "owed"),
                (story.promise.id, "settlement.marketplace_fails", "failed"),
                (story.payout.id, "settlement.recorded", "owed"),
                (story.payout.id, "settlement.finance_confirms", "confirmed"),
                (story.recovery.id, "settlement.recorded", "owed")}
    for token in (token_for(buyer), token_for(seller), integration_token):
        events = _settlement_events(api, token)
        assert {(e["object_id"], e["type"], e["state"]) for e in events} == expected
    assert _settlement_events(api, token_for(create_user())) == []


def test_a_settlement_change_is_a_webhook_body(story, api, integration_token):
    api.post(f"/api/v1/settlements/{story.recovery.id}/confirm", token=integration_token)
    entry = db.session.scalars(select(AuditEntry).where(
        AuditEntry.object_type == "settlements",
        AuditEntry.object_id == str(story.recovery.id)).order_by(AuditEntry.id.desc())).first()
    body = json.loads(webhooks.body_for(entry))
    assert body["type"] == "settlement.marketplace_confirms"
    assert (body["object_type"], body["object_id"], body["state"]) == (
        "settlement", story.recovery.id, "confirmed")


def test_the_settlement_machine_is_published(client):
    machine = client.get("/api/v1/state-machines").json["settlement"]
    assert machine["states"] == [state.value for state in states.SettlementState]
    assert machine["terminal_states"] == sorted(s.value for s in states.TERMINAL_STATES)
    steps = {step["action"]: step for step in machine["transitions"]}
    assert set(steps) == {step.action for step in states.TRANSITIONS}
    assert steps["submit_proof"]["to"] is None  # the state stays; the contest window starts
    assert steps["submit_proof"]["starts"] == "contest_until = proof_at + 7 days"
    assert steps["marketplace_confirms"] == {
        "action": "marketplace_confirms", "from": ["owed"], "to": "confirmed",
        "actor": "marketplace", "timer": None, "starts": None}
