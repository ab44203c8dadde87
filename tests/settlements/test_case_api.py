"""GET /api/v1/orders/{external_id}/case: the case page's read, with the same privacy rules."""

import json

from claims.banking import grouped
from tests.claims.helpers import IBAN
from tests.settlements.conftest import POLICE_REFERENCE


def _case(api, token, story):
    return api.get(f"/api/v1/orders/{story.order.external_id}/case", token=token)


def test_each_viewer_gets_the_case_in_time_order(api, story, token_for, buyer, seller, staff,
                                                 integration_token):
    for token, viewer in ((token_for(buyer), "buyer"), (token_for(seller), "seller"),
                          (token_for(staff), "staff"), (integration_token, "marketplace")):
        response = _case(api, token, story)
        assert response.status_code == 200, response.json
        case = response.json
        assert case["viewer"] == viewer
        assert (case["total"], case["committed"], case["remaining"]) == (
            "1010.00", "500.00", "510.00")
        assert [row["id"] for row in case["owed"]] == [story.recovery.id]
        assert case["owed"][0]["payer"] == "seller" and case["owed"][0]["payee"] == "platform"
        assert [row["state"] for row in case["settlements"]] == ["failed", "confirmed", "owed"]
        times = [event["at"] for event in case["events"]]
        assert times == sorted(times)
        assert case["events"][0]["type"] == "discussion.opened"
        assert case["events"][-1]["type"] == "settlement.recorded"


def test_the_payout_account_and_police_reference_are_the_buyers_and_staffs_only(
        api, story, token_for, buyer, seller, staff, integration_token):
    for token, sees in ((token_for(buyer), True), (token_for(staff), True),
                        (token_for(seller), False), (integration_token, False)):
        body = _case(api, token, story).get_data(as_text=True)
        for secret in (IBAN, POLICE_REFERENCE):
            assert (secret in body) is sees, (secret, json.loads(body)["viewer"])
        if not sees:
            assert grouped(IBAN) not in body and IBAN[-8:] not in body


def test_anyone_else_gets_404(api, story, token_for, create_user):
    assert _case(api, token_for(create_user()), story).status_code == 404
    assert _case(api, None, story).status_code == 401
    response = api.get("/api/v1/orders/NO-SUCH-ORDER/case", token=token_for(create_user()))
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_the_case_is_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert "get" in paths["/api/v1/orders/{external_id}/case"]
    for action in ("confirm", "fail"):
        operation = paths[f"/api/v1/settlements/{{settlement_id}}/{action}"]["post"]
        assert "Idempotency-Key" in {p["name"] for p in operation.get("parameters", [])}
        assert {"200", "409"} <= set(operation["responses"])
    assert "text/csv" in paths["/api/v1/recoveries.csv"]["get"]["responses"]["200"]["content"]
