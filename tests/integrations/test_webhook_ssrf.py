"""Webhooks go only to public addresses (issue 25 item 7): checked at registration and again
at every delivery, connecting to the address checked, with failures shown as categories,
each delivery in a task of its own with a short timeout.

The tests' receiver listens on 127.0.0.1, which only tests asking for it
(``local_receiver_allowed``) may reach; every other test runs with the default setting,
which refuses loopback. The resolver (DNS) is the one thing stood in for: it is the true
external boundary a rebinding attack controls.
"""

import time

import pytest
from sqlalchemy import func, select

from arbiter import clock
from arbiter.extensions import db
from arbiter.sweeper import run_sweep
from arbiter.tasks import TaskRun, run_ready_tasks
from integrations import destinations, tokens
from integrations.models import (
    DeliveryFailure,
    DeliveryState,
    WebhookDelivery,
    WebhookEndpoint,
)
from tests.integrations.receiver import Receiver, sweep

HOSTILE = [
    "http://localhost/hook",
    "http://LOCALHOST/hook",
    "http://127.0.0.1:6379/",  # Redis
    "http://127.0.0.1:5432/",  # PostgreSQL
    "http://[::1]/hook",
    "http://2130706433/hook",
    "http://0x7f000001/hook",
    "http://127.1/hook",
    "http://0177.0.0.1/hook",
    "http://0.0.0.0/hook",
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fe80::1]/hook",
    "http://10.0.0.5/hook",
    "http://172.16.3.4/hook",
    "http://192.168.1.1/hook",
    "http://100.64.0.1/hook",
    "http://[fd00::1]/hook",
    "http://224.0.0.1/hook",
    "http://[ff02::1]/hook",
    "http://240.0.0.1/hook",
    "http://255.255.255.255/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:7f00:1]/hook",
    "http://[::]/hook",
    "https://127.0.0.1/hook",
]


class FakeDns:
    """Stands in for the resolver: names map to addresses the test changes at will."""

    def __init__(self, monkeypatch, answers: dict[str, str]):
        self.answers = dict(answers)
        self.lookups: list[str] = []
        real = destinations.resolve

        def resolve(host, port):
            self.lookups.append(host)
            if host in self.answers:
                return [destinations.ipaddress.ip_address(self.answers[host])]
            return real(host, port)

        monkeypatch.setattr(destinations, "resolve", resolve)


def _register(api, token, url):
    return api.post("/api/v1/webhooks", token=token, json={"url": url})


def _approved_endpoint(url: str, staff) -> WebhookEndpoint:
    """An endpoint registered and approved before this fix (or while a private network was
    allowed): the delivery must check again on its own."""
    endpoint = WebhookEndpoint(url=url, secret="whsec_test", description="", integration=None,
                               created_at=clock.now(), active=True, feed_position=0,
                               approved_by_id=staff.id, approved_at=clock.now())
    db.session.add(endpoint)
    db.session.commit()
    return endpoint


@pytest.mark.parametrize("url", HOSTILE)
def test_registration_refuses_non_public_addresses(api, integration_token, url):
    response = _register(api, integration_token, url)
    assert response.status_code == 422, (url, response.json)
    assert response.json["error"]["code"] == "refused_address"
    assert response.json["error"]["fields"] == {"url": ["refused_address"]}
    assert db.session.scalar(select(func.count(WebhookEndpoint.id))) == 0


def test_a_name_that_does_not_resolve_is_refused(api, integration_token, monkeypatch):
    def nowhere(host, port):
        raise OSError("Name or service not known")

    monkeypatch.setattr(destinations, "resolve", nowhere)
    response = _register(api, integration_token, "https://hooks.nowhere.test/x")
    assert response.status_code == 422
    assert response.json["error"]["fields"] == {"url": ["unresolvable"]}


def test_a_name_with_one_private_address_among_public_ones_is_refused(
        api, integration_token, monkeypatch):
    monkeypatch.setattr(destinations, "resolve", lambda host, port: [
        destinations.ipaddress.ip_address("93.184.216.34"),
        destinations.ipaddress.ip_address("10.1.2.3")])
    response = _register(api, integration_token, "https://mixed.example.test/x")
    assert response.status_code == 422 and response.json["error"]["code"] == "refused_address"


def test_a_public_name_registers(api, integration_token, monkeypatch):
    FakeDns(monkeypatch, {"hooks.example.test": "93.184.216.34"})
    response = _register(api, integration_token, "https://hooks.example.test/arbiter")
    assert response.status_code == 201


def test_every_hostile_form_is_refused_again_at_delivery(app, staff, create_order):
    """Endpoints pointing at the tests' receiver in every spelling of loopback: none of them
    reaches it, and the log says "refused address"."""
    server = Receiver()
    try:
        port = server.port
        urls = [f"http://{host}:{port}/hook" for host in (
            "localhost", "127.0.0.1", "[::1]", "2130706433", "0x7f000001", "127.1",
            "[::ffff:127.0.0.1]", "0.0.0.0")]  # noqa: S104 - must be refused
        endpoints = [_approved_endpoint(url, staff) for url in urls]
        create_order()
        db.session.commit()
        sweep()
        assert server.requests == []
        for endpoint in endpoints:
            delivery = db.session.scalar(select(WebhookDelivery).where(
                WebhookDelivery.endpoint_id == endpoint.id))
            assert delivery.attempts == 1, endpoint.url
            assert delivery.last_failure is DeliveryFailure.REFUSED_ADDRESS, endpoint.url
            assert delivery.state is DeliveryState.PENDING and delivery.last_status is None
    finally:
        server.close()


def test_dns_rebinding_is_refused_at_delivery(api, integration_token, staff_browser,
                                              create_order, monkeypatch):
    """Public when registered, loopback (where the receiver listens) when delivered."""
    server = Receiver()
    try:
        dns = FakeDns(monkeypatch, {"rebind.example.test": "93.184.216.34"})
        url = f"http://rebind.example.test:{server.port}/hook"
        endpoint = _register(api, integration_token, url).json
        assert staff_browser.post(
            f"/staff/webhooks/{endpoint['id']}/approve").status_code == 302
        dns.answers["rebind.example.test"] = "127.0.0.1"
        create_order()
        db.session.commit()
        sweep()
        assert server.requests == []
        delivery = db.session.scalar(select(WebhookDelivery))
        assert delivery.last_failure is DeliveryFailure.REFUSED_ADDRESS
        page = staff_browser.get("/staff/webhooks")
        assert "refused address" in page.text
    finally:
        server.close()


def test_the_connection_goes_to_the_checked_address_under_the_urls_name(
        api, integration_token, receiver, staff_browser, create_order, monkeypatch):
    """One lookup per delivery, and the Host header still names the URL's host."""
    dns = FakeDns(monkeypatch, {"receiver.example.test": "127.0.0.1"})
    url = f"http://receiver.example.test:{receiver.port}/hooks/arbiter"
    endpoint = _register(api, integration_token, url).json
    staff_browser.post(f"/staff/webhooks/{endpoint['id']}/approve")
    create_order()
    db.session.commit()
    dns.lookups.clear()
    sweep()
    assert len(receiver.requests) == 1
    assert receiver.requests[0]["headers"]["Host"] == f"receiver.example.test:{receiver.port}"
    assert dns.lookups == ["receiver.example.test"]  # checked once, never looked up again
    assert db.session.scalar(select(WebhookDelivery)).state is DeliveryState.DELIVERED


def test_the_allow_list_is_exact(app, api, integration_token, receiver):
    """127.0.0.1/32 is allowed for the receiver; the rest of loopback is not."""
    assert _register(api, integration_token, receiver.url).status_code == 201
    assert _register(api, integration_token, "http://127.0.0.2/hook").status_code == 422
    assert _register(api, integration_token, "http://[::1]/hook").status_code == 422


def _deliveries_api(api, token, endpoint_id):
    response = api.get(f"/api/v1/webhooks/{endpoint_id}/deliveries", token=token)
    assert response.status_code == 200, response.json
    return response.json


def test_failures_are_categories_in_the_log_and_the_api(
        app, api, integration_token, receiver, staff_browser, create_order):
    """connection refused, TLS error, HTTP 5xx, redirect: never the raw error text."""
    urls = {
        "connection_refused": "http://127.0.0.1:9/nothing-listens",
        "tls_error": f"https://127.0.0.1:{receiver.port}/plain-http",
        "http_5xx": receiver.url,
    }
    receiver.statuses = [503]
    ids = {}
    for name, url in urls.items():
        ids[name] = _register(api, integration_token, url).json["id"]
        staff_browser.post(f"/staff/webhooks/{ids[name]}/approve")
    create_order()
    db.session.commit()
    sweep()
    for name, endpoint_id in ids.items():
        [delivery] = _deliveries_api(api, integration_token, endpoint_id)
        assert delivery["last_failure"] == name, delivery
        assert delivery["state"] == "pending" and delivery["attempts"] == 1
    page = staff_browser.get("/staff/webhooks").text
    for label in ("connection refused", "TLS error", "HTTP 5xx (503)"):
        assert label in page
    for raw in ("Errno", "SSL", "Connection refused", "URLError", "WRONG_VERSION"):
        assert raw not in page


def test_a_slow_receiver_holds_its_own_task_not_the_sweep(
        app, api, integration_token, receiver, staff_browser, create_order):
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 0.5
    receiver.delay = 3
    try:
        endpoint = _register(api, integration_token, receiver.url).json
        staff_browser.post(f"/staff/webhooks/{endpoint['id']}/approve")
        create_order()
        create_order()
        db.session.commit()
        started = time.monotonic()
        results = run_sweep()
        assert time.monotonic() - started < 1.0  # nothing was sent during the sweep
        assert results["webhooks.deliver"] == 2 and receiver.requests == []
        runs = db.session.scalars(select(TaskRun.task).where(
            TaskRun.task == "integrations.deliver_webhook")).all()
        assert len(runs) == 2  # one task per delivery
        started = time.monotonic()
        run_ready_tasks()
        assert time.monotonic() - started < 2 * 3  # each gave up at its timeout
        failures = db.session.scalars(select(WebhookDelivery.last_failure)).all()
        assert failures == [DeliveryFailure.TIMEOUT, DeliveryFailure.TIMEOUT]
    finally:
        app.config["WEBHOOK_TIMEOUT_SECONDS"] = 5


def test_the_timeout_is_five_seconds_by_default(fresh_app):
    assert fresh_app().config["WEBHOOK_TIMEOUT_SECONDS"] == 5
    assert fresh_app().config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"] == []


def test_a_delivery_handed_out_twice_is_attempted_once(
        api, integration_token, receiver, staff_browser, create_order):
    from integrations import webhooks
    from integrations.tasks import deliver_webhook

    endpoint = _register(api, integration_token, receiver.url).json
    staff_browser.post(f"/staff/webhooks/{endpoint['id']}/approve")
    create_order()
    db.session.commit()
    sweep()
    delivery = db.session.scalar(select(WebhookDelivery))
    assert webhooks.attempt(delivery.id, 0) is None  # the same attempt again: nothing
    assert deliver_webhook.apply((delivery.id, 0)).result is None
    assert len(receiver.requests) == 1


def test_the_token_name_is_the_owner_of_what_it_registers(db_session, local_receiver_allowed):
    issued = tokens.create_integration_token("shop", scopes=["webhooks:manage"])
    from integrations import webhooks

    endpoint = webhooks.register("http://127.0.0.1:8080/x", token=issued.row)
    assert endpoint.integration == "shop"
