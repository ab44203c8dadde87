"""What an integration registered or pushed is its own (issue 25 item 6): another integration
cannot list, change or deactivate its webhooks (404), cannot change its orders (403) nor
settle their rows (404). The integration is its token's name, so rotating the token keeps
what it owns. An order with a case keeps its buyer and seller (409)."""

import pytest
from sqlalchemy import select

from arbiter import audit
from arbiter.extensions import db
from integrations import tokens
from integrations.models import WebhookEndpoint
from orders.models import Order
from tests.integrations.receiver import sweep

ORDER = {"item_title": "Desk lamp", "item_price": "199.99", "shipping_cost": "15.00",
         "payment_method": "platform_payments", "paid_at": "2026-11-01T10:00:00+01:00"}


def _order(buyer, seller, **changes):
    return {**ORDER, "buyer_email": buyer.email, "seller_email": seller.email, **changes}


@pytest.fixture
def rival(integration_token_for):
    """A second integration with every scope: scopes are not what stops it here."""
    return integration_token_for("rival-shop")


def test_another_integration_cannot_see_or_deactivate_a_webhook(
        api, integration_token, rival, receiver, staff_browser, create_order):
    mine = api.post("/api/v1/webhooks", token=integration_token,
                    json={"url": receiver.url}).json
    staff_browser.post(f"/staff/webhooks/{mine['id']}/approve")
    assert api.get("/api/v1/webhooks", token=rival).json == []
    entries = audit.count()
    refused = api.delete(f"/api/v1/webhooks/{mine['id']}", token=rival)
    assert refused.status_code == 404 and refused.json["error"]["code"] == "not_found"
    assert api.get(f"/api/v1/webhooks/{mine['id']}/deliveries",
                   token=rival).status_code == 404
    assert audit.count() == entries
    assert db.session.get(WebhookEndpoint, mine["id"]).active is True
    create_order()
    db.session.commit()
    sweep()
    assert len(receiver.requests) == 1  # still delivered to
    [listed] = api.get("/api/v1/webhooks", token=integration_token).json
    assert listed["id"] == mine["id"]
    assert api.delete(f"/api/v1/webhooks/{mine['id']}",
                      token=integration_token).status_code == 204


def test_a_rotated_token_keeps_its_integrations_webhooks_and_orders(
        app, api, integration_token, receiver, buyer, seller):
    endpoint = api.post("/api/v1/webhooks", token=integration_token,
                        json={"url": receiver.url}).json
    assert api.put("/api/v1/orders/MKT-9", token=integration_token,
                   json=_order(buyer, seller)).status_code == 201
    tokens.revoke_integration("marketplace")
    fresh = tokens.create_integration_token("marketplace", scopes=["webhooks:manage",
                                                                   "orders:write"]).token
    db.session.commit()
    assert [row["id"] for row in api.get("/api/v1/webhooks", token=fresh).json] == [
        endpoint["id"]]
    assert api.put("/api/v1/orders/MKT-9", token=fresh,
                   json=_order(buyer, seller, item_title="Lamp")).status_code == 200


def test_another_integration_cannot_rewrite_an_order(api, integration_token, rival, buyer,
                                                     seller, create_user):
    url = "/api/v1/orders/MKT-1"
    assert api.put(url, token=integration_token, json=_order(buyer, seller)).status_code == 201
    intruder = create_user()
    entries = audit.count()
    for body in (_order(intruder, seller), _order(buyer, seller, item_price="1.00")):
        refused = api.put(url, token=rival, json=body)
        assert refused.status_code == 403
        assert refused.json["error"]["code"] == "order_of_another_integration"
    assert audit.count() == entries
    order = db.session.scalar(select(Order).where(Order.external_id == "MKT-1"))
    assert (order.buyer_id, order.item_price, order.integration) == (
        buyer.id, 19_999, "marketplace")
    # the owner still may
    assert api.put(url, token=integration_token,
                   json=_order(buyer, seller, item_price="189.99")).status_code == 200


def test_an_imported_order_becomes_the_first_updating_integrations(
        api, integration_token, rival, create_order):
    order = create_order()  # as staff import them: no integration
    assert order.integration is None
    url = f"/api/v1/orders/{order.external_id}"
    body = _order(order.buyer, order.seller, delivered_at="2026-11-03T12:00:00Z")
    assert api.put(url, token=integration_token, json=body).status_code == 200
    db.session.expire_all()
    assert db.session.get(Order, order.id).integration == "marketplace"
    assert api.put(url, token=rival, json=body).status_code == 403


def test_another_integration_cannot_settle_an_orders_rows(
        api, integration_token, rival, buyer, seller, create_discussion):
    from disputes import services as disputes
    from disputes.states import OfferKind

    assert api.put("/api/v1/orders/MKT-5", token=integration_token,
                   json=_order(buyer, seller)).status_code == 201
    order = db.session.scalar(select(Order).where(Order.external_id == "MKT-5"))
    discussion = create_discussion(order, age_hours=1)
    offer = disputes.make_offer(discussion, seller, kind=OfferKind.REFUND)
    promise = disputes.accept_offer(discussion, buyer, offer.id)  # the seller owes a refund
    db.session.commit()
    for action in ("confirm", "fail"):
        refused = api.post(f"/api/v1/settlements/{promise.id}/{action}", token=rival, json={})
        assert refused.status_code == 404, refused.json
    assert api.post(f"/api/v1/settlements/{promise.id}/confirm", token=integration_token,
                    json={}).status_code == 200


@pytest.mark.parametrize("case", ["discussion", "claim"])
def test_an_order_with_a_case_keeps_its_buyer_and_seller(
        api, integration_token, buyer, seller, create_user, create_discussion, case):
    from claims import services as claims
    from claims.states import ClaimType
    from tests.claims.helpers import IBAN

    url = "/api/v1/orders/MKT-7"
    assert api.put(url, token=integration_token, json=_order(buyer, seller)).status_code == 201
    order = db.session.scalar(select(Order).where(Order.external_id == "MKT-7"))
    create_discussion(order, age_hours=25)
    if case == "claim":
        claims.file_claim(order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                          description="Wrong model.", payout_account=IBAN)
        db.session.commit()
    newcomer = create_user()
    for body in (_order(newcomer, seller), _order(buyer, newcomer)):
        refused = api.put(url, token=integration_token, json=body)
        assert refused.status_code == 409
        assert refused.json["error"]["code"] == "order_parties_fixed"
        assert "cannot change once it has a case" in refused.json["error"]["message"]
    db.session.expire_all()
    assert (order.buyer_id, order.seller_id) == (buyer.id, seller.id)
