"""GET /api/v1/events: every change as an event, after a cursor, seen by the right people."""

from sqlalchemy import select

from arbiter import audit
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from arbiter.transparency_log import sequence
from disputes import services as disputes
from integrations.events import OBJECT_TYPES


def _feed(api, token, after=0, limit=100):
    sequence()  # events reach the feed once the audit log's sequencer has added them
    response = api.get(f"/api/v1/events?after={after}&limit={limit}", token=token)
    assert response.status_code == 200, response.json
    return response.json


def _drain(api, token, after=0, limit=3) -> list[dict]:
    seen = []
    while True:
        page = _feed(api, token, after, limit)
        seen += page["events"]
        if not page["events"]:
            assert page["next_cursor"] == after  # nothing new: the cursor stays put
            return seen
        assert page["next_cursor"] > after  # a position in the audit log's tree
        after = page["next_cursor"]


def test_the_integration_sees_every_change_in_order(api, integration_token, escalated, staff):
    disputes.take_case(escalated, staff)
    db.session.commit()
    events = _drain(api, integration_token)
    ids = [event["id"] for event in events]
    assert ids == sorted(set(ids))
    expected = db.session.scalars(select(AuditEntry.id).where(
        AuditEntry.object_type.in_(OBJECT_TYPES)).order_by(AuditEntry.id)).all()
    assert ids == expected
    types = [event["type"] for event in events]
    assert types[:2] == ["order.created", "discussion.opened"]
    assert types[-2:] == ["discussion.escalate", "discussion.taken"]
    escalation = events[-2]
    assert escalation["object_type"] == "discussion"
    assert escalation["object_id"] == escalated.id
    assert escalation["state"] == "escalated"
    assert escalation["occurred_at"].endswith("+00:00")


def test_account_events_are_not_in_the_feed(api, integration_token, buyer):
    assert audit.count() > 0  # user.registered, api_token.created ...
    assert all(event["object_type"] in {"order", "discussion", "claim"}
               for event in _drain(api, integration_token))


def test_a_cursor_continues_where_the_client_stopped(api, integration_token, create_discussion):
    create_discussion()
    first = _feed(api, integration_token, limit=1)
    assert len(first["events"]) == 1
    rest = _feed(api, integration_token, after=first["next_cursor"])
    assert first["events"][0]["id"] < rest["events"][0]["id"]
    later = create_discussion()
    new = _feed(api, integration_token, after=rest["next_cursor"])
    assert [event["object_id"] for event in new["events"]
            if event["object_type"] == "discussion"] == [later.id]


def test_users_see_only_events_about_their_own_objects(api, token_for, create_discussion,
                                                       buyer, seller, create_user):
    mine = create_discussion(buyer=buyer, seller=seller)
    other = create_discussion()
    buyer_events = _drain(api, token_for(buyer))
    seller_events = _drain(api, token_for(seller))
    stranger_events = _drain(api, token_for(create_user()))
    for events in (buyer_events, seller_events):
        objects = {(event["object_type"], event["object_id"]) for event in events}
        assert objects == {("order", mine.order_id), ("discussion", mine.id)}
    assert stranger_events == []
    assert other.id not in {event["object_id"] for event in buyer_events}


def test_bad_cursors_are_422(api, integration_token):
    for query in ("after=-1", "after=abc", "limit=0", "limit=501"):
        response = api.get(f"/api/v1/events?{query}", token=integration_token)
        assert response.status_code == 422, query
        assert response.json["error"]["code"] == "validation_failed"


def test_the_feed_needs_a_token(api):
    assert api.get("/api/v1/events").status_code == 401
