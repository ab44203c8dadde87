"""CSRF: every state-changing HTML form refuses a request without a token (400) and
changes nothing; no GET request changes state, whoever sends it."""

import re
from datetime import timedelta

import pytest
from flask_migrate import upgrade

from accounts.roles import Role
from arbiter import audit, clock
from arbiter.extensions import db
from tests.factories import PASSWORD, SECOND_STEP, enrol, totp_step
from tests.security.conftest import fill, html_rules

TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def _small_world() -> dict:
    """Real rows for every id a POST route takes, built through the services."""
    from accounts.services import create_user
    from claims import services as claims
    from claims.states import ClaimType
    from disputes import services as disputes
    from disputes.states import ExpectedOutcome, OfferKind, Reason
    from orders.services import upsert_order
    from orders.states import PaymentMethod
    from tests.claims.helpers import IBAN

    buyer = create_user("buyer@example.test", "Barbara", PASSWORD)
    seller = create_user("seller@example.test", "Stefan", PASSWORD)
    enrol(create_user("staff@example.test", "Sylwia", PASSWORD, roles=tuple(Role)))
    db.session.commit()
    order = upsert_order({
        "external_id": "ORD-1", "buyer_email": buyer.email, "seller_email": seller.email,
        "item_title": "Lamp", "item_price": 12_345, "shipping_cost": 1_500,
        "currency": "PLN", "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
        "paid_at": clock.now() - timedelta(days=2), "delivered_at": None}).order
    db.session.commit()
    discussion = disputes.open_discussion(order, buyer, reason=Reason.DAMAGED,
                                          expected_outcome=ExpectedOutcome.REFUND,
                                          description="Cracked.")
    for name in ("opened_at", "respond_by", "escalation_available_at", "last_activity_at"):
        setattr(discussion, name, getattr(discussion, name) - timedelta(hours=25))
    offer = disputes.make_offer(discussion, seller, kind=OfferKind.REPAIR)
    claim = claims.file_claim(order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                              description="Wrong model.", payout_account=IBAN)
    db.session.commit()
    return {"order_id": order.id, "discussion_id": discussion.id, "offer_id": offer.id,
            "claim_id": claim.id, "attachment_id": 1, "document_id": 1, "batch_id": 1,
            "payout_id": 1,
            "incident_id": 1, "report_id": 1, "email_id": 1, "endpoint_id": 1,
            "delivery_id": 1, "export_id": 1, "answer": "accept", "action": "solve",
            "number": "ARB/2026/000001",
            "settlement_id": 1, "appeal_id": 1, "file_id": 1,
            "user_id": 1, "invitation_id": 1, "token": "x",  # the token check comes first
            "token_id": 1, "version_id": 1}


@pytest.fixture
def csrf_app(fresh_app):
    app = fresh_app(WTF_CSRF_ENABLED=True)
    with app.app_context():
        upgrade()
        app.config["SECURITY_TEST_ARGS"] = _small_world()
    yield app
    with app.app_context():
        db.engine.dispose()


def _login(client, email):
    token = TOKEN.search(client.get("/login").text).group(1)
    response = client.post("/login", data={"email": email, "password": PASSWORD,
                                           "csrf_token": token})
    assert response.status_code == 302
    if response.headers["Location"].startswith(SECOND_STEP):  # staff: the app's code
        token = TOKEN.search(client.get(SECOND_STEP).text).group(1)
        with client.application.app_context():
            _, code = totp_step(email)
        assert client.post(SECOND_STEP, data={"code": code, "csrf_token": token}
                           ).status_code == 302


@pytest.mark.parametrize("email", ["buyer@example.test", "seller@example.test",
                                   "staff@example.test", None])
def test_every_form_without_a_token_is_refused_and_changes_nothing(csrf_app, email):
    client = csrf_app.test_client()
    if email:
        _login(client, email)
    args = csrf_app.config["SECURITY_TEST_ARGS"]
    rules = html_rules(csrf_app, "POST")
    assert len(rules) > 20  # the walk covers the real forms, not an empty map
    with csrf_app.app_context():
        before = audit.count()
    for rule in rules:
        path = fill(rule, args)
        response = client.post(path, data={"body": "x" * 20, "lang": "en",
                                           "email": "a@example.test", "password": "x" * 12})
        assert response.status_code == 400, path
    with csrf_app.app_context():
        assert audit.count() == before
    if email:  # still logged in: the refused logout did not log anybody out
        assert client.get("/notifications").status_code == 200


@pytest.mark.parametrize("role", ["anonymous", "buyer", "seller", "staff", "other_buyer"])
def test_no_get_route_changes_state(app, client, auth, world, role):
    if role != "anonymous":
        auth.login(world["users"][role].email)
    before = audit.count()
    for rule in html_rules(app, "GET"):
        client.get(fill(rule, world["args"])).close()
    assert audit.count() == before
