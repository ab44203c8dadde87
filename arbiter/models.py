"""Imports every model module so the metadata (and Alembic) sees all tables."""

from accounts.models import User, UserSession
from arbiter.audit import AuditEntry
from arbiter.documents import DecisionCounter, DecisionDocument
from arbiter.notifications import Notification, OutboxEmail
from claims.models import PolicyVersion
from disputes.models import Attachment, Discussion, Entry, InformationRequest, Offer
from orders.models import Order

__all__ = [
    "Attachment", "AuditEntry", "DecisionCounter", "DecisionDocument", "Discussion", "Entry",
    "InformationRequest", "Notification", "Offer", "Order", "OutboxEmail", "PolicyVersion",
    "User", "UserSession",
]
