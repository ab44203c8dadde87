"""Security headers on every response of every GET route, anonymous and logged in.

The few fixed paths are in tests/arbiter/test_web.py; this walks the whole url_map.
"""

import pytest
from flask_migrate import upgrade

from arbiter.security import PUBLIC_ENDPOINTS
from tests.factories import PASSWORD
from tests.security.conftest import fill, html_rules


def _assert_headers(response, path):
    csp = response.headers.get("Content-Security-Policy", "")
    assert "object-src 'none'" in csp, path
    assert "frame-ancestors" in csp, path
    assert response.headers.get("X-Content-Type-Options") == "nosniff", path


@pytest.mark.parametrize("role", ["anonymous", "buyer", "seller", "staff"])
def test_every_get_route_carries_the_security_headers(app, client, auth, world, role):
    if role != "anonymous":
        auth.login(world["users"][role].email)
    statuses = {}
    for rule in html_rules(app, "GET"):
        path = fill(rule, world["args"])
        response = client.get(path)
        statuses[path] = response.status_code
        _assert_headers(response, path)
        # Pages show names, bank accounts and evidence: no cache keeps them (issue 25
        # item 11), except the public pages asked anonymously.
        kept = role == "anonymous" and rule.endpoint in PUBLIC_ENDPOINTS
        assert ("no-store" in response.headers.get("Cache-Control", "")) is not kept, path
        assert "Strict-Transport-Security" not in response.headers, path
        response.close()
    # the walk really reached pages: a party sees real ones, not only redirects and 404s
    assert 200 in statuses.values()
    if role == "anonymous":
        assert statuses[f"/discussions/{world['discussion'].id}"] == 302


def test_the_api_and_error_responses_carry_them_too(client):
    for path in ("/api/v1/status", "/api/v1/discussions/1", "/no-such-page"):
        _assert_headers(client.get(path), path)


def test_hsts_on_every_route_in_production(monkeypatch, tmp_path):
    from arbiter import create_app
    from arbiter.extensions import db

    monkeypatch.setenv("ARBITER_ENV", "production")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/p.sqlite3",
                      "SECRET_KEY": "s" * 32, "PASSWORD_HASH_FAST": True,
                      "BASE_URL": "https://arbiter.example",
                      "STORAGE_DIR": str(tmp_path / "storage"),
                      "RATELIMIT_STORAGE_URI": "memory://"})
    with app.app_context():
        upgrade()
        from accounts.services import create_user

        create_user("buyer@example.test", "Barbara", PASSWORD)
        db.session.commit()
    client = app.test_client()
    args = {name: 1 for rule in app.url_map.iter_rules() for name in rule.arguments}
    args.update(answer="accept", action="solve", number="ARB/2026/000001", name="x.css")
    for logged_in in (False, True):
        if logged_in:
            client.post("/login", base_url="https://arbiter.example",
                        data={"email": "buyer@example.test", "password": PASSWORD})
        for rule in html_rules(app, "GET"):
            path = fill(rule, args)
            response = client.get(path, base_url="https://arbiter.example")
            assert "max-age=31536000" in response.headers.get(
                "Strict-Transport-Security", ""), path
            _assert_headers(response, path)
            response.close()
    with app.app_context():
        db.engine.dispose()


def _api_rules(app):
    return sorted((rule for rule in app.url_map.iter_rules()
                   if "GET" in rule.methods and rule.rule.startswith("/api/")
                   and rule.endpoint != "api_browser.docs_asset"), key=lambda rule: rule.rule)


@pytest.mark.parametrize("caller", ["anonymous", "buyer", "staff", "integration"])
def test_every_api_answer_but_the_public_ones_is_not_stored(app, api, world, token_for,
                                                             integration_token, caller):
    token = {"anonymous": None, "integration": integration_token}.get(caller) or (
        caller in world["users"] and token_for(world["users"][caller]))
    args = {**world["args"], "external_id": world["order"].external_id,
            "id": world["discussion"].id}
    answered = set()
    for rule in _api_rules(app):
        path = fill(rule, args)
        response = api.get(path, token=token)
        answered.add(response.status_code)
        kept = token is None and rule.endpoint in PUBLIC_ENDPOINTS
        assert ("no-store" in response.headers.get("Cache-Control", "")) is not kept, (
            path, response.status_code)
    assert 200 in answered


def test_a_public_page_is_not_stored_for_a_signed_in_user_but_assets_are_cacheable(
        client, auth, buyer):
    assert "no-store" not in client.get("/status/feed.atom").headers["Cache-Control"]
    auth.login(buyer.email)
    assert client.get("/status/feed.atom").headers["Cache-Control"] == "no-store"
    assert client.get("/status").headers["Cache-Control"] == "no-store"
    asset = client.get("/static/arbiter.css")
    assert asset.status_code == 200
    assert "no-store" not in asset.headers.get("Cache-Control", "")
    asset.close()
