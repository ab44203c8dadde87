"""Tokens: the CLI for integrations, POST/DELETE /api/v1/auth/tokens for users."""

from datetime import timedelta

from sqlalchemy import select

from arbiter import audit
from arbiter.extensions import db
from integrations import tokens
from integrations.models import ApiToken, Scope, TokenKind
from tests.factories import PASSWORD


def test_integrations_create_prints_the_token_once_and_stores_only_its_hash(app, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["integrations", "create", "marketplace",
                                 "--scope", "orders:write", "--scope", "events:read"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("arb_") and len(token) > 40
    row = db.session.scalar(select(ApiToken).where(ApiToken.name == "marketplace"))
    assert row.kind is TokenKind.INTEGRATION and row.user_id is None
    assert row.token_hash == tokens.token_hash(token) and token not in row.token_hash
    assert row.expires_at is None
    assert row.scope_set == {Scope.ORDERS_WRITE, Scope.EVENTS_READ}
    again = runner.invoke(args=["integrations", "create", "marketplace",
                                "--scope", "orders:read"])
    assert again.exit_code != 0 and "revoke it first" in again.output


def test_an_integration_token_needs_known_scopes(app, db_session):
    runner = app.test_cli_runner()
    unscoped = runner.invoke(args=["integrations", "create", "shop"])
    assert unscoped.exit_code != 0 and "--scope" in unscoped.output
    unknown = runner.invoke(args=["integrations", "create", "shop", "--scope", "admin"])
    assert unknown.exit_code != 0 and "orders:write" in unknown.output
    assert db.session.scalar(select(ApiToken.id)) is None


def test_integrations_revoke_makes_the_token_worthless(app, api, db_session):
    runner = app.test_cli_runner()
    token = runner.invoke(args=["integrations", "create", "shop", "--scope", "events:read"]
                          ).stdout.strip().splitlines()[-1]
    assert api.get("/api/v1/events", token=token).status_code == 200
    result = runner.invoke(args=["integrations", "revoke", "shop"])
    assert result.exit_code == 0, result.output
    assert api.get("/api/v1/events", token=token).status_code == 401
    assert runner.invoke(args=["integrations", "revoke", "shop"]).exit_code != 0
    # the name is free again
    assert runner.invoke(args=["integrations", "create", "shop",
                               "--scope", "events:read"]).exit_code == 0


def test_a_user_exchanges_email_and_password_for_a_token_with_an_expiry(api, buyer):
    response = api.post("/api/v1/auth/tokens",
                        json={"email": " Buyer@Example.test ", "password": PASSWORD})
    assert response.status_code == 201, response.json
    body = response.json
    assert body["token_type"] == "Bearer" and body["token"].startswith("arb_")
    assert body["expires_at"]
    row = db.session.scalar(select(ApiToken).where(
        ApiToken.token_hash == tokens.token_hash(body["token"])))
    assert row.kind is TokenKind.USER and row.user_id == buyer.id
    assert row.expires_at - row.created_at == timedelta(days=30)
    mine = api.get("/api/v1/discussions", token=body["token"])
    assert mine.status_code == 200 and mine.json == {"items": [], "next_cursor": None}


def test_wrong_credentials_are_401_and_say_nothing_about_the_account(api, buyer):
    for email, password in ((buyer.email, "wrong password!"), ("nobody@example.test", PASSWORD)):
        response = api.post("/api/v1/auth/tokens", json={"email": email, "password": password})
        assert response.status_code == 401
        assert response.json["error"]["code"] == "invalid_credentials"
    assert db.session.scalar(select(ApiToken.id)) is None


def test_five_failed_attempts_per_account_per_minute_then_429(api, buyer, time_machine):
    time_machine.move_to("2026-11-22T10:00:00Z", tick=False)
    for _ in range(5):
        assert api.post("/api/v1/auth/tokens", json={
            "email": buyer.email, "password": "wrong password!"}).status_code == 401
    blocked = api.post("/api/v1/auth/tokens", json={"email": buyer.email, "password": PASSWORD})
    assert blocked.status_code == 429
    assert blocked.json["error"]["code"] == "too_many_requests"
    time_machine.move_to("2026-11-22T10:01:01Z", tick=False)
    assert api.post("/api/v1/auth/tokens", json={
        "email": buyer.email, "password": PASSWORD}).status_code == 201


def test_the_browser_and_the_api_share_one_budget_per_account(client, api, buyer, time_machine):
    time_machine.move_to("2026-11-22T10:00:00Z", tick=False)
    for _ in range(3):
        assert client.post("/login", data={"email": buyer.email,
                                           "password": "wrong password!"}).status_code == 401
    for _ in range(2):
        assert api.post("/api/v1/auth/tokens", json={
            "email": buyer.email, "password": "wrong password!"}).status_code == 401
    assert api.post("/api/v1/auth/tokens", json={
        "email": buyer.email, "password": PASSWORD}).status_code == 429
    assert client.post("/login", data={"email": buyer.email,
                                       "password": PASSWORD}).status_code == 429


def test_successful_logins_do_not_count(api, buyer, time_machine):
    time_machine.move_to("2026-11-22T10:00:00Z", tick=False)
    for _ in range(7):
        assert api.post("/api/v1/auth/tokens", json={
            "email": buyer.email, "password": PASSWORD}).status_code == 201


def test_delete_current_revokes_the_token_and_writes_the_audit_log(api, buyer, token_for):
    token = token_for(buyer)
    entries = audit.count()
    assert api.delete("/api/v1/auth/tokens/current", token=token).status_code == 204
    assert api.get("/api/v1/discussions", token=token).status_code == 401
    assert api.delete("/api/v1/auth/tokens/current", token=token).status_code == 401
    assert audit.count() == entries + 1


def test_an_expired_user_token_is_401(api, buyer, token_for, time_machine):
    token = token_for(buyer)
    time_machine.move_to(db.session.scalar(select(ApiToken.expires_at)), tick=False)
    assert api.get("/api/v1/discussions", token=token).status_code == 401


def test_last_use_is_recorded_to_the_minute(api, buyer, token_for):
    token = token_for(buyer)
    assert api.get("/api/v1/discussions", token=token).status_code == 200
    row = db.session.scalar(select(ApiToken))
    db.session.refresh(row)
    assert row.last_used_at is not None


def test_tokens_of_one_kind_do_not_open_endpoints_of_the_other(
        api, buyer, token_for, integration_token):
    assert api.get("/api/v1/discussions", token=integration_token).status_code == 403
    assert api.get("/api/v1/orders/ORD-1", token=token_for(buyer)).status_code == 403
    assert api.get("/api/v1/orders/ORD-1", token=integration_token).status_code == 404


def test_staff_endpoints_are_403_for_everyone_else(api, buyer, staff, token_for):
    assert api.get("/api/v1/staff/discussions", token=token_for(buyer)).status_code == 403
    assert api.get("/api/v1/staff/claims", token=token_for(buyer)).status_code == 403
    assert api.get("/api/v1/staff/discussions", token=token_for(staff)).status_code == 200
