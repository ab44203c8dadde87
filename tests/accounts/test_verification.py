"""Registration verifies the e-mail address (issue 25 item 2): orders attach only to
confirmed addresses, the link is single-use for 24 hours and only its hash is stored, and
registration answers the same whether or not the address already has an account."""

import hashlib
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from accounts.models import EmailVerification, User
from arbiter import audit, clock, mail
from arbiter.audit import AuditEntry
from arbiter.errors import ValidationFailed
from arbiter.extensions import db
from arbiter.notifications import OutboxEmail
from orders.models import Order
from tests.factories import PASSWORD

NEW_PASSWORD = "violet submarine orchestra"


def _register(client, email, name="Nowa Osoba", password=NEW_PASSWORD):
    return client.post("/register", data={"name": name, "email": email,
                                          "password": password, "confirm": password})


def _emails(address, template=None) -> list[OutboxEmail]:
    query = select(OutboxEmail).where(OutboxEmail.to_address == address)
    if template:
        query = query.where(OutboxEmail.template == template)
    return list(db.session.scalars(query.order_by(OutboxEmail.id)))


def _link(address) -> str:
    """The path of the confirmation link in the last e-mail to ``address``, as sent."""
    text = mail.render(_emails(address, "email_verification")[-1]).text
    return re.search(r"/verify-email/[A-Za-z0-9_-]+", text).group(0)


def _confirm(client, path):
    assert client.get(path).status_code == 200
    return client.post(path)


def _push_order(api, integration_token, buyer_email, seller_email, external_id="ORD-V1"):
    return api.put(f"/api/v1/orders/{external_id}", token=integration_token, json={
        "buyer_email": buyer_email, "seller_email": seller_email, "item_title": "Lamp",
        "item_price": "123.45", "shipping_cost": "15.00", "payment_method": "platform_payments",
        "paid_at": (clock.now() - timedelta(days=1)).isoformat()})


def test_registration_answers_the_same_for_a_new_and_a_taken_address(client, create_user):
    owner = create_user("taken@example.com", name="Olga Owner", locale="pl")
    owner_hash = owner.password_hash

    new = _register(client, "fresh@example.com")
    taken = _register(client, "TAKEN@example.com")

    assert new.status_code == taken.status_code == 302
    assert new.headers["Location"] == taken.headers["Location"] == "/login"
    page_new = client.get("/login").text  # only the address differs in the message
    assert "We have sent an e-mail to fresh@example.com" in page_new
    _register(client, "TAKEN@example.com")
    assert "We have sent an e-mail to taken@example.com" in client.get("/login").text
    # the taken account is untouched, and no second account exists
    db.session.refresh(owner)
    assert owner.password_hash == owner_hash and owner.name == "Olga Owner"
    assert db.session.scalar(select(func.count(User.id)).where(
        User.email == "taken@example.com")) == 1
    # the owner is told, in their language; no link goes to a taken address
    warning = _emails("taken@example.com")[0]
    assert warning.template == "registration_attempt" and warning.locale == "pl"
    assert not _emails("taken@example.com", "email_verification")
    rendered = mail.render(warning)
    assert "Ktoś" in rendered.subject and "/login" in rendered.text
    # the new address gets the link, and its account is not confirmed yet
    fresh = db.session.scalar(select(User).where(User.email == "fresh@example.com"))
    assert fresh.verified_at is None
    assert [e.template for e in _emails("fresh@example.com")] == ["email_verification"]


def test_the_link_confirms_the_address_and_then_the_order_attaches(client, api, auth,
                                                                    integration_token, seller):
    _register(client, "kasia@example.com", name="Kasia Nowak")
    # someone who registered an address without opening the link gets nobody's orders
    refused = _push_order(api, integration_token, "kasia@example.com", seller.email)
    assert refused.status_code == 422
    assert refused.json["error"]["fields"] == {"buyer_email": ["unknown user"]}

    confirmed = _confirm(client, _link("kasia@example.com"))
    assert confirmed.status_code == 302 and confirmed.headers["Location"] == "/login"
    user = db.session.scalar(select(User).where(User.email == "kasia@example.com"))
    assert user.verified_at is not None
    assert _push_order(api, integration_token, user.email, seller.email).status_code == 201

    assert auth.login(user.email, NEW_PASSWORD).status_code == 302
    purchases = client.get("/purchases")
    assert purchases.status_code == 200 and "Lamp" in purchases.text
    assert "data-verification-banner" not in purchases.text


def test_an_unverified_account_logs_in_but_sees_only_its_account_pages(
        client, auth, api, create_user):
    person = create_user("waiting@example.com", verified=False)
    assert auth.login(person.email).status_code == 302
    account = client.get("/account")
    assert account.status_code == 200
    assert "data-verification-banner" in account.text and "Resend the link" in account.text
    for path in ("/purchases", "/sales", "/discussions", "/claims", "/seller/inbox"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"] == "/account", path
    # the API gives it no token
    answer = api.post("/api/v1/auth/tokens", json={"email": person.email,
                                                   "password": PASSWORD})
    assert answer.status_code == 403
    assert answer.json["error"]["code"] == "email_unverified"


def test_resending_replaces_the_link(client, auth, create_user):
    person = create_user("again@example.com", verified=False)
    auth.login(person.email)
    assert client.post("/account/verification").status_code == 302
    first = _link(person.email)
    assert client.post("/account/verification").status_code == 302
    second = _link(person.email)
    assert first != second
    assert _confirm(client, second).status_code == 302
    assert client.get(first).status_code == 410
    # once confirmed, there is nothing to resend
    assert client.post("/account/verification").status_code == 409


def test_the_link_works_once_and_for_24_hours(client, time_machine):
    time_machine.move_to("2026-06-01T10:00:00Z", tick=False)
    _register(client, "once@example.com")
    _register(client, "late@example.com")
    once, late = _link("once@example.com"), _link("late@example.com")
    assert _confirm(client, once).status_code == 302
    assert client.get(once).status_code == 410
    assert client.post(once).status_code == 410
    time_machine.move_to("2026-06-02T10:00:00Z", tick=False)  # 24 hours later
    assert client.get(late).status_code == 410
    assert db.session.scalar(select(User.verified_at).where(
        User.email == "late@example.com")) is None
    assert client.get("/verify-email/not-a-token").status_code == 404


def test_only_a_hash_of_the_token_is_stored(client):
    _register(client, "hash@example.com")
    token = _link("hash@example.com").rsplit("/", 1)[1]
    link = db.session.scalar(select(EmailVerification))
    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    email = _emails("hash@example.com")[0]
    assert token not in json.dumps(email.context)
    assert link.expires_at - link.created_at == timedelta(hours=24)


def test_registration_and_confirmation_are_audited(client):
    _register(client, "audit@example.com")
    _confirm(client, _link("audit@example.com"))
    actions = set(db.session.scalars(select(AuditEntry.action)))
    assert {"user.registered", "user.verification_sent", "user.email_verified"} <= actions
    assert audit.count() >= 3


def test_a_staff_invitation_confirms_the_address_of_the_account_it_reaches(create_user):
    from accounts import links, staff
    from accounts.roles import Role

    admin = create_user("boss@example.com", roles=[Role.ADMIN])
    person = create_user("later-staff@example.com", verified=False)
    staff.invite(admin, person.email, ["advisor"])
    nonce = db.session.scalar(select(OutboxEmail).where(
        OutboxEmail.template == "staff_invitation")).context["invitation_nonce"]
    staff.accept_as_member(links.token(staff.PURPOSE, nonce), person)
    assert person.verified_at is not None


@pytest.mark.parametrize("command", ["seed", "users"])
def test_accounts_made_by_the_command_line_and_the_seed_are_verified(app, db_session,
                                                                      command):
    if command == "users":
        result = app.test_cli_runner().invoke(
            args=["users", "create", "cli@example.test", "--password-stdin"],
            input=NEW_PASSWORD + "\n")
        assert result.exit_code == 0, result.output
    else:
        assert app.test_cli_runner().invoke(args=["seed"]).exit_code == 0
    assert db.session.scalar(select(func.count(User.id)).where(User.verified_at.is_(None))) == 0
    assert db.session.scalar(select(func.count(User.id))) > 0


def test_orders_count_only_for_confirmed_addresses(create_user, seller):
    from orders.services import upsert_order

    squatter = create_user("victim@example.com", verified=False)
    with pytest.raises(ValidationFailed) as refused:
        upsert_order({"external_id": "ORD-S", "buyer_email": squatter.email,
                      "seller_email": seller.email, "item_title": "Phone",
                      "item_price": 100_00, "shipping_cost": 0, "currency": "PLN",
                      "payment_method": "platform_payments",
                      "paid_at": clock.now() - timedelta(days=1)})
    assert refused.value.code == "unknown_user"
    assert db.session.scalar(select(func.count(Order.id))) == 0
