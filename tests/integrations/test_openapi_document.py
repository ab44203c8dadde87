"""The OpenAPI document allows exactly what the API accepts (issue 25 item 15): request
text without NUL characters, amounts as parse_amount reads them, the Idempotency-Key's
format; and an error's fields are a list of strings per name, as documented."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from marshmallow import ValidationError

from arbiter.money import AMOUNT_PATTERN, POSITIVE_AMOUNT_PATTERN
from arbiter.schemas import AmountField


@pytest.fixture
def document(client):
    return client.get("/api/v1/openapi.json").get_json()


def _request_text_properties(document):
    """Every text a client sends: writeOnly string properties and query parameters."""
    for name, schema in document["components"]["schemas"].items():
        for field, prop in schema.get("properties", {}).items():
            if prop.get("writeOnly") and prop.get("type") == "string":
                yield f"{name}.{field}", prop
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":  # the path's own: ids, not text
                continue
            for parameter in operation.get("parameters", ()):
                if parameter["in"] == "query" and parameter["schema"].get("type") == "string":
                    yield f"{method} {path} ?{parameter['name']}", parameter["schema"]


def test_the_document_says_request_text_holds_no_nul_character(document):
    checked = 0
    for where, prop in _request_text_properties(document):
        if "enum" in prop or prop.get("format") in ("binary", "date-time"):
            continue
        assert "pattern" in prop, where
        assert not re.search(prop["pattern"], "text\x00"), where
        checked += 1
    assert checked > 40


def test_the_quote_documents_its_amounts(document):
    """They were documented as ``{}``: any value at all."""
    parameters = {p["name"]: p["schema"] for p in
                  document["paths"]["/api/v1/policy/quote"]["get"]["parameters"]}
    assert parameters["item_price"] == {"type": "string", "pattern": POSITIVE_AMOUNT_PATTERN,
                                        "example": "120.50"}
    assert parameters["shipping_cost"]["pattern"] == AMOUNT_PATTERN
    assert parameters["claimed_amount"]["pattern"] == AMOUNT_PATTERN


def _accepted(text: str, positive: bool) -> bool:
    try:
        AmountField(positive=positive).deserialize(text)
    except ValidationError:
        return False
    return True


@settings(max_examples=500, deadline=None)
@given(st.one_of(st.from_regex(AMOUNT_PATTERN), st.text("0123456789. \n", max_size=14),
                 st.sampled_from(["1000000000", "1000000000.0", "1000000000.01", "0.00",
                                  "0.01", "999999999.99", "10000000000", "00", "1.", ".5"])))
def test_the_amount_patterns_are_what_the_api_accepts(text):
    for positive, pattern in ((False, AMOUNT_PATTERN), (True, POSITIVE_AMOUNT_PATTERN)):
        assert bool(re.fullmatch(pattern, text)) == _accepted(text, positive), (text, positive)


def _key_pattern(document) -> str:
    operation = document["paths"]["/api/v1/discussions"]["post"]
    (parameter,) = [p for p in operation["parameters"] if p["name"] == "Idempotency-Key"]
    return parameter["schema"]["pattern"]


@pytest.mark.parametrize("key", ["k", "a b", "x" * 255, "x" * 256, "", "tab\there", "\x7f",
                                 "caf\xe9", "~!@#$%^&*()"])
def test_the_idempotency_key_format_is_the_one_the_document_states(
        api, document, create_discussion, buyer, seller, token_for, key):
    discussion = create_discussion(buyer=buyer, seller=seller)
    response = api.post(f"/api/v1/discussions/{discussion.id}/messages", token=token_for(buyer),
                        json={"body": "Where is it?"}, headers={"Idempotency-Key": key})
    refused = response.status_code == 422
    assert refused == (re.fullmatch(_key_pattern(document), key) is None), response.json
    if refused:
        assert response.json["error"]["code"] == "invalid_idempotency_key"


def test_a_nested_field_error_is_named_by_its_path(api, token_for, buyer):
    """A text part where a file belongs: ``{"files.0": ["..."]}``, a list of strings like
    every other field's messages, not an object inside the list."""
    response = api.post("/api/v1/claims/1/documents", token=token_for(buyer),
                        data={"files": "not a file"}, content_type="multipart/form-data")
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"files.0": ["Send a file here."]}
