"""Discussions over the API: the browser's rules, the browser's status codes."""

import pytest
from sqlalchemy import func, select

from arbiter.extensions import db
from disputes.models import Discussion, Entry
from disputes.states import DiscussionState
from tests.factories import age


@pytest.fixture
def tokens(token_for, buyer, seller, staff):
    return {"buyer": token_for(buyer), "seller": token_for(seller), "staff": token_for(staff)}


def _open(api, token, order, **changes):
    body = {"order_external_id": order.external_id, "reason": "not_received",
            "expected_outcome": "refund", "description": "Nothing arrived."}
    body.update(changes)
    return api.post("/api/v1/discussions", token=token, json=body)


def test_the_whole_conversation_over_the_api(api, tokens, create_order, buyer, seller):
    order = create_order(buyer=buyer, seller=seller)
    opened = _open(api, tokens["buyer"], order)
    assert opened.status_code == 201, opened.json
    discussion = opened.json
    assert discussion["state"] == "awaiting_seller"
    assert discussion["order_external_id"] == order.external_id
    assert [m["body"] for m in discussion["messages"]] == ["Nothing arrived."]
    url = f"/api/v1/discussions/{discussion['id']}"

    answer = api.post(f"{url}/messages", token=tokens["seller"], json={"body": "Sent on Monday."})
    assert answer.status_code == 201 and answer.json["author_role"] == "seller"
    offer = api.post(f"{url}/offers", token=tokens["seller"],
                     json={"kind": "partial_refund", "amount": "50.00", "note": "Sorry."})
    assert offer.status_code == 201, offer.json
    assert offer.json["amount"] == "50.00" and offer.json["state"] == "pending"
    declined = api.post(f"{url}/offers/{offer.json['id']}/decline", token=tokens["buyer"])
    assert declined.status_code == 200
    assert declined.json["offers"][0]["state"] == "declined"
    second = api.post(f"{url}/offers", token=tokens["seller"], json={"kind": "refund"})
    assert second.json["amount"] == "138.45"  # the order total
    accepted = api.post(f"{url}/offers/{second.json['id']}/accept", token=tokens["buyer"])
    assert accepted.status_code == 200 and accepted.json["state"] == "awaiting_fulfilment"

    mine = api.get("/api/v1/discussions", token=tokens["buyer"]).json
    assert [d["id"] for d in mine["items"]] == [discussion["id"]]
    # The seller still has it in the inbox: the refund is theirs to make.
    inbox = api.get("/api/v1/discussions?role=seller", token=tokens["seller"]).json["items"]
    assert [(d["id"], d["state"]) for d in inbox] == [(discussion["id"], "awaiting_fulfilment")]


def test_escalation_before_24_hours_is_409_and_changes_nothing(api, tokens, create_discussion,
                                                               buyer, seller):
    discussion = create_discussion(buyer=buyer, seller=seller, age_hours=23)
    url = f"/api/v1/discussions/{discussion.id}/escalate"
    early = api.post(url, token=tokens["buyer"], json={"reason": "No answer."})
    assert early.status_code == 409
    assert early.json["error"]["code"] == "escalation_not_available_yet"
    db.session.refresh(discussion)
    assert discussion.state is DiscussionState.AWAITING_SELLER
    age(discussion, 1)
    late = api.post(url, token=tokens["buyer"], json={"reason": "No answer."})
    assert late.status_code == 200 and late.json["state"] == "escalated"


def test_staff_take_ask_and_decide(api, tokens, escalated):
    url = f"/api/v1/discussions/{escalated.id}"
    queue = api.get("/api/v1/staff/discussions", token=tokens["staff"]).json
    assert [d["id"] for d in queue["items"]] == [escalated.id]
    not_taken = api.post(f"{url}/decide", token=tokens["staff"], json={
        "verdict": "seller_favour", "rationale": "x" * 40})
    assert not_taken.status_code == 409
    assert api.post(f"{url}/take", token=tokens["staff"]).status_code == 200
    asked = api.post(f"{url}/information-requests", token=tokens["staff"],
                     json={"party": "seller", "question": "Tracking number?"})
    assert asked.status_code == 201 and asked.json["party"] == "seller"
    short = api.post(f"{url}/decide", token=tokens["staff"],
                     json={"verdict": "partial", "amount": "10.00", "rationale": "too short"})
    assert short.status_code == 422 and "rationale" in short.json["error"]["fields"]
    decided = api.post(f"{url}/decide", token=tokens["staff"], json={
        "verdict": "partial", "amount": "10.00",
        "rationale": "The parcel was tracked but arrived without the charger."})
    assert decided.status_code == 200, decided.json
    assert decided.json["state"] == "decided" and decided.json["refund_amount"] == "10.00"
    again = api.post(f"{url}/withdraw", token=tokens["buyer"])
    assert again.status_code == 409


def test_forbidden_transitions_are_409(api, tokens, create_discussion, buyer, seller):
    discussion = create_discussion(buyer=buyer, seller=seller)
    url = f"/api/v1/discussions/{discussion.id}"
    assert api.post(f"{url}/withdraw", token=tokens["buyer"]).status_code == 200
    response = api.post(f"{url}/solve", token=tokens["buyer"])
    assert response.status_code == 409
    assert response.json["error"]["code"] == "transition_not_allowed"
    assert api.post(f"{url}/messages", token=tokens["seller"],
                    json={"body": "hello"}).status_code == 409


def test_a_second_open_discussion_is_409_naming_the_first(api, tokens, create_discussion,
                                                          buyer, seller):
    discussion = create_discussion(buyer=buyer, seller=seller)
    response = _open(api, tokens["buyer"], discussion.order)
    assert response.status_code == 409
    assert response.json["error"]["fields"] == {"discussion_id": [str(discussion.id)]}


def test_only_the_orders_buyer_opens_a_discussion(api, tokens, create_order, buyer, seller):
    order = create_order(buyer=buyer, seller=seller)
    assert _open(api, tokens["seller"], order).status_code == 404
    assert _open(api, tokens["buyer"], order, order_external_id="NOPE").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(Discussion)) == 0


def test_mass_assignment_is_refused_and_nothing_is_stored(api, tokens, create_order, buyer,
                                                          seller, staff):
    order = create_order(buyer=buyer, seller=seller)
    response = _open(api, tokens["buyer"], order, state="resolved", buyer_id=staff.id,
                     respond_by="2030-01-01T00:00:00Z", refund_amount="999.00")
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"state", "buyer_id", "respond_by",
                                                     "refund_amount"}
    assert db.session.scalar(select(func.count()).select_from(Discussion)) == 0
    discussion = _open(api, tokens["buyer"], order).json
    url = f"/api/v1/discussions/{discussion['id']}"
    sneaky = api.post(f"{url}/messages", token=tokens["buyer"],
                      json={"body": "hi", "author_role": "staff", "discussion_id": 1})
    assert sneaky.status_code == 422
    sneaky_offer = api.post(f"{url}/offers", token=tokens["seller"],
                            json={"kind": "repair", "state": "accepted"})
    assert sneaky_offer.status_code == 422
    assert db.session.scalar(select(func.count()).select_from(Entry)) == 1
    stored = db.session.get(Discussion, discussion["id"])
    assert stored.state is DiscussionState.AWAITING_SELLER and stored.buyer_id == buyer.id


def test_amounts_are_parsed_strictly(api, tokens, create_discussion, buyer, seller):
    discussion = create_discussion(buyer=buyer, seller=seller)
    url = f"/api/v1/discussions/{discussion.id}/offers"
    for amount in ("1e3", "12.345", "-1.00", "NaN", 12.5):
        response = api.post(url, token=tokens["seller"],
                            json={"kind": "partial_refund", "amount": amount})
        assert response.status_code == 422, amount
        assert "amount" in response.json["error"]["fields"]
    too_much = api.post(url, token=tokens["seller"],
                        json={"kind": "partial_refund", "amount": "1000.00"})
    assert too_much.status_code == 422


def test_lists_are_paged_by_cursor(api, tokens, create_discussion, buyer, seller):
    ids = [create_discussion(buyer=buyer, seller=seller).id for _ in range(3)]
    first = api.get("/api/v1/discussions?limit=2", token=tokens["buyer"]).json
    assert len(first["items"]) == 2 and first["next_cursor"]
    second = api.get(f"/api/v1/discussions?limit=2&after={first['next_cursor']}",
                     token=tokens["buyer"]).json
    assert second["next_cursor"] is None
    seen = [d["id"] for d in first["items"] + second["items"]]
    assert sorted(seen) == sorted(ids) and len(set(seen)) == 3
