"""Migration 0026 (integration scopes and ownership, webhook failure categories) on SQLite
and PostgreSQL: the tokens that existed keep working with every scope, endpoints and orders
get their integration, raw delivery errors become categories, and it goes down and up.

(The lead re-chains migration numbers at merge: PREVIOUS is the revision below 0026.)
"""

from datetime import timedelta

import pytest
from sqlalchemy import text

from arbiter import clock
from arbiter.extensions import db
from tests.arbiter.test_migrations import _migrate, _one, empty_app  # noqa: F401 - fixture

PREVIOUS = "0024"
EVERY_SCOPE = ("cases:read events:read orders:read orders:write recoveries:read "
               "settlements:write webhooks:manage")
RAW_ERRORS = {
    "HTTP 503": "http_5xx",
    "HTTP 404": "http_4xx",
    "HTTP 302": "redirect",
    "URLError: <urlopen error [Errno 111] Connection refused>": "connection_refused",
    "TimeoutError: timed out": "timeout",
    "URLError: <urlopen error [SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed>":
        "tls_error",
    "URLError: <urlopen error [Errno -2] Name or service not known>": "dns_error",
    "RemoteDisconnected: Remote end closed connection without response": "connection_error",
}


def _world() -> dict:
    """At head, through the services: an integration token, a user token, an endpoint the
    integration registered with one delivery per raw error, and an order."""
    from accounts.services import create_user
    from integrations import tokens
    from integrations.models import WebhookDelivery, WebhookEndpoint
    from orders.services import upsert_order
    from orders.states import PaymentMethod
    from tests.factories import PASSWORD

    buyer, seller = (create_user(f"{name}@example.test", name, PASSWORD)
                     for name in ("buyer", "seller"))
    db.session.flush()
    integration = tokens.create_integration_token("marketplace", scopes=["events:read"]).row
    user_token = tokens.issue_user_token(buyer).row
    order = upsert_order({
        "external_id": "M-1", "buyer_email": buyer.email, "seller_email": seller.email,
        "item_title": "Lamp", "item_price": 10_000, "shipping_cost": 0,
        "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
        "paid_at": clock.now() - timedelta(days=2)}).order
    now = clock.now()
    db.session.flush()
    event_id = db.session.execute(text("SELECT max(id) FROM audit_entries")).scalar()
    endpoints, deliveries = [], []
    for _ in RAW_ERRORS:  # one endpoint per delivery: (endpoint, event) is unique
        endpoint = WebhookEndpoint(url="https://hooks.example.test/", secret="whsec_x",
                                   description="", created_at=now, active=True,
                                   feed_position=0, created_by_token_id=integration.id)
        db.session.add(endpoint)
        db.session.flush()
        delivery = WebhookDelivery(endpoint_id=endpoint.id, event_id=event_id, attempts=1,
                                   next_attempt_at=now, created_at=now)
        db.session.add(delivery)
        endpoints.append(endpoint)
        deliveries.append(delivery)
    db.session.commit()
    return {"integration": integration.id, "user_token": user_token.id,
            "endpoint": endpoints[0].id, "order": order.id,
            "deliveries": [delivery.id for delivery in deliveries]}


def test_0026_gives_existing_tokens_every_scope_and_integrations_their_objects(empty_app):  # noqa: F811
    _migrate(empty_app, "head")
    ids = _world()
    db.session.remove()
    _migrate(empty_app, PREVIOUS, down=True)
    for (raw, _), delivery_id in zip(RAW_ERRORS.items(), ids["deliveries"], strict=True):
        db.session.execute(text("UPDATE webhook_deliveries SET last_error = :raw "
                                "WHERE id = :id"), {"raw": raw, "id": delivery_id})
    db.session.commit()
    db.session.remove()
    _migrate(empty_app, "head")

    assert _one("SELECT scopes FROM api_tokens WHERE id = :id",
                id=ids["integration"]) == (EVERY_SCOPE,)
    assert _one("SELECT scopes FROM api_tokens WHERE id = :id",
                id=ids["user_token"]) == (None,)
    assert _one("SELECT integration FROM webhook_endpoints WHERE id = :id",
                id=ids["endpoint"]) == ("marketplace",)
    assert _one("SELECT integration FROM orders WHERE id = :id",
                id=ids["order"]) == ("marketplace",)
    for (_, category), delivery_id in zip(RAW_ERRORS.items(), ids["deliveries"], strict=True):
        assert _one("SELECT last_failure FROM webhook_deliveries WHERE id = :id",
                    id=delivery_id) == (category,)
    # The CHECK ties scopes to integration tokens.
    with pytest.raises(Exception, match="scopes_iff_integration_token"):
        db.session.execute(text("UPDATE api_tokens SET scopes = NULL WHERE id = :id"),
                           {"id": ids["integration"]})
    db.session.rollback()
