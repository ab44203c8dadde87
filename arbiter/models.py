"""Imports every model module so the metadata (and Alembic) sees all tables."""

from accounts.models import DataExport, RecoveryCode, SecondFactor, User, UserSession
from appeals.models import Appeal, AppealFile, EvidenceRead
from arbiter.audit import AuditEntry
from arbiter.documents import DecisionCounter, DecisionDocument
from arbiter.notifications import Notification, OutboxEmail
from arbiter.tasks import TaskRun
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
from settlements.models import Settlement
from signals.models import AccountNote

__all__ = [
    "AccountNote",
    "ApiToken", "Appeal", "AppealFile", "Attachment", "AuditEntry", "Claim", "ClaimDocument",
    "DataExport", "DeadlineExtension", "DecisionCounter", "DecisionDocument", "Discussion",
    "DocumentRequest", "Entry", "EvidenceRead", "IdempotencyKey", "Incident", "IncidentUpdate",
    "InformationRequest", "Notification", "Offer", "Order", "OutboxEmail", "Payout",
    "PayoutBatch", "PolicyVersion", "ProblemReport", "RecoveryCode", "SecondFactor",
    "Settlement", "TaskRun", "User", "UserSession",
    "WebhookDelivery", "WebhookEndpoint",
]
