"""The append-only audit log: entries hash-chained per case, writers never queue.

Every entry extends one chain: the chain of its case (``orders:<id>``: everything about an
order, its discussions, claims, appeals, settlements and payouts) or, for what belongs to
no case, the chain of its object (``users:7``, ``incidents:3``). An entry stores
``hash = SHA-256(prev_hash + canonical JSON of its content)``, the content naming its chain
and its place in it, so a case's history is verifiable on its own. The chain's last entry
is read under the row lock of the case (or object), which the writing transaction usually
holds already; a unique index on (chain, place) refuses a fork whatever happens. Writers on
different cases therefore never wait for each other: there is no global lock.

Committed entries are then added to a Merkle tree by the sequencer
(:mod:`arbiter.transparency_log`), which publishes signed checkpoints; ``flask audit
verify`` checks chains, tree and checkpoints. Entries written before migration 0033 keep
the single global chain they were written in (``chain_key`` NULL).

On PostgreSQL triggers refuse UPDATE, DELETE and TRUNCATE (see the migrations); the ORM
refuses them too, on every engine.
"""

from collections.abc import Iterable
from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from arbiter import clock
from arbiter.db import AppendOnly, Base, PrimaryKey
from arbiter.extensions import db
from arbiter.tlog import chain_hash

GENESIS_HASH = "0" * 64
# Entries that name no person (only pseudonymous staff ids and public facts): anyone may
# read them and their proofs in the transparency log. Every other entry is staff-only.
PUBLIC_ACTIONS = frozenset({
    "decision.issued",
    "policy_version.published", "policy_version.withdrawn",
    "incident.declared", "incident.update_posted", "incident.resolved",
    "incident.window_changed",
})


class AuditEntry(AppendOnly, PrimaryKey, Base):
    __tablename__ = "audit_entries"
    __table_args__ = (
        UniqueConstraint("chain_key", "chain_seq"),
        CheckConstraint("(chain_key IS NULL) = (chain_seq IS NULL)", name="chained"),
    )

    at: Mapped[datetime] = mapped_column(comment="When the change happened (UTC)")
    actor_id: Mapped[int | None] = mapped_column(
        comment="User who acted (pseudonymous id, kept after anonymisation); NULL = system"
    )
    action: Mapped[str] = mapped_column(String(64), comment="e.g. discussion.escalated")
    object_type: Mapped[str] = mapped_column(String(64), index=True)
    object_id: Mapped[str] = mapped_column(String(64), index=True)
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64), comment="hash of the previous row")
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    note: Mapped[str | None] = mapped_column(Text)
    chain_key: Mapped[str | None] = mapped_column(String(80), comment=(
        "the chain this entry extends: 'orders:<id>' for a case, '<table>:<id>' otherwise; "
        "NULL: the global chain written before 0033"))
    chain_seq: Mapped[int | None] = mapped_column(Integer, comment="1, 2, ... within its chain")

    @property
    def is_public(self) -> bool:
        return self.action in PUBLIC_ACTIONS

    def content(self) -> dict[str, Any]:
        content = {
            "at": self.at.isoformat(),
            "actor_id": self.actor_id,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": str(self.object_id),
            "before": self.before,
            "after": self.after,
            "note": self.note,
        }
        if self.chain_key is not None:  # the old global chain's rows hash as they were
            content["chain"] = self.chain_key
            content["seq"] = self.chain_seq
        return content

    def published(self) -> dict[str, Any]:
        """The entry as the transparency log's API shows it: enough to recompute its hash."""
        return {"id": self.id, "chain": self.chain_key, "seq": self.chain_seq,
                "prev_hash": self.prev_hash, "hash": self.hash, "content": self.content()}


def jsonable(value: Any) -> Any:
    """Snapshot values the way the audit log stores them (ISO datetimes, enum values)."""
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def snapshot(obj: Any, fields: Iterable[str]) -> dict[str, Any]:
    return {name: jsonable(getattr(obj, name)) for name in fields}


def record(
    action: str,
    obj: Any = None,
    *,
    actor: Any = None,
    object_type: str | None = None,
    object_id: Any = None,
    before: dict | None = None,
    after: dict | None = None,
    note: str | None = None,
    session: Session | None = None,
) -> AuditEntry:
    """Append one entry to its chain inside the caller's transaction."""
    session = session or db.session
    if obj is not None:
        session.flush()  # the object needs its primary key
        object_type = object_type or obj.__tablename__
        object_id = obj.id if object_id is None else object_id
    object_type = object_type or "system"
    object_id = str(object_id if object_id is not None else "-")
    chain_key = _lock_chain(session, obj, object_type, object_id)
    last = session.execute(
        select(AuditEntry.chain_seq, AuditEntry.hash).where(AuditEntry.chain_key == chain_key)
        .order_by(AuditEntry.chain_seq.desc()).limit(1)).first()
    entry = AuditEntry(
        at=clock.now(),
        actor_id=getattr(actor, "id", actor),
        action=action,
        object_type=object_type,
        object_id=object_id,
        before=jsonable(before),
        after=jsonable(after),
        note=note,
        prev_hash=last.hash if last else GENESIS_HASH,
        chain_key=chain_key,
        chain_seq=last.chain_seq + 1 if last else 1,
    )
    entry.hash = chain_hash(entry.prev_hash, entry.content())
    session.add(entry)
    session.flush()
    return entry


def case_of(obj: Any) -> int | None:
    """The order (case) an audited object belongs to, or None (a user, an incident...)."""
    if obj is None:
        return None
    if getattr(obj, "__tablename__", None) == "orders":
        return obj.id
    if getattr(obj, "order_id", None) is not None:
        return obj.order_id
    for parent in ("claim", "discussion", "appeal"):  # payouts and party requests
        related = getattr(obj, parent, None)
        if related is not None and getattr(related, "order_id", None) is not None:
            return related.order_id
    return None


def _lock_chain(session: Session, obj: Any, object_type: str, object_id: str) -> str:
    """The entry's chain, its subject's row locked (FOR NO KEY UPDATE: rows referring to it
    may still be inserted) so that two transactions never read the same last entry. The
    services lock the rows they change first, so this is most often a lock already held;
    the lock is taken after theirs, in the order they take them (object, then case)."""
    case_id = case_of(obj)
    table_name, row_id = ("orders", case_id) if case_id is not None else (object_type, object_id)
    table = Base.metadata.tables.get(table_name)
    if table is not None and "id" in table.c and str(row_id).isdigit():
        session.execute(select(table.c.id).where(table.c.id == int(row_id))
                        .with_for_update(key_share=True))
    return f"{table_name}:{row_id}"


def count(session: Session | None = None) -> int:
    return (session or db.session).scalar(select(func.count(AuditEntry.id))) or 0
