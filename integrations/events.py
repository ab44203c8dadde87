"""The event feed: every change to an order, a discussion, a claim, an appeal or a
settlement row, in the order of the audit log's Merkle tree.

The source is the audit log. Writers on different cases commit concurrently, so entry ids
do not become visible in order (a lower id may commit after a higher one). The sequencer
(:mod:`arbiter.transparency_log`) gives committed entries consecutive leaf indexes, one
batch at a time under one lock, so the tree only ever grows at its end: an event's
*position* is its leaf index + 1, and a client that remembers the last position it saw
(the cursor; 0 at first) never misses an event and never sees one twice. An event reaches
the feed when the sequencer has added it (``AUDIT_SEQUENCE_INTERVAL_SECONDS``).
tests/integrations/test_concurrency.py checks it with concurrent writers.
"""

from dataclasses import dataclass

from sqlalchemy import String, and_, cast, func, or_, select

from appeals.models import Appeal
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from arbiter.transparency_log import AuditLeaf
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


@dataclass(frozen=True)
class Event:
    position: int  # leaf index + 1: the cursor after this event
    entry: AuditEntry


def events_after(after: int, limit: int, *, user_id: int | None = None) -> list[Event]:
    """Up to ``limit`` events past position ``after``, oldest first; ``user_id`` limits
    them to that user's own objects."""
    statement = (select(AuditLeaf.leaf_index, AuditEntry)
                 .join(AuditLeaf, AuditLeaf.entry_id == AuditEntry.id)
                 .where(AuditLeaf.leaf_index >= after, AuditEntry.object_type.in_(OBJECT_TYPES))
                 .order_by(AuditLeaf.leaf_index).limit(limit))
    if user_id is not None:
        statement = statement.where(_visible_to(user_id))
    return [Event(row.leaf_index + 1, row.AuditEntry) for row in db.session.execute(statement)]


def latest_position_query():
    """The position of the newest event (0: none yet)."""
    return (select(func.coalesce(func.max(AuditLeaf.leaf_index) + 1, 0))
            .join(AuditEntry, AuditEntry.id == AuditLeaf.entry_id)
            .where(AuditEntry.object_type.in_(OBJECT_TYPES)))


def latest_position() -> int:
    return db.session.scalar(latest_position_query()) or 0


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
