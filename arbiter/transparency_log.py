"""The audit log as a transparency log (RFC 9162): the sequencer, checkpoints and proofs.

Writers only append entries to their case's chain (:mod:`arbiter.audit`). The sequencer, a
periodic background task, takes committed entries that are not in the tree yet, in batches,
gives them consecutive leaf indexes and stores the hash of every complete subtree they
complete (``audit_tree_nodes``: level 0 are the leaves). A proof for any tree size is then
made of O(log n) stored hashes, never a read of the whole log. After a run that grew the
tree, it signs a checkpoint (C2SP ``tlog-checkpoint``) with the Ed25519 key kept outside
the database (``AUDIT_SIGNING_KEY`` or ``AUDIT_SIGNING_KEY_FILE``; ``flask audit keygen``).

Each batch is one transaction under the row lock of ``audit_log_state``: two sequencers
take turns and never give an index twice (the leaf index is the primary key besides), and
one killed mid-batch leaves nothing behind.

Which entries are unsequenced: those above ``scan_from_id`` with no leaf. The mark only
moves past entries older than :data:`SETTLE`, because ids are handed out when a
transaction inserts, not when it commits: an entry with a lower id may still commit after
the sequencer passed a higher one. ``flask audit verify`` reports any entry below the mark
that never made it into the tree.
"""

import base64
import json
import os
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    exists,
    func,
    insert,
    select,
    tuple_,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from arbiter import clock, tlog
from arbiter.audit import GENESIS_HASH, AuditEntry
from arbiter.db import AppendOnly, Base
from arbiter.extensions import db

BATCH_SIZE = 1000
# Longer than any transaction of Arbiter may stay open (requests and task steps are killed
# by statement_timeout well before): an entry older than this has committed or never will.
SETTLE = timedelta(minutes=10)


class LogState(Base):
    """The one row the sequencer locks: how far the tree has grown."""

    __tablename__ = "audit_log_state"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),
                      CheckConstraint("tree_size >= 0", name="size"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, default=0)
    scan_from_id: Mapped[int] = mapped_column(
        BigInteger, default=0, comment="every entry with an id up to this one is in the tree")


class AuditLeaf(AppendOnly, Base):
    __tablename__ = "audit_leaves"

    leaf_index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entry_id: Mapped[int] = mapped_column(ForeignKey("audit_entries.id"), unique=True)
    sequenced_at: Mapped[datetime] = mapped_column()


class AuditNode(AppendOnly, Base):
    """The hash of one complete subtree: leaves ``idx * 2^level`` to ``(idx+1) * 2^level``."""

    __tablename__ = "audit_tree_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(
        BigInteger, primary_key=True, autoincrement=False,
        comment="covers leaves idx * 2^level up to (idx + 1) * 2^level")
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class Checkpoint(AppendOnly, Base):
    """A signed tree head, exactly as published."""

    __tablename__ = "audit_checkpoints"

    tree_size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text, comment="the C2SP signed note, exactly as published")
    signed_at: Mapped[datetime] = mapped_column()


# --- reading the tree --------------------------------------------------------------------


def node_fetcher(session: Session):
    """``fetch(keys)`` for :mod:`arbiter.tlog`: the stored hashes of these (level, index)
    subtrees, in one query."""
    def fetch(keys) -> dict[tuple[int, int], bytes]:
        keys = list(keys)
        found: dict[tuple[int, int], bytes] = {}
        for start in range(0, len(keys), 500):  # keep the statement's parameters few
            chunk = keys[start:start + 500]
            rows = session.execute(select(AuditNode.level, AuditNode.idx, AuditNode.hash)
                                   .where(tuple_(AuditNode.level, AuditNode.idx).in_(chunk)))
            found.update({(row.level, row.idx): bytes(row.hash) for row in rows})
        return found
    return fetch


def tree_size(session: Session | None = None) -> int:
    session = session or db.session
    return session.scalar(select(LogState.tree_size).where(LogState.id == 1)) or 0


def latest_checkpoint(session: Session | None = None) -> Checkpoint | None:
    session = session or db.session
    return session.scalar(select(Checkpoint).order_by(Checkpoint.tree_size.desc()).limit(1))


class ProofRefused(ValueError):
    """A proof asked for sizes or an index the tree does not have (422)."""


def inclusion(leaf_index: int, size: int, session: Session | None = None) -> list[bytes]:
    session = session or db.session
    if not 0 <= leaf_index < size <= tree_size(session):
        raise ProofRefused("the leaf index must be below the tree size, which must not exceed "
                           "the log's")
    return tlog.inclusion_proof(leaf_index, size, node_fetcher(session))


def consistency(old_size: int, new_size: int, session: Session | None = None) -> list[bytes]:
    session = session or db.session
    if not 0 < old_size <= new_size <= tree_size(session):
        raise ProofRefused("sizes must satisfy 0 < from <= to <= the log's size")
    return tlog.consistency_proof(old_size, new_size, node_fetcher(session))


def leaf_of(entry_id: int, session: Session | None = None) -> int | None:
    session = session or db.session
    return session.scalar(select(AuditLeaf.leaf_index).where(AuditLeaf.entry_id == entry_id))


def entry_at(leaf_index: int, session: Session | None = None) -> AuditEntry | None:
    session = session or db.session
    return session.scalar(select(AuditEntry).join(AuditLeaf, AuditLeaf.entry_id == AuditEntry.id)
                          .where(AuditLeaf.leaf_index == leaf_index))


# --- the sequencer -----------------------------------------------------------------------


def sequence(*, batch_size: int = BATCH_SIZE, now: datetime | None = None) -> int:
    """Add every committed, unsequenced entry to the tree, a batch per transaction; then
    sign a checkpoint if the tree grew. Returns how many entries were added."""
    added = 0
    while True:
        done = _sequence_batch(db.session, batch_size, now or clock.now())
        db.session.commit()
        added += done
        if done < batch_size:
            break
    publish_checkpoint(now=now)
    return added


def _locked_state(session: Session) -> LogState:
    return session.scalar(select(LogState).where(LogState.id == 1).with_for_update()
                          .execution_options(populate_existing=True))


def _unsequenced(floor: int):
    return (select(AuditEntry.id, AuditEntry.hash)
            .where(AuditEntry.id > floor,
                   ~exists().where(AuditLeaf.entry_id == AuditEntry.id))
            .order_by(AuditEntry.id))


def _sequence_batch(session: Session, batch_size: int, now: datetime) -> int:
    state = _locked_state(session)
    rows = session.execute(_unsequenced(state.scan_from_id).limit(batch_size)).all()
    if rows:
        frontier = tlog.Frontier.from_nodes(state.tree_size, node_fetcher(session))
        nodes, leaves = [], []
        for offset, row in enumerate(rows):
            leaf = tlog.leaf_hash(tlog.entry_leaf(row.id, row.hash))
            nodes.extend(frontier.append(leaf))
            leaves.append({"leaf_index": state.tree_size + offset, "entry_id": row.id,
                           "sequenced_at": now})
        session.execute(insert(AuditLeaf), leaves)
        session.execute(insert(AuditNode), [{"level": level, "idx": index, "hash": digest}
                                            for (level, index), digest in nodes])
        state.tree_size += len(rows)
    _advance_scan_mark(session, state, now, upto=rows[-1].id if rows else None)
    session.flush()
    return len(rows)


def _advance_scan_mark(session: Session, state: LogState, now: datetime,
                       upto: int | None) -> None:
    """Move the mark past the settled entries, stopping below the first one still waiting.
    Only up to ``upto`` (the batch's last entry) when there is more to do: a scan to the
    end of the log for every batch would make a long backlog quadratic."""
    floor = state.scan_from_id
    settled = session.scalar(select(func.max(AuditEntry.id)).where(
        AuditEntry.id > floor, AuditEntry.at < now - SETTLE,
        AuditEntry.id <= upto if upto is not None else True))
    if settled is None:
        return
    waiting = session.scalar(select(func.min(AuditEntry.id)).where(
        AuditEntry.id > floor, AuditEntry.id <= settled,
        ~exists().where(AuditLeaf.entry_id == AuditEntry.id)))
    mark = settled if waiting is None else waiting - 1
    if mark > floor:
        state.scan_from_id = mark


# --- checkpoints -------------------------------------------------------------------------


def origin() -> str:
    """The log's name: configured, else its key's name, else made from BASE_URL."""
    configured = current_app.config.get("AUDIT_LOG_ORIGIN")
    if configured:
        return configured
    vkey = verifier_key()
    if vkey:
        return tlog.verifier_key_name(vkey)
    return urlsplit(current_app.config["BASE_URL"]).netloc + "/audit-log"


def signing_key() -> str | None:
    """The private key text, from the environment or its file; None when not configured."""
    config = current_app.config
    if config.get("AUDIT_SIGNING_KEY"):
        return config["AUDIT_SIGNING_KEY"].strip()
    path = config.get("AUDIT_SIGNING_KEY_FILE")
    if path and Path(path).exists():
        return Path(path).read_text().strip()
    return None


def verifier_key() -> str | None:
    """The public key that checks checkpoints: configured, or derived from the signing key
    (a verifying machine needs only the public one)."""
    configured = current_app.config.get("AUDIT_VERIFIER_KEY")
    if configured:
        return configured.strip()
    private = signing_key()
    return tlog.verifier_key(private) if private else None


def publish_checkpoint(*, now: datetime | None = None) -> Checkpoint | None:
    """Sign the tree as it is now, unless the newest checkpoint already has its size or is
    younger than ``AUDIT_CHECKPOINT_INTERVAL_SECONDS`` (so checkpoints are at most that
    far apart while entries arrive, and no closer)."""
    private = signing_key()
    if private is None:
        current_app.logger.warning("audit log: no signing key, no checkpoint published "
                                   "(flask audit keygen)")
        return None
    session = db.session
    now = now or clock.now()
    state = _locked_state(session)
    latest = latest_checkpoint(session)
    interval = timedelta(seconds=current_app.config["AUDIT_CHECKPOINT_INTERVAL_SECONDS"])
    if state.tree_size == 0 or (latest is not None and (
            latest.tree_size >= state.tree_size or latest.signed_at > now - interval)):
        session.rollback()
        return None
    root = tlog.root(state.tree_size, node_fetcher(session))
    checkpoint = Checkpoint(tree_size=state.tree_size, root_hash=root, signed_at=now,
                            note=tlog.sign_checkpoint(private, origin(), state.tree_size, root))
    session.add(checkpoint)
    session.commit()
    return checkpoint


def b64(digest: bytes) -> str:
    return base64.b64encode(digest).decode()


# --- verification ------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """The first thing that does not hold, and where."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass
class Verified:
    """What a passing verification saw; saved so that the next one starts from there."""

    tree_size: int = 0
    root: str = ""  # base64
    frontier: dict | None = None
    checkpoint: str | None = None  # the newest checkpoint note it checked
    legacy_tail: str = GENESIS_HASH  # the old global chain's last hash
    scan_from_id: int = 0

    @classmethod
    def load(cls, path: Path) -> "Verified | None":
        if not path.exists():
            return None
        return cls(**json.loads(path.read_text()))

    def save(self, path: Path) -> None:
        """Replace the file atomically (a crash leaves the old one or the new one)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        with partial.open("w") as handle:
            json.dump(self.__dict__, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)


@dataclass(frozen=True)
class Report:
    problem: Problem | None
    verified: Verified
    entries: int  # entries checked in this run
    checkpoints: int


def verify(last: Verified | None = None, *, full: bool = False, vkey: str | None = None,
           session: Session | None = None, batch_size: int = BATCH_SIZE) -> Report:
    """Check the log from ``last`` (a previous run's result), or from its first entry (no
    ``last``, or ``full``: then ``last`` is only held against what is there now).

    Each newly sequenced entry must hash to its stored hash, link to the entry before it in
    its chain, and hash to its stored leaf; every subtree it completes must equal the
    stored node; the tree at every checkpoint's size must have the checkpoint's root, and
    the checkpoint's signature must verify. ``last``'s tree must still be there unchanged.
    """
    session = session or db.session
    state = session.get(LogState, 1)
    problem = _check_start(session, last, state) if last else None
    last = Verified() if full or last is None else last
    checkpoints = session.scalars(select(Checkpoint).where(Checkpoint.tree_size > last.tree_size)
                                  .order_by(Checkpoint.tree_size)).all()
    seen = Verified(**last.__dict__)
    frontier = (tlog.Frontier.from_dict(last.frontier) if last.frontier
                else tlog.Frontier())
    pending = iter(checkpoints)
    next_checkpoint = next(pending, None)
    checked = 0
    for batch in ([] if problem else _leaf_batches(session, last.tree_size, state.tree_size,
                                                   batch_size)):
        problem = _check_batch(session, batch, frontier, seen)
        checked += len(batch)
        while problem is None and next_checkpoint is not None \
                and next_checkpoint.tree_size <= frontier.size:
            # Batches end on checkpoint sizes (_leaf_batches), so the tree is at this size.
            problem = _check_checkpoint(next_checkpoint, frontier, vkey)
            seen.checkpoint = next_checkpoint.note
            next_checkpoint = next(pending, None)
        if problem:
            break
    if problem is None and frontier.size != state.tree_size:
        problem = Problem(f"leaf {frontier.size}", "missing: the tree has fewer leaves than "
                          f"its recorded size {state.tree_size}")
    if problem is None and next_checkpoint is not None:
        problem = Problem(f"checkpoint {next_checkpoint.tree_size}",
                          f"names a tree larger than the log ({state.tree_size} leaves)")
    if problem is None:
        problem = _check_never_sequenced(session, last.scan_from_id, state.scan_from_id)
    if problem is None:
        seen.tree_size = frontier.size
        seen.root = b64(frontier.root()) if frontier.size else ""
        seen.frontier = frontier.to_dict()
        seen.scan_from_id = state.scan_from_id
    return Report(problem, seen, checked, len(checkpoints))


def _check_start(session: Session, last: Verified, state: LogState) -> Problem | None:
    if state.tree_size < last.tree_size:
        return Problem(f"leaf {state.tree_size}", f"the log shrank: the last verification saw "
                       f"{last.tree_size} leaves, the database has {state.tree_size}")
    try:
        root = tlog.root(last.tree_size, node_fetcher(session)) if last.tree_size else None
    except tlog.MissingNodeError as error:
        return Problem(f"tree of size {last.tree_size}", f"stored nodes are gone: {error}")
    if root is not None and b64(root) != last.root:
        return Problem(f"tree of size {last.tree_size}", "its stored nodes no longer give the "
                       "root the last verification saw: the log was rewritten")
    if last.checkpoint is not None:
        size = int(last.checkpoint.split("\n")[1])
        kept = session.get(Checkpoint, size)
        if kept is None or kept.note != last.checkpoint:
            return Problem(f"checkpoint {size}", "changed or gone since the last verification")
    return None


def _leaf_batches(session: Session, start: int, end: int, batch_size: int
                  ) -> Iterator[list[tuple[int, AuditEntry]]]:
    """(leaf index, entry) in index order, in batches that end at checkpoint sizes."""
    sizes = list(session.scalars(select(Checkpoint.tree_size).where(
        Checkpoint.tree_size > start, Checkpoint.tree_size <= end)
        .order_by(Checkpoint.tree_size)))
    position = start
    while position < end:
        after = bisect_right(sizes, position)
        stop = min([end, position + batch_size, *sizes[after:after + 1]])  # next checkpoint
        rows = session.execute(
            select(AuditLeaf.leaf_index, AuditEntry)
            .join(AuditEntry, AuditEntry.id == AuditLeaf.entry_id)
            .where(AuditLeaf.leaf_index >= position, AuditLeaf.leaf_index < stop)
            .order_by(AuditLeaf.leaf_index)).all()
        yield [(row.leaf_index, row.AuditEntry) for row in rows] or [(position, None)]
        for row in rows:  # memory stays flat over a long log
            session.expunge(row.AuditEntry)
        position = stop


def _check_batch(session: Session, batch, frontier, seen: Verified) -> Problem | None:
    chained = [(entry.chain_key, entry.chain_seq - 1) for _, entry in batch
               if entry is not None and entry.chain_key is not None and entry.chain_seq > 1]
    before = {}
    if chained:
        before = {(row.chain_key, row.chain_seq): row.hash for row in session.execute(
            select(AuditEntry.chain_key, AuditEntry.chain_seq, AuditEntry.hash)
            .where(tuple_(AuditEntry.chain_key, AuditEntry.chain_seq).in_(chained)))}
    leaves = {} if batch[0][1] is None else node_fetcher(session)(
        [(0, index) for index, _ in batch])
    completed = []
    for index, entry in batch:
        if index != frontier.size or entry is None:
            return Problem(f"leaf {frontier.size}", "missing from the tree")
        where = f"entry {entry.id} (leaf {index})"
        if tlog.chain_hash(entry.prev_hash, entry.content()) != entry.hash:
            return Problem(where, "its content does not match its hash")
        leaf = tlog.leaf_hash(tlog.entry_leaf(entry.id, entry.hash))
        if leaves.get((0, index)) != leaf:
            return Problem(where, "the tree holds another leaf for it: the entry was "
                           "rewritten after it was added, or the leaf was")
        if entry.chain_key is None:
            expected, seen.legacy_tail = seen.legacy_tail, entry.hash
        elif entry.chain_seq == 1:
            expected = GENESIS_HASH
        else:
            expected = before.get((entry.chain_key, entry.chain_seq - 1))
        if entry.prev_hash != expected:
            return Problem(where, f"does not link to the entry before it in its chain "
                           f"({entry.chain_key or 'the global chain of before 0033'})")
        completed.extend(frontier.append(leaf)[1:])  # the leaf itself is checked above
    stored = node_fetcher(session)([key for key, _ in completed])
    for (level, index), digest in completed:
        if stored.get((level, index)) != digest:
            return Problem(f"tree node (level {level}, index {index})",
                           "missing or does not match the entries below it")
    return None


def _check_checkpoint(checkpoint: Checkpoint, frontier, vkey: str | None) -> Problem | None:
    where = f"checkpoint {checkpoint.tree_size}"
    if vkey is None:
        return Problem(where, "no verifier key to check its signature (AUDIT_VERIFIER_KEY)")
    try:
        opened = tlog.open_checkpoint(checkpoint.note, vkey, expected_origin=None)
    except ValueError as error:
        return Problem(where, f"its signature does not verify: {error}")
    if opened.size != checkpoint.tree_size or opened.root != bytes(checkpoint.root_hash):
        return Problem(where, "its signed note and its stored size or root differ")
    if opened.root != frontier.root():
        return Problem(where, "its root is not the root of the log's first "
                       f"{checkpoint.tree_size} entries")
    return None


def _check_never_sequenced(session: Session, since: int, mark: int) -> Problem | None:
    lost = session.scalar(select(func.min(AuditEntry.id)).where(
        AuditEntry.id > since, AuditEntry.id <= mark,
        ~exists().where(AuditLeaf.entry_id == AuditEntry.id)))
    if lost is not None:
        return Problem(f"entry {lost}", "committed long ago but never added to the tree")
    return None
