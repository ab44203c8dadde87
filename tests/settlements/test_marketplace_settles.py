"""POST /api/v1/settlements/{id}/confirm | fail: the marketplace settles what a seller owes,
idempotently; a row that is not owed any more is 409."""

from arbiter.extensions import db
from disputes.models import Discussion
from disputes.states import DiscussionState
from orders.models import Order


def _post(api, token, row_id, action, key=None, body=None):
    headers = {"Idempotency-Key": key} if key else {}
    return api.post(f"/api/v1/settlements/{row_id}/{action}", token=token, headers=headers,
                    json=body if body is not None else {})


def _reread(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def test_confirm_resolves_the_discussion_and_a_replay_answers_the_same(
        api, integration_token, owed_refund):
    promise = owed_refund()
    first = _post(api, integration_token, promise.id, "confirm", "k-1", {"note": "TX-1"})
    assert first.status_code == 200, first.json
    assert first.json["state"] == "confirmed"
    assert first.json["settled_via"] == "marketplace"
    assert first.json["note"] == "TX-1"
    again = _post(api, integration_token, promise.id, "confirm", "k-1", {"note": "TX-1"})
    assert again.status_code == 200
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    discussion = _reread(Discussion, promise.discussion_id)
    assert discussion.state is DiscussionState.RESOLVED
    # A different action on the row that is not owed any more: 409, nothing changes.
    refused = _post(api, integration_token, promise.id, "fail", "k-2")
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "transition_not_allowed"
    assert _reread(Discussion, promise.discussion_id).state is DiscussionState.RESOLVED
    # The same key for another request is refused too.
    assert _post(api, integration_token, promise.id, "fail", "k-1").status_code == 422


def test_fail_reopens_the_discussion_and_frees_the_order_total(api, integration_token,
                                                               owed_refund):
    promise = owed_refund()
    order_id = promise.order_id
    assert _reread(Order, order_id).compensation_remaining == 0
    response = api.post(f"/api/v1/settlements/{promise.id}/fail", token=integration_token)
    assert response.status_code == 200, response.json  # no body: the note is optional
    assert response.json["state"] == "failed"
    assert _reread(Order, order_id).compensation_remaining == 13_845
    discussion = _reread(Discussion, promise.discussion_id)
    assert discussion.state is DiscussionState.IN_PROGRESS or discussion.is_talking
    assert _post(api, integration_token, promise.id, "confirm").status_code == 409


def test_only_the_integration_settles(api, owed_refund, token_for, buyer, seller, staff):
    promise = owed_refund()
    for user in (buyer, seller, staff):
        response = _post(api, token_for(user), promise.id, "confirm")
        assert response.status_code == 403, user.email
    assert _post(api, None, promise.id, "confirm").status_code == 401
    assert _reread(type(promise), promise.id).is_owed


def test_unknown_rows_are_404_and_platform_payouts_409(api, integration_token, story):
    response = _post(api, integration_token, 999_999, "confirm")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"
    response = _post(api, integration_token, story.payout.id, "fail")
    assert response.status_code == 409
    assert _post(api, integration_token, story.recovery.id, "confirm").status_code == 200


def test_a_too_long_note_is_422(api, integration_token, owed_refund):
    promise = owed_refund()
    response = _post(api, integration_token, promise.id, "confirm", body={"note": "x" * 2_001})
    assert response.status_code == 422
    assert "note" in response.json["error"]["fields"]
    assert _reread(type(promise), promise.id).is_owed
