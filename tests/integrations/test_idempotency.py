"""Idempotency-Key on POST: replay, a different body, expiry, and every POST honours it."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from arbiter import clock
from arbiter.extensions import db
from arbiter.sweeper import run_sweep
from disputes.models import Entry
from integrations.models import IdempotencyKey, IdempotencyState


@pytest.fixture
def thread(create_discussion, buyer, seller, token_for):
    discussion = create_discussion(buyer=buyer, seller=seller)
    return {"url": f"/api/v1/discussions/{discussion.id}", "buyer": token_for(buyer),
            "seller": token_for(seller)}


def _messages() -> int:
    return db.session.scalar(select(func.count()).select_from(Entry))


def _post(api, thread, body="Where is my parcel?", key="key-1", token=None):
    return api.post(f"{thread['url']}/messages", token=token or thread["buyer"],
                    json={"body": body}, headers={"Idempotency-Key": key})


def test_a_replay_returns_the_first_answer_and_does_nothing_again(api, thread):
    before = _messages()
    first = _post(api, thread)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = _post(api, thread)
    assert again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json
    assert _messages() == before + 1
    row = db.session.scalar(select(IdempotencyKey))
    assert row.state is IdempotencyState.COMPLETED and row.response_status == 201


def test_the_same_key_with_another_body_is_422(api, thread):
    assert _post(api, thread).status_code == 201
    other = _post(api, thread, body="Something else")
    assert other.status_code == 422
    assert other.json["error"]["code"] == "idempotency_key_reused"
    assert other.json["error"]["fields"] == {"Idempotency-Key": ["reused"]}
    other_path = api.post(f"{thread['url']}/escalate", token=thread["buyer"],
                          json={"body": "Where is my parcel?"},
                          headers={"Idempotency-Key": "key-1"})
    assert other_path.status_code == 422


def test_keys_belong_to_their_owner(api, thread):
    assert _post(api, thread).status_code == 201
    seller = _post(api, thread, token=thread["seller"])
    assert seller.status_code == 201 and "Idempotent-Replayed" not in seller.headers


def test_a_user_with_two_tokens_is_one_owner(api, thread, buyer, token_for):
    assert _post(api, thread).status_code == 201
    again = _post(api, thread, token=token_for(buyer))
    assert again.headers.get("Idempotent-Replayed") == "true"


def test_an_error_answer_is_stored_and_replayed_too(api, thread):
    first = api.post(f"{thread['url']}/escalate", token=thread["buyer"],
                     json={"reason": "No answer"}, headers={"Idempotency-Key": "early"})
    assert first.status_code == 409
    again = api.post(f"{thread['url']}/escalate", token=thread["buyer"],
                     json={"reason": "No answer"}, headers={"Idempotency-Key": "early"})
    assert again.status_code == 409 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json == first.json


def test_without_a_key_every_post_acts(api, thread):
    before = _messages()
    for _ in range(2):
        assert api.post(f"{thread['url']}/messages", token=thread["buyer"],
                        json={"body": "again"}).status_code == 201
    assert _messages() == before + 2


@pytest.mark.parametrize("key", ["", "x" * 256, "zażółć", "tab\there"])
def test_a_malformed_key_is_422(api, thread, key):
    response = _post(api, thread, key=key)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_idempotency_key"


def test_keys_are_kept_24_hours_then_swept(api, thread, time_machine):
    start = clock.now()
    time_machine.move_to(start, tick=False)
    assert _post(api, thread).status_code == 201
    time_machine.move_to(start + timedelta(hours=23, minutes=59), tick=False)
    assert run_sweep()["integrations.idempotency_keys_expired"] == 0
    assert _post(api, thread).headers.get("Idempotent-Replayed") == "true"
    time_machine.move_to(start + timedelta(hours=24), tick=False)
    assert run_sweep()["integrations.idempotency_keys_expired"] == 1
    assert db.session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
    fresh = _post(api, thread, body="A new request now")
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers


def test_an_expired_key_not_yet_swept_is_a_new_key(api, thread, time_machine):
    start = clock.now()
    time_machine.move_to(start, tick=False)
    assert _post(api, thread).status_code == 201
    time_machine.move_to(start + timedelta(hours=25), tick=False)
    fresh = _post(api, thread, body="Another question")
    assert fresh.status_code == 201 and "Idempotent-Replayed" not in fresh.headers


def test_multipart_bodies_are_fingerprinted_by_content_not_boundary(
        api, token_for, buyer, seller, create_order, create_discussion):
    import io

    from tests.claims.helpers import IBAN
    from tests.files import PNG

    order = create_order(buyer=buyer, seller=seller)
    create_discussion(order, age_hours=25)
    token = token_for(buyer)

    def send(description):
        return api.post("/api/v1/claims", token=token, headers={"Idempotency-Key": "claim-1"},
                        content_type="multipart/form-data", data={
                            "order_external_id": order.external_id,
                            "claim_type": "not_as_described", "description": description,
                            "payout_account": IBAN,
                            "documents": [(io.BytesIO(PNG), "photo.png")]})

    first = send("Wrong model.")
    assert first.status_code == 201, first.json
    assert send("Wrong model.").headers.get("Idempotent-Replayed") == "true"
    assert send("Wrong colour.").status_code == 422


def test_every_authenticated_post_goes_through_the_idempotency_layer(app):
    unguarded = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and "POST" in rule.methods:
            view = app.view_functions[rule.endpoint]
            if not getattr(view, "_api_auth", None):
                unguarded.append(rule.rule)
    # Its answer holds a secret that must not be stored: no Idempotency-Key there.
    assert unguarded == ["/api/v1/auth/tokens"]


def _key_left_in_progress(api, thread, *, seconds_ago: int) -> IdempotencyKey:
    """What a request that died before answering leaves: its key, still in progress."""
    assert _post(api, thread, key="died").status_code == 201
    row = db.session.scalar(select(IdempotencyKey).where(IdempotencyKey.key == "died"))
    row.state, row.response_status, row.response_body = IdempotencyState.IN_PROGRESS, None, None
    row.response_content_type, row.response_headers, row.completed_at = None, None, None
    row.created_at = clock.now() - timedelta(seconds=seconds_ago)
    db.session.commit()
    return row


def test_a_key_whose_request_died_is_taken_over_after_its_lease(api, thread):
    _key_left_in_progress(api, thread, seconds_ago=61)
    before = _messages()
    retry = _post(api, thread, key="died")
    assert retry.status_code == 201 and "Idempotent-Replayed" not in retry.headers
    assert _messages() == before + 1
    assert _post(api, thread, key="died").headers["Idempotent-Replayed"] == "true"
    assert _messages() == before + 1


def test_within_its_lease_a_key_in_progress_is_still_409(api, thread):
    _key_left_in_progress(api, thread, seconds_ago=30)
    before = _messages()
    retry = _post(api, thread, key="died")
    assert retry.status_code == 409
    assert retry.json["error"]["code"] == "idempotency_key_in_progress"
    assert _messages() == before


def test_a_lapsed_key_is_not_taken_over_by_another_body(api, thread):
    _key_left_in_progress(api, thread, seconds_ago=600)
    assert _post(api, thread, body="Something else", key="died").status_code == 422
