"""Imports every model module so the metadata (and Alembic) sees all tables."""

from accounts.models import User, UserSession
from arbiter.audit import AuditEntry
from claims.models import PolicyVersion
from orders.models import Order

__all__ = ["AuditEntry", "Order", "PolicyVersion", "User", "UserSession"]
