from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from accounts.models import User
from arbiter.db import Base, PrimaryKey, enum_type


class TokenKind(StrEnum):
    INTEGRATION = "integration"  # the marketplace itself (orders, events, webhooks)
    USER = "user"                # acts as one user, like their browser session


class Scope(StrEnum):
    """What an integration token may do; each integration API route names the one it needs
    (:func:`integrations.auth.integration_required`). User tokens have none: a user token
    acts as its user, whose own rights decide."""

    ORDERS_WRITE = "orders:write"            # PUT /orders/{external_id}
    ORDERS_READ = "orders:read"              # GET /orders/{external_id}
    CASES_READ = "cases:read"                # GET /orders/{external_id}/case
    EVENTS_READ = "events:read"              # GET /events
    WEBHOOKS_MANAGE = "webhooks:manage"      # /webhooks: register, list, deactivate, log
    SETTLEMENTS_WRITE = "settlements:write"  # POST /settlements/{id}/confirm|fail
    RECOVERIES_READ = "recoveries:read"      # GET /recoveries.csv


class ApiToken(PrimaryKey, Base):
    """A bearer token. Only its SHA-256 is stored; the token is shown once."""

    __tablename__ = "api_tokens"
    __table_args__ = (
        CheckConstraint("(kind = 'user') = (user_id IS NOT NULL)", name="user_iff_user_token"),
        CheckConstraint("expires_at IS NULL OR expires_at > created_at",
                        name="expires_after_creation"),
        CheckConstraint("(kind = 'integration') = (scopes IS NOT NULL)",
                        name="scopes_iff_integration_token"),
        # One live integration token per name: `flask integrations revoke NAME` is exact.
        Index("uq_api_tokens_live_integration_name", "name", unique=True,
              sqlite_where=text("kind = 'integration' AND revoked_at IS NULL"),
              postgresql_where=text("kind = 'integration' AND revoked_at IS NULL")),
    )

    kind: Mapped[TokenKind] = mapped_column(enum_type(TokenKind))
    name: Mapped[str] = mapped_column(String(100), comment="integration name or user agent")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True, comment="SHA-256 of token")
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column()
    expires_at: Mapped[datetime | None] = mapped_column(comment="NULL: until revoked")
    revoked_at: Mapped[datetime | None] = mapped_column()
    last_used_at: Mapped[datetime | None] = mapped_column(comment="to the minute")
    scopes: Mapped[str | None] = mapped_column(
        String(300), comment="integration tokens: their scopes, space-separated, sorted")

    user: Mapped[User | None] = relationship()

    @property
    def scope_set(self) -> frozenset[Scope]:
        return frozenset(Scope(name) for name in (self.scopes or "").split())

    def has_scope(self, scope: Scope) -> bool:
        return scope in self.scope_set


class IdempotencyState(StrEnum):
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"


class IdempotencyKey(PrimaryKey, Base):
    """The first answer to a POST with an ``Idempotency-Key``, replayed for 24 hours.

    The row is inserted (in progress) and committed before the request does anything, so
    a concurrent request with the same key hits the UNIQUE constraint and gets 409.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        UniqueConstraint("owner", "key", name="uq_idempotency_keys_owner_key"),
        CheckConstraint("state <> 'completed' OR response_status IS NOT NULL",
                        name="completed_has_response"),
    )

    owner: Mapped[str] = mapped_column(
        String(40), comment="user:<id> for user tokens, integration:<token id>")
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(
        String(64), comment="SHA-256 of method, path and body")
    state: Mapped[IdempotencyState] = mapped_column(enum_type(IdempotencyState))
    response_status: Mapped[int | None] = mapped_column(Integer)
    response_content_type: Mapped[str | None] = mapped_column(String(100))
    response_body: Mapped[str | None] = mapped_column(Text)
    response_headers: Mapped[dict | None] = mapped_column(
        JSON, comment="the answer's own headers worth replaying (Content-Disposition, ...)")
    created_at: Mapped[datetime] = mapped_column(index=True)
    completed_at: Mapped[datetime | None] = mapped_column()


class WebhookEndpoint(PrimaryKey, Base):
    """A URL the marketplace registered; events go to it only once staff approved it."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint("(approved_at IS NULL) = (approved_by_id IS NULL)",
                        name="approved_by_someone"),
    )

    url: Mapped[str] = mapped_column(String(2000))
    secret: Mapped[str] = mapped_column(
        String(64), comment="HMAC-SHA256 key; shown once, needed to sign every delivery")
    description: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column()
    created_by_token_id: Mapped[int | None] = mapped_column(
        ForeignKey("api_tokens.id", ondelete="SET NULL"))
    integration: Mapped[str | None] = mapped_column(
        String(100), index=True,
        comment="the integration (token name) that registered it and alone manages it")
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    approved_at: Mapped[datetime | None] = mapped_column()
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    feed_position: Mapped[int] = mapped_column(
        default=0, comment="the events up to this position of the feed have deliveries")

    approved_by: Mapped[User | None] = relationship()

    @property
    def delivering(self) -> bool:
        return self.active and self.approved_at is not None


class DeliveryState(StrEnum):
    PENDING = "pending"      # waiting for its (next) attempt
    DELIVERED = "delivered"  # the endpoint answered 2xx
    FAILED = "failed"        # gave up after WEBHOOK_MAX_ATTEMPTS


class DeliveryFailure(StrEnum):
    """Why the last attempt failed, as a category: the receiver's own error text (or ours,
    naming internal addresses) is never stored or shown."""

    CONNECTION_REFUSED = "connection_refused"
    TIMEOUT = "timeout"
    TLS_ERROR = "tls_error"
    REFUSED_ADDRESS = "refused_address"  # the host resolved to a non-public address
    DNS_ERROR = "dns_error"              # the host did not resolve
    CONNECTION_ERROR = "connection_error"
    REDIRECT = "redirect"                # 3xx: never followed
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"


class WebhookDelivery(PrimaryKey, Base):
    """One event for one endpoint, with its attempts."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_endpoint_event"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
    )

    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("audit_entries.id"))
    state: Mapped[DeliveryState] = mapped_column(enum_type(DeliveryState),
                                                 default=DeliveryState.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column()
    last_status: Mapped[int | None] = mapped_column(Integer, comment="HTTP status of the last try")
    last_failure: Mapped[DeliveryFailure | None] = mapped_column(
        enum_type(DeliveryFailure), comment="why the last try failed (a category)")
    created_at: Mapped[datetime] = mapped_column()
    delivered_at: Mapped[datetime | None] = mapped_column()

    endpoint: Mapped[WebhookEndpoint] = relationship()
