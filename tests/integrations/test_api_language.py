"""API errors speak the client's language, down to the field messages marshmallow writes."""

import pytest


@pytest.fixture
def buyer_token(token_for, buyer):
    return token_for(buyer)


@pytest.mark.parametrize(("language", "summary", "required", "choice", "length"), [
    ("pl", "Brakuje niektórych pól", "Brak wymaganej wartości.", "Dozwolone wartości:",
     "Długość musi wynosić od 1 do"),
    ("en", "Some fields are missing or invalid.", "Missing data for required field.",
     "Must be one of:", "Length must be between 1 and"),
])
def test_field_errors_are_in_the_clients_language(api, buyer_token, create_order, buyer,
                                                  language, summary, required, choice,
                                                  length):
    order = create_order(buyer=buyer)
    answer = api.post("/api/v1/discussions", token=buyer_token,
                      headers={"Accept-Language": language},
                      json={"order_external_id": order.external_id, "reason": "lost",
                            "description": ""})
    assert answer.status_code == 422
    error = answer.json["error"]
    assert summary in error["message"]
    assert error["fields"]["expected_outcome"] == [required]
    assert error["fields"]["reason"][0].startswith(choice)
    assert "not_received" in error["fields"]["reason"][0]
    assert error["fields"]["description"][0].startswith(length)


@pytest.mark.parametrize(("language", "message"), [
    ("pl", "Treść żądania nie jest poprawnym JSON-em."), ("en", "Invalid JSON body.")])
def test_a_broken_json_body_is_explained_in_the_clients_language(api, buyer_token, language,
                                                                 message):
    answer = api.post("/api/v1/discussions", token=buyer_token, data="{not json",
                      headers={"Accept-Language": language, "Content-Type": "application/json"})
    assert answer.status_code == 400
    assert answer.json["error"]["fields"]["_json"] == [message]


@pytest.mark.parametrize(("language", "message"), [
    ("pl", "Wartość musi mieścić się w przedziale od 1 do 100."),
    ("en", "Must be between 1 and 100.")])
def test_range_errors_are_translated_too(api, buyer_token, language, message):
    answer = api.get("/api/v1/discussions?limit=1000", token=buyer_token,
                     headers={"Accept-Language": language})
    assert answer.status_code == 422
    assert answer.json["error"]["fields"]["limit"] == [message]


def test_our_own_field_messages_are_translated(client):
    """Amounts and dates are checked by our code, not marshmallow's: Polish as well."""
    answer = client.get("/api/v1/policy/quote", headers={"Accept-Language": "pl"},
                        query_string={"item_price": "12.345", "shipping_cost": "0.00",
                                      "payment_method": "platform_payments",
                                      "claim_type": "not_received",
                                      "paid_at": "2999-01-01T00:00:00+00:00"})
    assert answer.status_code == 422
    fields = answer.json["error"]["fields"]
    assert "co najwyżej 2 miejscami po przecinku" in fields["item_price"][0]
    assert fields["paid_at"] == ["nie może być w przyszłości"]
