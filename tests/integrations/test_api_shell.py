"""The API shell: the OpenAPI document, the local docs, one error shape, 401 without a token."""

import re

import pytest

from arbiter.api import openapi_path

ERROR_KEYS = {"code", "message", "fields"}


def _assert_error(response, status: int, code: str | None = None):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert set(response.json) == {"error"}
    assert set(response.json["error"]) == ERROR_KEYS
    if code is not None:
        assert response.json["error"]["code"] == code
    return response.json["error"]


def test_the_openapi_document_describes_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").json
    assert spec["openapi"].startswith("3.")
    assert spec["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    documented = {(path, method.upper()) for path, item in spec["paths"].items()
                  for method in item if method != "parameters"}
    routes = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint.startswith(
                ("api-docs.", "api_browser.")):
            continue
        path = openapi_path(rule.rule)
        routes |= {(path, method) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == documented


def test_errors_are_documented_with_the_one_error_shape(client):
    spec = client.get("/api/v1/openapi.json").json
    schema = spec["components"]["schemas"]["Error"]
    assert schema["required"] == ["error"]
    assert set(spec["components"]["schemas"]["_Messages"]["properties"]) == ERROR_KEYS


def test_the_docs_page_uses_local_assets_and_no_inline_script(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources and all(source.startswith("/") for source in sources)  # no CDN
    assert not re.search(r"<script>(?!</script>)", html)  # every script is a file
    for source in sources:
        asset = client.get(source)
        assert asset.status_code == 200, source
        asset.close()
    license_ = client.get("/api/v1/docs/assets/LICENSE")
    assert b"Apache" in license_.data
    license_.close()
    assert client.get("/api/v1/docs/assets/..%2Fswagger_ui.py").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz",
                                    "Bearer arb_unknown-token"])
def test_no_or_a_bad_token_is_401_in_the_error_shape(api, header):
    headers = {"Authorization": header} if header else {}
    response = api.get("/api/v1/discussions", headers=headers)
    _assert_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_unknown_api_paths_and_methods_answer_json(api, token_for, buyer):
    _assert_error(api.get("/api/v1/nothing-here"), 404, "not_found")
    _assert_error(api.open("PATCH", "/api/v1/events", token=token_for(buyer)), 405)


def test_schema_errors_have_the_code_validation_failed_and_name_the_fields(
        api, token_for, buyer):
    response = api.post("/api/v1/discussions", token=token_for(buyer),
                        json={"reason": "bored", "description": ""})
    error = _assert_error(response, 422, "validation_failed")
    assert set(error["fields"]) == {"order_external_id", "reason", "expected_outcome",
                                    "description"}
    assert all(isinstance(m, str) for messages in error["fields"].values() for m in messages)


def test_a_body_that_is_not_json_is_a_400_in_the_error_shape(api, token_for, buyer):
    response = api.post("/api/v1/discussions", token=token_for(buyer), data="{nope",
                        content_type="application/json")
    _assert_error(response, 400, "bad_request")


def test_the_api_needs_no_csrf_token(fresh_app):
    app = fresh_app(WTF_CSRF_ENABLED=True)
    response = app.test_client().post("/api/v1/auth/tokens", json={})
    assert response.status_code == 422  # schema error, not "CSRF token missing"


def test_ids_beyond_bigint_are_404_not_a_database_error(api, token_for, buyer):
    token = token_for(buyer)
    for path in ("/api/v1/discussions/9223372036854775808", "/api/v1/claims/0",
                 "/api/v1/discussions/99999999999999999999999/messages"):
        response = api.get(path, token=token)
        assert response.status_code in (404, 405), path
    assert api.get("/api/v1/discussions/9223372036854775807",
                   token=token).status_code == 404


def test_nul_characters_are_422_not_a_database_error(api, token_for, buyer, integration_token):
    response = api.post("/api/v1/auth/tokens", json={"email": "\x00", "password": "x"})
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"email": ["must not contain NUL characters"]}
    response = api.post("/api/v1/discussions", token=token_for(buyer), json={
        "order_external_id": "A", "reason": "other", "expected_outcome": "refund",
        "description": "bad \x00 byte"})
    assert response.status_code == 422
    assert api.get("/api/v1/orders/A%00B", token=integration_token).status_code == 404
