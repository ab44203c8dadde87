"""GET /api/v1/policy/quote: public, answers exactly the documented JSON."""

import pytest

NOW = "2017-09-15T12:00:00+02:00"
QUOTE_KEYS = {"eligible", "reasons", "policy_version", "item_amount", "shipping_amount",
              "total", "cap_applied", "currency"}
VALID = {
    "item_price": "9950.00",
    "shipping_cost": "80.00",
    "payment_method": "platform_payments",
    "claim_type": "not_received",
    "paid_at": "2017-09-01T14:00:00+02:00",
}


@pytest.fixture(autouse=True)
def _september_2017(time_machine):
    time_machine.move_to(NOW, tick=False)


def _get(client, **changes):
    params = {**VALID, **changes}
    return client.get("/api/v1/policy/quote",
                      query_string={k: v for k, v in params.items() if v is not None})


def _expected(*, eligible=True, reasons=(), version="2017-08", item, shipping, total,
              cap_applied=False):
    return {"eligible": eligible, "reasons": list(reasons), "policy_version": version,
            "item_amount": item, "shipping_amount": shipping, "total": total,
            "cap_applied": cap_applied, "currency": "PLN"}


# --- 200 ------------------------------------------------------------------------------


@pytest.mark.parametrize(("changes", "expected"), [
    pytest.param({}, _expected(item="9950.00", shipping="80.00", total="10000.00",
                               cap_applied=True), id="9950+80_capped_at_10000"),
    pytest.param({"item_price": "9920.00"},
                 _expected(item="9920.00", shipping="80.00", total="10000.00"),
                 id="9920+80_exactly_at_the_cap"),
    pytest.param({"shipping_cost": "100.00"},
                 _expected(item="9950.00", shipping="100.00", total="10000.00",
                           cap_applied=True), id="9950+100_capped"),
    pytest.param({"item_price": "200.00", "shipping_cost": "150.00"},
                 _expected(item="200.00", shipping="100.00", total="300.00"),
                 id="shipping_150_reimbursed_up_to_100"),
    pytest.param({"item_price": "200.00", "shipping_cost": "0"},
                 _expected(item="200.00", shipping="0.00", total="200.00"),
                 id="free_shipping"),
    pytest.param({"item_price": "200.5", "payment_method": "bank_transfer"},
                 _expected(item="200.50", shipping="0.00", total="200.50"),
                 id="bank_transfer_without_shipping"),
    pytest.param({"item_price": "200.00", "payment_method": "cash_on_delivery"},
                 _expected(eligible=False, reasons=["payment_method_not_covered"],
                           item="200.00", shipping="0.00", total="200.00"),
                 id="cash_on_delivery_not_covered"),
    pytest.param({"claim_type": "not_as_described", "item_price": "0.01"},
                 _expected(item="0.01", shipping="80.00", total="80.01"),
                 id="not_as_described"),
    pytest.param({"claim_type": "other", "claimed_amount": "50.00"},
                 _expected(item="50.00", shipping="80.00", total="130.00"),
                 id="other_pays_the_claimed_loss"),
    pytest.param({"claim_type": "other", "item_price": "40.00", "claimed_amount": "50.00"},
                 _expected(eligible=False, reasons=["claimed_amount_exceeds_price"],
                           item="40.00", shipping="80.00", total="120.00"),
                 id="other_claiming_more_than_the_price"),
    pytest.param({"claim_type": "other"},
                 _expected(eligible=False, reasons=["claimed_amount_required"],
                           item="0.00", shipping="80.00", total="80.00"),
                 id="other_without_claimed_amount"),
    pytest.param({"claim_type": "other", "claimed_amount": ""},
                 _expected(eligible=False, reasons=["claimed_amount_required"],
                           item="0.00", shipping="80.00", total="80.00"),
                 id="other_with_blank_claimed_amount"),
    pytest.param({"paid_at": "2017-08-01T00:00:00+02:00"},
                 _expected(item="9950.00", shipping="80.00", total="10000.00",
                           cap_applied=True), id="paid_the_minute_2017_08_took_effect"),
    pytest.param({"paid_at": "2017-07-31T23:59:59+02:00"},
                 _expected(eligible=False, reasons=["no_policy_in_force"], version=None,
                           item="0.00", shipping="0.00", total="0.00"),
                 id="paid_before_any_policy"),
])
def test_quotes(client, changes, expected):
    response = _get(client, **changes)
    assert response.status_code == 200, response.json
    assert response.mimetype == "application/json"
    assert response.json == expected


def test_the_answer_has_exactly_the_documented_keys(client):
    assert set(_get(client).json) == QUOTE_KEYS
    assert set(_get(client, paid_at="2017-01-01T00:00:00Z").json) == QUOTE_KEYS


def test_filing_after_90_days_is_refused_with_the_reason(client, time_machine):
    time_machine.move_to("2017-11-30T13:00:00+01:00", tick=False)  # 90 days of 24 h after paying
    assert _get(client).json["eligible"] is True
    time_machine.move_to("2017-11-30T13:00:01+01:00", tick=False)
    late = _get(client).json
    assert late["eligible"] is False
    assert late["reasons"] == ["filing_window_expired"]
    assert late["total"] == "10000.00"


def test_no_login_and_no_csrf_token_needed(app, db_session):
    anonymous = app.test_client()
    assert anonymous.get("/api/v1/policy/quote", query_string=VALID).status_code == 200


def test_unknown_parameters_are_ignored(client):
    assert _get(client, _="1505469600").status_code == 200


# --- 422 ------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "changes"), [
    pytest.param("item_price", {"item_price": None}, id="missing_item_price"),
    pytest.param("shipping_cost", {"shipping_cost": None}, id="missing_shipping_cost"),
    pytest.param("payment_method", {"payment_method": None}, id="missing_payment_method"),
    pytest.param("claim_type", {"claim_type": None}, id="missing_claim_type"),
    pytest.param("paid_at", {"paid_at": None}, id="missing_paid_at"),
    pytest.param("item_price", {"item_price": "12.345"}, id="three_decimals"),
    pytest.param("item_price", {"item_price": "1e3"}, id="exponent"),
    pytest.param("item_price", {"item_price": "NaN"}, id="nan"),
    pytest.param("item_price", {"item_price": "abc"}, id="not_a_number"),
    pytest.param("item_price", {"item_price": ""}, id="empty_item_price"),
    pytest.param("shipping_cost", {"shipping_cost": "8,00"}, id="decimal_comma"),
    pytest.param("shipping_cost", {"shipping_cost": "Infinity"}, id="infinite_shipping"),
    pytest.param("claimed_amount", {"claim_type": "other", "claimed_amount": "1e3"},
                 id="malformed_claimed_amount"),
    pytest.param("item_price", {"item_price": "-1.00"}, id="negative_item_price"),
    pytest.param("shipping_cost", {"shipping_cost": "-0.01"}, id="negative_shipping_cost"),
    pytest.param("claimed_amount", {"claim_type": "other", "claimed_amount": "-5.00"},
                 id="negative_claimed_amount"),
    pytest.param("item_price", {"item_price": "0.00"}, id="zero_item_price"),
    pytest.param("item_price", {"item_price": "0"}, id="zero_item_price_without_decimals"),
    pytest.param("payment_method", {"payment_method": "barter"}, id="unknown_payment_method"),
    pytest.param("claim_type", {"claim_type": "damaged"}, id="unknown_claim_type"),
    pytest.param("paid_at", {"paid_at": "yesterday"}, id="malformed_paid_at"),
    pytest.param("paid_at", {"paid_at": "2017-13-01T00:00:00+02:00"}, id="no_such_month"),
    pytest.param("paid_at", {"paid_at": "2017-09-01T14:00:00"}, id="paid_at_without_offset"),
    pytest.param("paid_at", {"paid_at": "2017-09-01"}, id="paid_at_date_only"),
    pytest.param("paid_at", {"paid_at": "2017-09-15T12:00:01+02:00"}, id="paid_at_in_future"),
])
def test_bad_input_is_refused_with_the_field_named(client, field, changes):
    response = _get(client, **changes)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "validation_failed"
    assert error["message"] == "Some query parameters are missing or invalid."
    assert list(error["fields"]) == [field]
    messages = error["fields"][field]
    assert isinstance(messages, list) and messages and all(isinstance(m, str) for m in messages)


def test_a_paid_at_of_right_now_is_not_in_the_future(client):
    assert _get(client, paid_at=NOW).status_code == 200


def test_every_problem_is_reported_at_once(client):
    response = client.get("/api/v1/policy/quote", query_string={"item_price": "0"})
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {
        "item_price", "shipping_cost", "payment_method", "claim_type", "paid_at"}


def test_the_messages_say_what_is_wrong(client):
    fields = _get(client, item_price="12.345", payment_method="barter",
                  paid_at="2017-09-16T00:00:00+02:00").json["error"]["fields"]
    assert "at most 2 decimal places" in fields["item_price"][0]
    assert "platform_payments" in fields["payment_method"][0]
    assert fields["paid_at"] == ["must not be in the future"]
    zero = _get(client, item_price="0.00").json["error"]["fields"]
    assert zero["item_price"] == ["amount must be greater than zero"]
    missing = _get(client, paid_at=None).json["error"]["fields"]
    assert missing["paid_at"] == ["Missing data for required field."]
