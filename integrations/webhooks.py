"""Webhooks: events POSTed to the URLs the marketplace registered and staff approved.

Two sweeper jobs (see :func:`arbiter.sweeper.run_sweep`) do the work:

- ``webhooks.fan_out``: for each approved, active endpoint, one delivery row per event
  past the endpoint's ``feed_position`` (the event feed's cursor, so none is missed or
  doubled; a UNIQUE (endpoint, event) backs that up);
- ``webhooks.deliver``: hands each due delivery to a task of its own
  (``integrations.deliver_webhook``, queued after the sweep's commit), so a slow receiver
  holds one task for at most ``WEBHOOK_TIMEOUT_SECONDS``, never the sweep. A 2xx answer
  delivers; anything else is retried after 1, 2, 4 … 60 minutes, up to
  ``WEBHOOK_MAX_ATTEMPTS`` tries, then the delivery has failed (staff see it at
  /staff/webhooks and can send it again; the integration at
  ``GET /api/v1/webhooks/{id}/deliveries``). Why a try failed is kept as a category
  (:class:`integrations.models.DeliveryFailure`), never as the raw error text.

Each request carries ``X-Arbiter-Timestamp`` (Unix seconds) and
``X-Arbiter-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the
endpoint's secret>``. The URL must lead to a public address, at registration and at each
delivery, and the connection goes to the address checked (:mod:`integrations.destinations`).
Redirects are not followed: delivery goes only to the approved URL.
Delivery is at-least-once (a crash after the receiver's 2xx and before our commit sends
that event again); receivers deduplicate by ``X-Arbiter-Event-Id``.
"""

import hashlib
import hmac
import json
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from arbiter import audit, clock
from arbiter.audit import AuditEntry
from arbiter.errors import NotFound, TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.mail import backoff
from integrations import destinations, events
from integrations.models import (
    DeliveryFailure,
    DeliveryState,
    WebhookDelivery,
    WebhookEndpoint,
)

FAN_OUT_BATCH = 200
# A delivery handed to its task is not handed out again for this long: the task runs
# long before (a lost one is sent again by arbiter.tasks after 2 minutes).
DISPATCH_LEASE = timedelta(minutes=20)


# --- registration and approval -------------------------------------------------------------


def validate_url(url: str) -> str:
    url = (url or "").strip()
    parts = urlsplit(url)
    if (parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000
            or parts.username or parts.password):
        raise ValidationFailed(_("Give an http or https URL without a user name or password."),
                               code="invalid_url", fields={"url": ["invalid"]})
    return url


def allowed_networks() -> list:
    return destinations.allowed_networks(current_app.config["WEBHOOK_ALLOW_PRIVATE_NETWORKS"])


def check_destination(url: str) -> None:
    """Refuse (422) a URL whose host does not resolve, or resolves to an address that is
    not public."""
    try:
        destinations.check(url, allowed_networks())
    except destinations.Refused as refusal:
        if refusal.failure is DeliveryFailure.DNS_ERROR:
            raise ValidationFailed(_("The URL's host name does not resolve."),
                                   code="unresolvable_url",
                                   fields={"url": ["unresolvable"]}) from None
        raise ValidationFailed(
            _("The URL leads to a private, local or reserved address; webhooks go only to "
              "public addresses."),
            code="refused_address", fields={"url": ["refused_address"]}) from None


def register(url: str, description: str = "", *, token=None) -> WebhookEndpoint:
    """The integration registers a URL (it alone manages it); nothing is sent to it until
    staff approve it."""
    url = validate_url(url)
    check_destination(url)
    endpoint = WebhookEndpoint(
        url=url, secret="whsec_" + secrets.token_hex(24),
        description=(description or "").strip()[:200], created_at=clock.now(),
        created_by_token_id=token.id if token is not None else None,
        integration=token.name if token is not None else None, active=True,
        feed_position=0)
    db.session.add(endpoint)
    db.session.flush()
    audit.record("webhook_endpoint.registered", endpoint, after={"url": endpoint.url})
    return endpoint


def owned(endpoint_id: int, integration: str) -> WebhookEndpoint:
    """The integration's own endpoint; another integration's is not there (404)."""
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.integration != integration:
        raise NotFound(_("There is nothing here."))
    return endpoint


def approve(endpoint: WebhookEndpoint, staff) -> None:
    """Staff approve the URL; it receives the events that happen from now on."""
    if endpoint.approved_at is not None:
        raise TransitionNotAllowed(_("This endpoint is already approved."),
                                   code="already_approved")
    endpoint.approved_by_id = staff.id
    endpoint.approved_at = clock.now()
    endpoint.active = True
    endpoint.feed_position = events.latest_position()
    audit.record("webhook_endpoint.approved", endpoint, actor=staff,
                 after={"url": endpoint.url, "from_position": endpoint.feed_position})


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
    delivery.last_failure = None


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
    newest = events.latest_position_query().scalar_subquery()
    return (select(WebhookEndpoint)
            .where(_delivering(), WebhookEndpoint.feed_position < newest)
            .order_by(WebhookEndpoint.id))


def fan_out(endpoint: WebhookEndpoint, now: datetime) -> None:
    batch = events.events_after(endpoint.feed_position, FAN_OUT_BATCH)
    for event in batch:
        db.session.add(WebhookDelivery(endpoint_id=endpoint.id, event_id=event.entry.id,
                                       state=DeliveryState.PENDING, attempts=0,
                                       next_attempt_at=now, created_at=now))
    if batch:
        endpoint.feed_position = batch[-1].position


def due_deliveries(now: datetime):
    # A subquery, not a join: the sweeper's FOR UPDATE must lock deliveries only.
    delivering = select(WebhookEndpoint.id).where(_delivering())
    return (select(WebhookDelivery)
            .where(WebhookDelivery.state == DeliveryState.PENDING,
                   WebhookDelivery.next_attempt_at <= now,
                   WebhookDelivery.endpoint_id.in_(delivering))
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id))


def deliver(delivery: WebhookDelivery, now: datetime) -> None:
    """Sweeper job: hand the delivery to a task of its own, run after the sweep's commit.

    The task is told which attempt it makes: a second hand-out of the same attempt (after
    the lease) finds the count moved on and does nothing."""
    from arbiter.tasks import enqueue_after_commit
    from integrations.tasks import deliver_webhook

    delivery.next_attempt_at = now + DISPATCH_LEASE
    enqueue_after_commit(deliver_webhook, delivery.id, delivery.attempts)


def _request(delivery: WebhookDelivery) -> tuple[bytes, dict]:
    entry = db.session.get(AuditEntry, delivery.event_id)
    body = body_for(entry)
    timestamp = str(int(clock.now().timestamp()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Arbiter-Webhooks/1",
        "X-Arbiter-Event-Id": str(entry.id),
        "X-Arbiter-Delivery-Id": str(delivery.id),
        "X-Arbiter-Timestamp": timestamp,
        "X-Arbiter-Signature": signature(delivery.endpoint.secret, timestamp, body),
    }
    return body, headers


def _send(url: str, body: bytes, headers: dict) -> tuple[int | None, DeliveryFailure | None]:
    """One POST: the status (if any) and the failure's category (None: delivered)."""
    timeout = float(current_app.config["WEBHOOK_TIMEOUT_SECONDS"])
    try:
        # Checked again now: the name may resolve elsewhere than at registration.
        destination = destinations.check(url, allowed_networks())
        status = destinations.post(destination, body, headers, timeout)
    except destinations.Refused as refusal:
        return None, refusal.failure
    return status, destinations.status_failure(status)


def attempt(delivery_id: int, attempts: int) -> DeliveryState | None:
    """The task: make attempt number ``attempts + 1`` of the delivery, unless it was made
    already, the delivery is no longer pending or its endpoint no longer delivering.

    The row is locked only to take the attempt and to record its outcome, not while the
    receiver answers (at most ``WEBHOOK_TIMEOUT_SECONDS`` per connect, send or read)."""
    delivery = db.session.scalar(select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id).with_for_update())
    if (delivery is None or delivery.state is not DeliveryState.PENDING
            or delivery.attempts != attempts or not delivery.endpoint.delivering):
        db.session.rollback()
        return None
    delivery.attempts += 1
    # Until the outcome is recorded, the next try waits its back-off: a worker that dies
    # mid-request is followed by a retry, not by nothing.
    delivery.next_attempt_at = clock.now() + backoff(delivery.attempts)
    url = delivery.endpoint.url
    body, headers = _request(delivery)
    db.session.commit()

    status, failure = _send(url, body, headers)

    delivery = db.session.scalar(select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id).with_for_update())
    if delivery is None:  # its endpoint was deleted meanwhile
        db.session.rollback()
        return None
    delivery.last_status = status
    delivery.last_failure = failure
    if failure is None:
        delivery.state = DeliveryState.DELIVERED
        delivery.delivered_at = clock.now()
    elif delivery.attempts >= int(current_app.config["WEBHOOK_MAX_ATTEMPTS"]):
        delivery.state = DeliveryState.FAILED
    db.session.commit()
    return delivery.state
