"""The append-only, hash-chained audit log.

Each row stores ``hash = SHA-256(prev_hash + canonical JSON of its content)``. Changing,
deleting or reordering any row breaks the chain at that row, which :func:`verify` finds.
On PostgreSQL triggers refuse UPDATE, DELETE and TRUNCATE (see the migrations); the ORM
refuses them too, on every engine.

A chain cannot show that rows were removed from its *end*: what is left is still a valid
chain. ``flask audit verify`` therefore keeps an anchor outside the database (a small JSON
file, ``AUDIT_ANCHOR_FILE``) naming the newest entry it verified, and the next run fails if
that entry is gone or changed. The signed checkpoints of the transparency log will take
this role; until then, keep the file on storage the database's administrators cannot write.
"""

import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, String, Text, func, select, text
from sqlalchemy.orm import Mapped, Session, mapped_column

from arbiter import clock
from arbiter.db import AppendOnly, Base, PrimaryKey
from arbiter.extensions import db
from arbiter.tlog import chain_hash

GENESIS_HASH = "0" * 64
# Serialises writers on PostgreSQL so two transactions never chain onto the same row.
_CHAIN_LOCK_KEY = 0x4152424954455231  # "ARBITER1"


class AuditEntry(AppendOnly, PrimaryKey, Base):
    __tablename__ = "audit_entries"

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

    def content(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "actor_id": self.actor_id,
            "action": self.action,
            "object_type": self.object_type,
            "object_id": str(self.object_id),
            "before": self.before,
            "after": self.after,
            "note": self.note,
        }


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
    """Append one entry to the chain inside the caller's transaction."""
    session = session or db.session
    if obj is not None:
        session.flush()  # the object needs its primary key
        object_type = object_type or obj.__tablename__
        object_id = obj.id if object_id is None else object_id
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK_KEY})
    prev_hash = session.scalar(
        select(AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ) or GENESIS_HASH
    entry = AuditEntry(
        at=clock.now(),
        actor_id=getattr(actor, "id", actor),
        action=action,
        object_type=object_type or "system",
        object_id=str(object_id if object_id is not None else "-"),
        before=jsonable(before),
        after=jsonable(after),
        note=note,
        prev_hash=prev_hash,
    )
    entry.hash = chain_hash(prev_hash, entry.content())
    session.add(entry)
    session.flush()
    return entry


@dataclass(frozen=True)
class BrokenLink:
    entry_id: int
    reason: str


def verify(session: Session | None = None, batch: int = 1000) -> BrokenLink | None:
    """Walk the chain in order; return the first row whose link does not hold."""
    session = session or db.session
    expected_prev = GENESIS_HASH
    for entry in _iterate(session, batch):
        if entry.prev_hash != expected_prev:
            return BrokenLink(entry.id, "previous-hash link does not match the row before")
        if chain_hash(entry.prev_hash, entry.content()) != entry.hash:
            return BrokenLink(entry.id, "content does not match its hash")
        expected_prev = entry.hash
    return None


def _iterate(session: Session, batch: int) -> Iterator[AuditEntry]:
    last_id = 0
    while True:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
        ).all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1].id
        for row in rows:  # keep memory flat over a long chain
            session.expunge(row)


def count(session: Session | None = None) -> int:
    return (session or db.session).scalar(select(func.count(AuditEntry.id))) or 0


# --- the anchor: the newest entry a verification saw -----------------------------------------


@dataclass(frozen=True)
class Anchor:
    entry_id: int
    hash: str
    entries: int


def latest_anchor(session: Session | None = None) -> Anchor | None:
    """The newest entry now, as the next verification's anchor (None: an empty log)."""
    session = session or db.session
    newest = session.execute(
        select(AuditEntry.id, AuditEntry.hash).order_by(AuditEntry.id.desc()).limit(1)
    ).first()
    if newest is None:
        return None
    return Anchor(newest.id, newest.hash, count(session))


def check_anchor(anchor: Anchor, session: Session | None = None) -> BrokenLink | None:
    """The entry an earlier verification ended on must still be there, unchanged."""
    session = session or db.session
    kept = session.scalar(select(AuditEntry.hash).where(AuditEntry.id == anchor.entry_id))
    if kept is None:
        return BrokenLink(anchor.entry_id, f"entry {anchor.entry_id}, the newest at the last "
                          f"verification ({anchor.entries} entries), is gone: entries were "
                          "removed from the end of the log or the log was emptied")
    if kept != anchor.hash:
        return BrokenLink(anchor.entry_id, "the newest entry at the last verification has "
                          "another hash now: the log was rewritten from there on")
    return None


def read_anchor(path: Path) -> Anchor | None:
    if not path.exists():
        return None
    return Anchor(**json.loads(path.read_text()))


def write_anchor(path: Path, anchor: Anchor) -> None:
    """Replace the anchor file atomically (a crash leaves the old one or the new one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with partial.open("w") as handle:
        json.dump(asdict(anchor), handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
