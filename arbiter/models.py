"""Imports every model module so the metadata (and Alembic) sees all tables."""

from accounts.models import DataExport, User, UserSession
from arbiter.audit import AuditEntry
from arbiter.documents import DecisionCounter, DecisionDocument
from arbiter.notifications import Notification, OutboxEmail
from claims.models import (
    Claim,
    ClaimDocument,
    DocumentRequest,
    Payout,
    PayoutBatch,
    PolicyVersion,
)
from disputes.models import Attachment, Discussion, Entry, InformationRequest, Offer
from incidents.models import DeadlineExtension, Incident, IncidentUpdate, ProblemReport
from integrations.models import ApiToken, IdempotencyKey, WebhookDelivery, WebhookEndpoint
from orders.models import Order

__all__ = [
    "ApiToken", "Attachment", "AuditEntry", "Claim", "ClaimDocument", "DataExport",
    "DeadlineExtension", "DecisionCounter", "DecisionDocument", "Discussion", "DocumentRequest",
    "Entry",
    "IdempotencyKey", "Incident", "IncidentUpdate", "InformationRequest", "Notification",
    "Offer", "Order", "OutboxEmail", "Payout", "PayoutBatch", "PolicyVersion",
    "ProblemReport", "User", "UserSession", "WebhookDelivery", "WebhookEndpoint",
]
