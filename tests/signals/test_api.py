"""GET /api/v1/staff/buyers/<id>/signals: advisors only, never one's own account."""

import pytest

from accounts.roles import Role
from arbiter.extensions import db
from signals import services


def test_an_advisor_reads_a_buyers_signals(api, token_for, world, advisor):
    services.add_note(world.buyer.id, advisor, "Asked the carrier for the signature.")
    db.session.commit()
    response = api.get(f"/api/v1/staff/buyers/{world.buyer.id}/signals",
                       token=token_for(advisor))
    assert response.status_code == 200, response.json
    body = response.json
    assert body["user_id"] == world.buyer.id and body["score"] == 15
    assert body["figures"] == {
        "orders": 6, "claims": 4, "discussions": 5, "rejected_claims": 3,
        "not_received_claims_on_delivered": 2, "not_received_discussions_on_delivered": 2,
        "other_buyers": 2, "claims_percent": "66.7", "discussions_percent": "83.3"}
    assert all(rule["strong"] for rule in body["rules"])
    assert {r["signal"]: (r["at_least"], r["share_above_percent"], r["weight"])
            for r in body["rules"]}["claims_share"] == (2, 10, 2)
    assert [s["user_id"] for s in body["shared_accounts"]] == [world.sharer.id,
                                                               world.domestic.id]
    assert [(n["author_id"], n["body"]) for n in body["notes"]] == [
        (advisor.id, "Asked the carrier for the signature.")]


def test_a_buyer_with_nothing(api, token_for, world, advisor):
    body = api.get(f"/api/v1/staff/buyers/{world.seller.id}/signals",
                   token=token_for(advisor)).json
    assert body["score"] == 0 and body["figures"]["claims_percent"] is None
    assert body["shared_accounts"] == [] and body["notes"] == []


@pytest.mark.parametrize("who", ["buyer", "seller", "finance"])
def test_nobody_else_reads_them(api, token_for, world, create_user, who):
    user = {"buyer": world.buyer, "seller": world.seller,
            "finance": create_user(roles=[Role.FINANCE])}[who]
    response = api.get(f"/api/v1/staff/buyers/{world.buyer.id}/signals",
                       token=token_for(user))
    assert response.status_code == 403
    assert "figures" not in response.json


def test_unknown_and_own_accounts(api, token_for, advisor):
    token = token_for(advisor)
    assert api.get("/api/v1/staff/buyers/999999999/signals", token=token).status_code == 404
    own = api.get(f"/api/v1/staff/buyers/{advisor.id}/signals", token=token)
    assert own.status_code == 403 and own.json["error"]["code"] == "conflict_of_interest"
    assert api.get(f"/api/v1/staff/buyers/{advisor.id}/signals").status_code == 401


def test_the_endpoint_is_documented(api):
    paths = api.get("/api/v1/openapi.json").json["paths"]
    assert "get" in paths["/api/v1/staff/buyers/{user_id}/signals"]
