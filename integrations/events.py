"""The event feed: every change to an order, a discussion, a claim, an appeal or a
settlement row, in commit order.

The source is the audit log. ``audit_entries.id`` is assigned while the writer holds the
audit chain's lock (``pg_advisory_xact_lock`` in :func:`arbiter.audit.record`, held until
the transaction ends; SQLite has a single writer anyway), so entries become visible in
id order: once a reader sees id N, every id below N that will ever commit is already
visible. A client that remembers the last id it saw (the cursor) therefore never misses
an event and never sees one twice. tests/integrations/test_events_postgres.py checks it
with concurrent writers.
"""

from sqlalchemy import String, and_, cast, func, or_, select

from appeals.models import Appeal
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from claims.models import Claim
from disputes.models import Discussion
from orders.models import Order
from settlements.models import Settlement

# Audit object types that are events, and their names on the wire.
OBJECT_TYPES = {"orders": "order", "discussions": "discussion", "claims": "claim",
                "appeals": "appeal", "settlements": "settlement"}


def _visible_to(user_id: int):
    """Events about the user's own objects: orders, discussions, claims, appeals and
    settlement rows they are a party to (a claim's seller sees its events as its buyer
    does, both parties of the order see its appeals' whoever filed them; an event carries
    ids and the state, nothing of the buyer's account or documents)."""
    own_orders = select(cast(Order.id, String)).where(
        or_(Order.buyer_id == user_id, Order.seller_id == user_id))
    own_discussions = select(cast(Discussion.id, String)).where(
        or_(Discussion.buyer_id == user_id, Discussion.seller_id == user_id))
    own_claims = select(cast(Claim.id, String)).where(
        or_(Claim.buyer_id == user_id, Claim.seller_id == user_id))
    own_appeals = select(cast(Appeal.id, String)).where(
        or_(Appeal.buyer_id == user_id, Appeal.seller_id == user_id))
    own_settlements = select(cast(Settlement.id, String)).where(
        or_(Settlement.buyer_id == user_id, Settlement.seller_id == user_id))
    return or_(
        and_(AuditEntry.object_type == "orders", AuditEntry.object_id.in_(own_orders)),
        and_(AuditEntry.object_type == "discussions",
             AuditEntry.object_id.in_(own_discussions)),
        and_(AuditEntry.object_type == "claims", AuditEntry.object_id.in_(own_claims)),
        and_(AuditEntry.object_type == "appeals", AuditEntry.object_id.in_(own_appeals)),
        and_(AuditEntry.object_type == "settlements",
             AuditEntry.object_id.in_(own_settlements)),
    )


def events_after(after: int, limit: int, *, user_id: int | None = None) -> list[AuditEntry]:
    """Up to ``limit`` events with an id above ``after``, oldest first; ``user_id`` limits
    them to that user's own objects."""
    statement = (select(AuditEntry)
                 .where(AuditEntry.id > after, AuditEntry.object_type.in_(OBJECT_TYPES))
                 .order_by(AuditEntry.id).limit(limit))
    if user_id is not None:
        statement = statement.where(_visible_to(user_id))
    return list(db.session.scalars(statement))


def latest_event_id_query():
    return select(func.coalesce(func.max(AuditEntry.id), 0)).where(
        AuditEntry.object_type.in_(OBJECT_TYPES))


def latest_event_id() -> int:
    return db.session.scalar(latest_event_id_query()) or 0


def as_event(entry: AuditEntry) -> dict:
    """The wire format of one event (the feed's items and a webhook's body)."""
    after = entry.after if isinstance(entry.after, dict) else {}
    return {
        "id": entry.id,
        "type": entry.action,
        "object_type": OBJECT_TYPES[entry.object_type],
        "object_id": int(entry.object_id),
        "occurred_at": entry.at,
        "state": after.get("state"),
    }
