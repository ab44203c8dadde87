"""Webhooks against a real HTTP server on this machine: signed, retried, staff-approved."""

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from arbiter import clock
from arbiter.extensions import db
from integrations import webhooks
from integrations.models import DeliveryFailure, DeliveryState, WebhookDelivery, WebhookEndpoint
from tests.integrations.receiver import sweep


def _register(api, token, url):
    response = api.post("/api/v1/webhooks", token=token, json={"url": url, "description": "m"})
    assert response.status_code == 201, response.json
    return response.json


def _approve(staff_browser, endpoint_id):
    response = staff_browser.post(f"/staff/webhooks/{endpoint_id}/approve")
    assert response.status_code == 302


def _verify(secret: str, request: dict) -> dict:
    headers = request["headers"]
    timestamp = headers["X-Arbiter-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + request["body"],
                        hashlib.sha256).hexdigest()
    assert headers["X-Arbiter-Signature"] == f"sha256={expected}"
    assert abs(int(timestamp) - clock.now().timestamp()) < 120
    return json.loads(request["body"])


def test_events_are_posted_signed_to_an_approved_url(api, integration_token, receiver,
                                                     staff_browser, create_discussion):
    endpoint = _register(api, integration_token, receiver.url)
    assert endpoint["approved"] is False and endpoint["secret"].startswith("whsec_")
    create_discussion()  # before approval: never sent
    sweep()
    assert receiver.requests == []
    _approve(staff_browser, endpoint["id"])
    discussion = create_discussion()
    sweep()
    events = [_verify(endpoint["secret"], request) for request in receiver.requests]
    assert [event["type"] for event in events] == ["order.created", "discussion.opened"]
    assert events[1]["object_id"] == discussion.id and events[1]["state"] == "awaiting_seller"
    assert receiver.requests[1]["headers"]["X-Arbiter-Event-Id"] == str(events[1]["id"])
    assert receiver.requests[0]["path"] == "/hooks/arbiter"
    sweep()
    assert len(receiver.requests) == 2  # delivered once
    listed = api.get("/api/v1/webhooks", token=integration_token).json
    assert listed[0]["approved"] is True and "secret" not in listed[0]


def test_a_failure_is_retried_with_backoff_until_it_succeeds(
        api, integration_token, receiver, staff_browser, create_order, time_machine):
    start = clock.now()
    time_machine.move_to(start, tick=False)
    endpoint = _register(api, integration_token, receiver.url)
    _approve(staff_browser, endpoint["id"])
    receiver.statuses = [500, 503]
    create_order()
    sweep()
    delivery = db.session.scalar(select(WebhookDelivery))
    assert (delivery.state, delivery.attempts, delivery.last_status) == (
        DeliveryState.PENDING, 1, 500)
    assert delivery.next_attempt_at == start + timedelta(minutes=1)
    time_machine.move_to(start + timedelta(seconds=59), tick=False)
    sweep()
    assert len(receiver.requests) == 1  # not yet due
    time_machine.move_to(start + timedelta(minutes=1), tick=False)
    sweep()
    db.session.refresh(delivery)
    assert (delivery.attempts, delivery.last_status) == (2, 503)
    assert delivery.next_attempt_at == start + timedelta(minutes=3)  # then 2 minutes
    time_machine.move_to(start + timedelta(minutes=3), tick=False)
    sweep()
    db.session.refresh(delivery)
    assert (delivery.state, delivery.attempts, delivery.last_status) == (
        DeliveryState.DELIVERED, 3, 200)
    bodies = {request["body"] for request in receiver.requests}
    assert len(receiver.requests) == 3 and len(bodies) == 1  # the same event each time
    page = staff_browser.get("/staff/webhooks")
    assert page.status_code == 200
    assert "order.created" in page.text and receiver.url in page.text


def test_after_the_last_attempt_it_failed_and_staff_can_send_it_again(
        app, api, integration_token, receiver, staff_browser, create_order, time_machine):
    app.config["WEBHOOK_MAX_ATTEMPTS"] = 2
    try:
        start = clock.now()
        time_machine.move_to(start, tick=False)
        endpoint = _register(api, integration_token, receiver.url)
        _approve(staff_browser, endpoint["id"])
        receiver.statuses = [500, 500]
        create_order()
        sweep()
        time_machine.move_to(start + timedelta(minutes=1), tick=False)
        sweep()
        delivery = db.session.scalar(select(WebhookDelivery))
        assert delivery.state is DeliveryState.FAILED
        page = staff_browser.get("/staff/webhooks")
        assert "HTTP 5xx (500)" in page.text and "Send again" in page.text
        # End this test's own read transaction (a savepoint in the harness) first, or the
        # sweeper's rollback below would also roll back the staff request nested in it.
        delivery_id = delivery.id
        db.session.commit()
        assert staff_browser.post(
            f"/staff/webhooks/deliveries/{delivery_id}/retry").status_code == 302
        sweep()
        db.session.refresh(delivery)
        assert delivery.state is DeliveryState.DELIVERED
    finally:
        app.config["WEBHOOK_MAX_ATTEMPTS"] = 10


def test_redirects_are_not_followed(api, integration_token, receiver, staff_browser,
                                    create_order):
    endpoint = _register(api, integration_token, receiver.url)
    _approve(staff_browser, endpoint["id"])
    receiver.statuses = [302]
    create_order()
    sweep()
    delivery = db.session.scalar(select(WebhookDelivery))
    assert (delivery.state, delivery.last_status) == (DeliveryState.PENDING, 302)
    assert len(receiver.requests) == 1


def test_an_unreachable_url_records_the_error(api, integration_token, staff_browser,
                                              create_order, local_receiver_allowed):
    endpoint = _register(api, integration_token, "http://127.0.0.1:9/nothing-listens")
    _approve(staff_browser, endpoint["id"])
    create_order()
    sweep()
    delivery = db.session.scalar(select(WebhookDelivery))
    assert delivery.state is DeliveryState.PENDING and delivery.last_status is None
    assert delivery.last_failure is DeliveryFailure.CONNECTION_REFUSED


def test_a_deactivated_endpoint_receives_nothing(api, integration_token, receiver,
                                                 staff_browser, create_order):
    endpoint = _register(api, integration_token, receiver.url)
    _approve(staff_browser, endpoint["id"])
    assert api.delete(f"/api/v1/webhooks/{endpoint['id']}",
                      token=integration_token).status_code == 204
    create_order()
    sweep()
    assert receiver.requests == []


@pytest.mark.parametrize("url", ["ftp://example.test/x", "file:///etc/passwd", "not a url",
                                 "http://user:pw@example.test/", "javascript:alert(1)"])
def test_only_http_urls_are_registered(api, integration_token, url):
    response = api.post("/api/v1/webhooks", token=integration_token, json={"url": url})
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"url": ["invalid"]}


def test_webhooks_are_for_the_integration_and_the_page_for_staff(
        api, token_for, buyer, client, auth):
    assert api.post("/api/v1/webhooks", token=token_for(buyer),
                    json={"url": "http://127.0.0.1/"}).status_code == 403
    assert client.get("/staff/webhooks").status_code == 302  # to the login page
    auth.login(buyer.email)
    assert client.get("/staff/webhooks").status_code == 403


def test_approving_twice_is_409(staff_browser, db_session, staff, local_receiver_allowed):
    endpoint = webhooks.register("http://127.0.0.1:1/x")
    webhooks.approve(endpoint, staff)
    db.session.commit()
    assert staff_browser.post(f"/staff/webhooks/{endpoint.id}/approve").status_code == 409
    assert db.session.get(WebhookEndpoint, endpoint.id).approved_by_id == staff.id
