"""API endpoints of the integration itself: tokens, state machines, events, webhooks."""

import marshmallow as ma
from flask_babel import gettext as _
from sqlalchemy import select

from accounts import second_factor, verification
from accounts import services as accounts
from accounts.throttle import sign_in_succeeded, sign_in_throttle
from arbiter.api import Blueprint as ApiBlueprint
from arbiter.api import InSchema, OutSchema
from arbiter.errors import DomainError
from arbiter.extensions import db
from arbiter.schema_messages import number_range
from integrations import auth, events, machines, tokens, webhooks
from integrations.models import (
    DeliveryFailure,
    DeliveryState,
    Scope,
    WebhookDelivery,
    WebhookEndpoint,
)

blp = ApiBlueprint("Integration", __name__, url_prefix="/api/v1",
                   description="Tokens, the state machines, the event feed and webhooks.")


# --- tokens -------------------------------------------------------------------------------


class InvalidCredentials(DomainError):
    status = 401
    code = "invalid_credentials"


class TokenRequest(InSchema):
    email = ma.fields.String(required=True, load_only=True,
                             validate=ma.validate.Length(min=1, max=254))
    password = ma.fields.String(required=True, load_only=True,
                                validate=ma.validate.Length(min=1, max=256))
    name = ma.fields.String(load_default="api", load_only=True,
                            validate=ma.validate.Length(min=1, max=100),
                            metadata={"description": "what the token is for (shown to you)"})
    otp = ma.fields.String(load_default=None, load_only=True,
                           validate=ma.validate.Length(min=1, max=32), metadata={
                               "description": "staff only (required for them): the code "
                                              "their authenticator app shows now, or one of "
                                              "their recovery codes",
                               "example": "123456"})


class TokenOut(OutSchema):
    token = ma.fields.String(required=True, metadata={"description": "shown only now"})
    token_type = ma.fields.String(required=True, metadata={"example": "Bearer"})
    expires_at = ma.fields.AwareDateTime(required=True)


@blp.route("/auth/tokens", methods=["POST"])
@sign_in_throttle
@blp.arguments(TokenRequest)
@blp.response(201, TokenOut)
def create_token(data):
    """Exchange e-mail and password for a user token (throttled like the browser login).

    Staff also send ``otp``, a code from their authenticator app (or a recovery code): 401
    without it or for a wrong or reused one (counted like a wrong password), 403 while they
    have not set up the app (in the browser). Not idempotent by key: the answer holds a
    secret that is never stored."""
    user = accounts.authenticate(data["email"], data["password"])
    if user is None:
        raise InvalidCredentials(_("Unknown e-mail address or wrong password."))
    refusal = verification.token_refusal(user)
    if refusal is not None:  # only after the password: the answer reveals nothing to others
        raise refusal
    if second_factor.required(user):
        if not data["otp"]:
            raise second_factor.CodeRefused(
                _("Staff accounts need a second factor: send the code your authenticator "
                  "app shows now in the field otp."),
                code="second_factor_required", fields={"otp": ["required"]})
        try:
            second_factor.verify(user, data["otp"])
        except second_factor.CodeRefused as refusal:
            raise second_factor.CodeRefused(refusal.message,
                                            fields={"otp": ["refused"]}) from None
    issued = tokens.issue_user_token(user, data["name"])
    sign_in_succeeded(user.email)
    return {"token": issued.token, "token_type": "Bearer", "expires_at": issued.row.expires_at}


@blp.route("/auth/tokens/current", methods=["DELETE"])
@auth.token_required(None)  # any token may revoke itself
@blp.response(204)
def revoke_current_token():
    """Revoke the token this request carries; it is worthless afterwards."""
    tokens.revoke(auth.current_caller().token)


# --- state machines -----------------------------------------------------------------------


class TransitionOut(OutSchema):
    action = ma.fields.String(required=True)
    from_ = ma.fields.List(ma.fields.String(), required=True, data_key="from")
    to = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "the state after it; null: the state stays (e.g. submit_proof)"})
    actor = ma.fields.String(required=True, metadata={"description": "who may take it"})
    timer = ma.fields.String(allow_none=True, required=True,
                             metadata={"description": "the deadline that must have passed"})
    starts = ma.fields.String(allow_none=True, required=True,
                              metadata={"description": "the deadline this step starts"})


class MachineOut(OutSchema):
    states = ma.fields.List(ma.fields.String(), required=True)
    terminal_states = ma.fields.List(ma.fields.String(), required=True)
    transitions = ma.fields.List(ma.fields.Nested(TransitionOut), required=True)


class MachinesOut(OutSchema):
    discussion = ma.fields.Nested(MachineOut, required=True)
    claim = ma.fields.Nested(MachineOut, required=True)
    settlement = ma.fields.Nested(MachineOut, required=True)
    appeal = ma.fields.Nested(MachineOut, required=True)


@blp.route("/state-machines", methods=["GET"])
@blp.response(200, MachinesOut)
def state_machines():
    """The discussion, claim, settlement and appeal state machines, generated from the
    code's own tables."""
    data = machines.machines()
    for machine in data.values():
        for step in machine["transitions"]:
            step["from_"] = step.pop("from")
    return data


# --- events -------------------------------------------------------------------------------


class EventsQuery(InSchema):
    after = ma.fields.Integer(load_default=0, validate=number_range(0, 2**62),
                              metadata={"description": "the next_cursor you were given"})
    limit = ma.fields.Integer(load_default=100, validate=number_range(1, 500))


class EventOut(OutSchema):
    id = ma.fields.Integer(required=True, metadata={
        "description": "the event's audit entry (the same in its webhook)"})
    type = ma.fields.String(required=True, metadata={"example": "discussion.escalate"})
    object_type = ma.fields.String(required=True, metadata={"example": "discussion"})
    object_id = ma.fields.Integer(required=True)
    occurred_at = ma.fields.AwareDateTime(required=True)
    state = ma.fields.String(allow_none=True, required=True,
                             metadata={"description": "the object's state after the event"})


class EventsOut(OutSchema):
    events = ma.fields.List(ma.fields.Nested(EventOut), required=True)
    next_cursor = ma.fields.Integer(required=True, metadata={
        "description": "pass as ?after= next time; unchanged when there was nothing new. "
                       "Events appear in the order of the audit log's Merkle tree, once the "
                       "sequencer has added them (within seconds)"})


@blp.route("/events", methods=["GET"])
@auth.token_required(Scope.EVENTS_READ)
@blp.arguments(EventsQuery, location="query")
@blp.response(200, EventsOut)
def event_feed(query):
    """Every change to orders, discussions, claims, appeals and settlement rows, oldest
    first, after a cursor.

    Integration tokens see every event; user tokens only those about their own orders,
    discussions, claims, appeals and settlement rows."""
    user = auth.current_caller().user
    batch = events.events_after(query["after"], query["limit"],
                                user_id=user.id if user is not None else None)
    return {"events": [events.as_event(event.entry) for event in batch],
            "next_cursor": batch[-1].position if batch else query["after"]}


# --- webhooks -----------------------------------------------------------------------------


# The URLs webhooks.validate_url takes, as the document states them (the schema checks
# this first, so the document and the answers agree): http or https, a host name or IPv4
# address, an optional port, no user name or password, no spaces. The field's message is
# validate_url's ("invalid").
# The host: a name or IPv4 address, or an IPv6 literal in brackets (the SSRF check then
# refuses the non-public ones by their address, with its own answer).
WEBHOOK_URL_PATTERN = (r"^[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9._~%!$&'()*+,;=-]+|\[[0-9A-Fa-f:.]+\])"
                       r"(:[0-9]{1,5})?"
                       r"([/?#][\x21-\x7e]*)?$")


class WebhookIn(InSchema):
    url = ma.fields.String(
        required=True, metadata={"format": "uri"},
        validate=[ma.validate.Length(min=1, max=2000),
                  ma.validate.Regexp(WEBHOOK_URL_PATTERN, error="invalid")])
    description = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))


class WebhookOut(OutSchema):
    id = ma.fields.Integer(required=True)
    url = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    approved = ma.fields.Boolean(required=True)
    active = ma.fields.Boolean(required=True)
    created_at = ma.fields.AwareDateTime(required=True)


class WebhookCreatedOut(WebhookOut):
    secret = ma.fields.String(required=True, metadata={
        "description": "the HMAC-SHA256 key of X-Arbiter-Signature; shown only now"})


def _webhook_json(endpoint, *, secret: bool = False) -> dict:
    data = {"id": endpoint.id, "url": endpoint.url, "description": endpoint.description,
            "approved": endpoint.approved_at is not None, "active": endpoint.active,
            "created_at": endpoint.created_at}
    if secret:
        data["secret"] = endpoint.secret
    return data


def _integration() -> str:
    return auth.current_caller().integration


@blp.route("/webhooks", methods=["POST"])
@auth.integration_required(Scope.WEBHOOKS_MANAGE)
@blp.arguments(WebhookIn)
@blp.response(201, WebhookCreatedOut)
def register_webhook(data):
    """Register a URL for events; nothing is sent to it until staff approve it.

    The URL's host must resolve to public addresses only (422 ``refused_address`` for
    loopback, private, link-local, metadata, reserved or multicast ones; 422
    ``unresolvable_url`` for a name that does not resolve). The endpoint is this
    integration's: no other integration sees or changes it."""
    endpoint = webhooks.register(data["url"], data["description"],
                                 token=auth.current_caller().token)
    return _webhook_json(endpoint, secret=True)


@blp.route("/webhooks", methods=["GET"])
@auth.integration_required(Scope.WEBHOOKS_MANAGE)
@blp.response(200, WebhookOut(many=True))
def list_webhooks():
    """This integration's registered URLs, with whether staff approved them."""
    rows = db.session.scalars(select(WebhookEndpoint)
                              .where(WebhookEndpoint.integration == _integration())
                              .order_by(WebhookEndpoint.id))
    return [_webhook_json(row) for row in rows]


@blp.route("/webhooks/<id:endpoint_id>", methods=["DELETE"])
@auth.integration_required(Scope.WEBHOOKS_MANAGE)
@blp.response(204)
def deactivate_webhook(endpoint_id: int):
    """Stop sending events to this URL (404 for another integration's)."""
    webhooks.deactivate(webhooks.owned(endpoint_id, _integration()))


class DeliveriesQuery(InSchema):
    limit = ma.fields.Integer(load_default=50, validate=number_range(1, 200))


class DeliveryOut(OutSchema):
    id = ma.fields.Integer(required=True)
    event_id = ma.fields.Integer(required=True)
    state = ma.fields.Enum(DeliveryState, by_value=True, required=True)
    attempts = ma.fields.Integer(required=True)
    last_status = ma.fields.Integer(required=True, allow_none=True,
                                    metadata={"description": "HTTP status of the last try"})
    last_failure = ma.fields.Enum(DeliveryFailure, by_value=True, required=True,
                                  allow_none=True,
                                  metadata={"description": "why the last try failed"})
    next_attempt_at = ma.fields.AwareDateTime(required=True)
    delivered_at = ma.fields.AwareDateTime(required=True, allow_none=True)


@blp.route("/webhooks/<id:endpoint_id>/deliveries", methods=["GET"])
@auth.integration_required(Scope.WEBHOOKS_MANAGE)
@blp.arguments(DeliveriesQuery, location="query")
@blp.response(200, DeliveryOut(many=True))
def webhook_deliveries(query, endpoint_id: int):
    """The latest deliveries to this URL, newest first, with why the last try failed as a
    category (``connection_refused``, ``timeout``, ``tls_error``, ``refused_address``,
    ``dns_error``, ``connection_error``, ``redirect``, ``http_4xx``, ``http_5xx``)."""
    endpoint = webhooks.owned(endpoint_id, _integration())
    return list(db.session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.id.desc()).limit(query["limit"])))
