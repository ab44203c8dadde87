"""PUT/GET /api/v1/orders/<external_id>: the marketplace pushes orders (integration token)."""

from sqlalchemy import func, select

from arbiter import audit
from arbiter.extensions import db
from orders.models import Order


def _order(buyer, seller, **changes):
    body = {"buyer_email": buyer.email, "seller_email": seller.email,
            "item_title": "Desk lamp", "item_price": "199.99", "shipping_cost": "15.00",
            "payment_method": "platform_payments", "paid_at": "2026-11-01T10:00:00+01:00"}
    body.update(changes)
    return body


def test_put_creates_then_updates_then_changes_nothing(api, integration_token, buyer, seller):
    url = "/api/v1/orders/MKT-1001"
    created = api.put(url, token=integration_token, json=_order(buyer, seller))
    assert created.status_code == 201, created.json
    assert created.json["external_id"] == "MKT-1001"
    assert created.json["item_price"] == "199.99"
    assert created.json["paid_at"] == "2026-11-01T09:00:00+00:00"
    assert created.json["delivered_at"] is None
    updated = api.put(url, token=integration_token,
                      json=_order(buyer, seller, delivered_at="2026-11-03T12:00:00Z"))
    assert updated.status_code == 200 and updated.json["delivered_at"]
    entries = audit.count()
    same = api.put(url, token=integration_token,
                   json=_order(buyer, seller, delivered_at="2026-11-03T12:00:00Z"))
    assert same.status_code == 200 and audit.count() == entries
    assert api.get(url, token=integration_token).json == same.json


def test_bad_orders_are_422_with_the_fields_named(api, integration_token, buyer, seller):
    response = api.put("/api/v1/orders/MKT-1", token=integration_token,
                       json=_order(buyer, seller, item_price="1e3", paid_at="yesterday"))
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"item_price", "paid_at"}
    unknown = api.put("/api/v1/orders/MKT-1", token=integration_token,
                      json=_order(buyer, seller, buyer_email="ghost@example.test"))
    assert unknown.status_code == 422
    assert unknown.json["error"]["fields"] == {"buyer_email": ["unknown user"]}
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_mass_assignment_of_ids_and_state_is_refused(api, integration_token, buyer, seller,
                                                     create_user):
    intruder = create_user()
    response = api.put("/api/v1/orders/MKT-2", token=integration_token,
                       json=_order(buyer, seller, buyer_id=intruder.id, id=999,
                                   external_id="OTHER", created_at="2020-01-01T00:00:00Z"))
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"buyer_id", "id", "external_id",
                                                     "created_at"}
    assert db.session.scalar(select(func.count()).select_from(Order)) == 0


def test_user_tokens_cannot_push_orders(api, token_for, buyer, seller):
    response = api.put("/api/v1/orders/MKT-3", token=token_for(buyer),
                       json=_order(buyer, seller))
    assert response.status_code == 403
    assert api.put("/api/v1/orders/MKT-3", json=_order(buyer, seller)).status_code == 401


def test_unknown_order_is_404(api, integration_token):
    response = api.get("/api/v1/orders/NOPE", token=integration_token)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_the_parties_of_an_order_with_a_case_are_fixed(api, integration_token, buyer, seller,
                                                       create_user, create_discussion):
    """A case's rows carry the order's buyer and seller (migration 0013): once a discussion
    exists they cannot change, with a clear 409 instead of the database's refusal (a 500).
    Before that, the marketplace may still correct them."""
    url = "/api/v1/orders/MKT-3"
    newcomer = create_user()
    assert api.put(url, token=integration_token, json=_order(buyer, seller)).status_code == 201
    corrected = api.put(url, token=integration_token, json=_order(newcomer, seller))
    assert corrected.status_code == 200
    order = db.session.scalar(select(Order).where(Order.external_id == "MKT-3"))
    create_discussion(order)
    entries = audit.count()
    for body, field in ((_order(buyer, seller), "buyer_email"),
                        (_order(newcomer, buyer), "seller_email")):
        refused = api.put(url, token=integration_token, json=body)
        assert refused.status_code == 409
        assert refused.json["error"]["code"] == "order_parties_fixed"
        assert set(refused.json["error"]["fields"]) == {field}
    db.session.expire_all()
    assert (order.buyer_id, order.seller_id) == (newcomer.id, seller.id)
    assert audit.count() == entries
    # everything else about the order still follows the marketplace
    delivered = api.put(url, token=integration_token,
                        json=_order(newcomer, seller, delivered_at="2026-11-03T12:00:00Z"))
    assert delivered.status_code == 200 and delivered.json["delivered_at"]
