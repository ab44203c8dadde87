"""The staff page of webhooks: endpoints to approve, and the delivery log."""

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from accounts.auth import role_required
from accounts.roles import Role
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from integrations import webhooks
from integrations.models import DeliveryFailure, WebhookDelivery, WebhookEndpoint

bp = Blueprint("integrations", __name__)
LOG_ROWS = 200
# The delivery log names why a try failed, never the raw error (it could name internal
# addresses or echo what the receiver said).
FAILURE_LABELS = {
    DeliveryFailure.CONNECTION_REFUSED: _l("connection refused"),
    DeliveryFailure.TIMEOUT: _l("timeout"),
    DeliveryFailure.TLS_ERROR: _l("TLS error"),
    DeliveryFailure.REFUSED_ADDRESS: _l("refused address"),
    DeliveryFailure.DNS_ERROR: _l("host name does not resolve"),
    DeliveryFailure.CONNECTION_ERROR: _l("connection error"),
    DeliveryFailure.REDIRECT: _l("redirect (not followed)"),
    DeliveryFailure.HTTP_4XX: _l("HTTP 4xx"),
    DeliveryFailure.HTTP_5XX: _l("HTTP 5xx"),
}


@bp.route("/staff/webhooks")
@role_required(Role.ADMIN)
def webhook_log():
    """Registered endpoints (approve them here) and the latest deliveries."""
    endpoints = db.session.scalars(
        select(WebhookEndpoint).options(joinedload(WebhookEndpoint.approved_by))
        .order_by(WebhookEndpoint.id)).all()
    deliveries = db.session.execute(
        select(WebhookDelivery, AuditEntry.action)
        .join(AuditEntry, AuditEntry.id == WebhookDelivery.event_id)
        .options(joinedload(WebhookDelivery.endpoint))
        .order_by(WebhookDelivery.id.desc()).limit(LOG_ROWS)).all()
    return render_template("integrations/webhooks.html", endpoints=endpoints,
                           deliveries=deliveries, failure_labels=FAILURE_LABELS)


def _endpoint(endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        abort(404)
    return endpoint


@bp.route("/staff/webhooks/<int:endpoint_id>/approve", methods=["POST"])
@role_required(Role.ADMIN)
def approve(endpoint_id: int):
    """Approve a URL: it receives the events from now on."""
    webhooks.approve(_endpoint(endpoint_id), current_user._get_current_object())
    flash(_("The endpoint is approved; events from now on are sent to it."), "success")
    return redirect(url_for("integrations.webhook_log"))


@bp.route("/staff/webhooks/<int:endpoint_id>/deactivate", methods=["POST"])
@role_required(Role.ADMIN)
def deactivate(endpoint_id: int):
    """Stop sending events to a URL."""
    webhooks.deactivate(_endpoint(endpoint_id), current_user._get_current_object())
    flash(_("Nothing more is sent to this endpoint."), "info")
    return redirect(url_for("integrations.webhook_log"))


@bp.route("/staff/webhooks/deliveries/<int:delivery_id>/retry", methods=["POST"])
@role_required(Role.ADMIN)
def retry(delivery_id: int):
    """Send a failed delivery again."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None:
        abort(404)
    webhooks.retry(delivery)
    flash(_("The delivery will be tried again."), "success")
    return redirect(url_for("integrations.webhook_log"))
