"""Webhooks: events POSTed to the URLs the marketplace registered and staff approved.

Two sweeper jobs (see :func:`arbiter.sweeper.run_sweep`) do the work:

- ``webhooks.fan_out``: for each approved, active endpoint, one delivery row per event
  after the endpoint's ``last_event_id`` (the event feed's cursor, so none is missed or
  doubled; a UNIQUE (endpoint, event) backs that up);
- ``webhooks.deliver``: POSTs due deliveries. A 2xx answer delivers; anything else is
  retried after 1, 2, 4 … 60 minutes, up to ``WEBHOOK_MAX_ATTEMPTS`` tries, then the
  delivery has failed (staff see it at /staff/webhooks and can send it again).

Each request carries ``X-Arbiter-Timestamp`` (Unix seconds) and
``X-Arbiter-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the
endpoint's secret>``. Redirects are not followed: delivery goes only to the approved URL.
Delivery is at-least-once (a crash after the receiver's 2xx and before our commit sends
that event again); receivers deduplicate by ``X-Arbiter-Event-Id``.
"""

import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.request
from datetime import datetime
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from arbiter import audit, clock
from arbiter.audit import AuditEntry
from arbiter.errors import TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.mail import backoff
from integrations import events
from integrations.models import DeliveryState, WebhookDelivery, WebhookEndpoint

FAN_OUT_BATCH = 200


# --- registration and approval -------------------------------------------------------------


def validate_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if (parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000
            or parts.username or parts.password):
        raise ValidationFailed(_("Give an http or https URL without a user name or password."),
                               code="invalid_url", fields={"url": ["invalid"]})
    return url


def register(url: str, description: str = "", *, token=None) -> WebhookEndpoint:
    """The marketplace registers a URL; nothing is sent to it until staff approve it."""
    endpoint = WebhookEndpoint(
        url=validate_url(url), secret="whsec_" + secrets.token_hex(24),
        description=(description or "").strip()[:200], created_at=clock.now(),
        created_by_token_id=token.id if token is not None else None, active=True,
        last_event_id=0)
    db.session.add(endpoint)
    db.session.flush()
    audit.record("webhook_endpoint.registered", endpoint, after={"url": endpoint.url})
    return endpoint


def approve(endpoint: WebhookEndpoint, staff) -> None:
    """Staff approve the URL; it receives the events that happen from now on."""
    if endpoint.approved_at is not None:
        raise TransitionNotAllowed(_("This endpoint is already approved."),
                                   code="already_approved")
    endpoint.approved_by_id = staff.id
    endpoint.approved_at = clock.now()
    endpoint.active = True
    endpoint.last_event_id = events.latest_event_id()
    audit.record("webhook_endpoint.approved", endpoint, actor=staff,
                 after={"url": endpoint.url, "from_event_id": endpoint.last_event_id})


def deactivate(endpoint: WebhookEndpoint, actor=None) -> None:
    if not endpoint.active:
        return
    endpoint.active = False
    audit.record("webhook_endpoint.deactivated", endpoint, actor=actor,
                 after={"url": endpoint.url})


def retry(delivery: WebhookDelivery) -> None:
    """Staff send a failed delivery again."""
    if delivery.state is not DeliveryState.FAILED:
        raise TransitionNotAllowed(_("Only a failed delivery can be sent again."),
                                   code="delivery_not_failed")
    delivery.state = DeliveryState.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = clock.now()


# --- signing ---------------------------------------------------------------------------------


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def body_for(entry: AuditEntry) -> bytes:
    event = events.as_event(entry)
    event["occurred_at"] = event["occurred_at"].isoformat()
    return json.dumps(event, separators=(",", ":"), sort_keys=True).encode()


# --- the sweeper jobs ------------------------------------------------------------------------


def _delivering():
    return WebhookEndpoint.active.is_(True) & WebhookEndpoint.approved_at.is_not(None)


def endpoints_behind(now: datetime):
    newest = events.latest_event_id_query().scalar_subquery()
    return (select(WebhookEndpoint)
            .where(_delivering(), WebhookEndpoint.last_event_id < newest)
            .order_by(WebhookEndpoint.id))


def fan_out(endpoint: WebhookEndpoint, now: datetime) -> None:
    batch = events.events_after(endpoint.last_event_id, FAN_OUT_BATCH)
    for entry in batch:
        db.session.add(WebhookDelivery(endpoint_id=endpoint.id, event_id=entry.id,
                                       state=DeliveryState.PENDING, attempts=0,
                                       next_attempt_at=now, created_at=now))
    if batch:
        endpoint.last_event_id = batch[-1].id


def due_deliveries(now: datetime):
    # A subquery, not a join: the sweeper's FOR UPDATE must lock deliveries only.
    delivering = select(WebhookEndpoint.id).where(_delivering())
    return (select(WebhookDelivery)
            .where(WebhookDelivery.state == DeliveryState.PENDING,
                   WebhookDelivery.next_attempt_at <= now,
                   WebhookDelivery.endpoint_id.in_(delivering))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id))


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None  # a 3xx is an answer (a failed delivery), never a new destination


def _post(url: str, body: bytes, headers: dict, timeout: float) -> int:
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError("only http and https URLs are delivered to")
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked just above
        url, data=body, method="POST", headers=headers)
    opener = urllib.request.build_opener(_NoRedirects)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def deliver(delivery: WebhookDelivery, now: datetime) -> None:
    """One attempt: POST the signed event, record the outcome, schedule a retry."""
    endpoint = delivery.endpoint
    entry = db.session.get(AuditEntry, delivery.event_id)
    body = body_for(entry)
    timestamp = str(int(clock.now().timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Arbiter-Webhooks/1",
        "X-Arbiter-Event-Id": str(entry.id),
        "X-Arbiter-Delivery-Id": str(delivery.id),
        "X-Arbiter-Timestamp": timestamp,
        "X-Arbiter-Signature": signature(endpoint.secret, timestamp, body),
    }
    delivery.attempts += 1
    try:
        status = _post(endpoint.url, body, headers,
                       float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"]))
    except (OSError, ValueError) as error:  # refused, timed out, DNS, bad URL
        delivery.last_status = None
        delivery.last_error = f"{type(error).__name__}: {error}"[:500]
    else:
        delivery.last_status = status
        if 200 <= status < 300:
            delivery.state = DeliveryState.DELIVERED
            delivery.delivered_at = clock.now()
            delivery.last_error = None
            return
        delivery.last_error = f"HTTP {status}"
    if delivery.attempts >= int(current_app.config["WEBHOOK_MAX_ATTEMPTS"]):
        delivery.state = DeliveryState.FAILED
    else:
        delivery.next_attempt_at = now + backoff(delivery.attempts)
