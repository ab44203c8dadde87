"""The audit log as a transparency log: an RFC 9162 Merkle tree and C2SP signed checkpoints.

Pure functions only (the standard library and ``cryptography``, no Flask, no database), so
the stand-alone verifier (:mod:`arbiter.audit_verify`) runs anywhere.

**The tree.** Leaf ``i`` is the audit entry sequenced at index ``i``; its leaf hash is
``SHA-256(0x00 || entry_leaf(id, hash))`` and an inner node is ``SHA-256(0x01 || left ||
right)`` (RFC 9162 §2.1.1). The server stores the hash of every *complete aligned subtree*:
node ``(level, index)`` covers leaves ``[index * 2**level, (index + 1) * 2**level)``, level 0
being the leaf hashes. Every node of the tree of any size is either such a subtree or a
right-edge node over ``[start, size)``, which is the right fold of the complete subtrees that
tile that range; so a root or a proof needs O(log n) stored nodes, named first and fetched
in one batch (``fetch(keys) -> {key: hash}``).

**Checkpoints.** A checkpoint is a C2SP tlog-checkpoint (``origin``, tree size, base64 root
hash) in a C2SP signed note, signed with Ed25519 by a key whose name is the origin; the key
texts are those of Go's ``golang.org/x/mod/sumdb/note``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) = HASH() (RFC 9162 §2.1.1)
ENTRY_LEAF_PREFIX = b"arbiter-audit-entry/v1\n"

NodeKey = tuple[int, int]  # (level, index)
Fetch = Callable[[set[NodeKey]], dict[NodeKey, bytes]]


# --- hashes -------------------------------------------------------------------------------


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def entry_leaf(entry_id: int, entry_hash_hex: str) -> bytes:
    """The leaf data of an audit entry: its id and its chain hash (which covers its content)."""
    return ENTRY_LEAF_PREFIX + f"{entry_id}\n{entry_hash_hex}\n".encode()


def chain_hash(prev_hash_hex: str, content: dict[str, Any]) -> str:
    """An audit entry's hash: SHA-256 of the previous hash and the canonical JSON content."""
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash_hex + canonical).encode()).hexdigest()


def encode_hash(value: bytes) -> str:
    """A hash as the API and checkpoints show it: standard base64."""
    return base64.b64encode(value).decode()


def decode_hash(text: str) -> bytes:
    """Standard base64 of a 32-byte hash; ``ValueError`` for anything else."""
    try:
        value = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError, TypeError) as error:
        raise ValueError(f"not a base64 hash: {text!r}") from error
    if len(value) != HASH_SIZE:
        raise ValueError(f"a hash has {HASH_SIZE} bytes, not {len(value)}: {text!r}")
    return value


# --- server side: roots and proofs from stored complete subtrees ---------------------------


class MissingNodeError(LookupError):
    """The store lacks a complete subtree that the tree of the asked size must have."""


def _largest_power_of_two_below(n: int) -> int:
    """k of RFC 9162: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_keys(start: int, end: int) -> list[NodeKey]:
    """The complete aligned subtrees tiling leaves ``[start, end)``, left to right.

    ``start`` must be a multiple of a power of two at least ``end - start`` (true of every
    node of an RFC 9162 tree), so the tiles are the set bits of the width, largest first.
    """
    if not 0 <= start < end:
        raise ValueError(f"empty or negative range [{start}, {end})")
    keys = []
    width = end - start
    position = start
    for level in range(width.bit_length() - 1, -1, -1):
        if width >> level & 1:
            if position % (1 << level):
                raise ValueError(f"[{start}, {end}) is not a node of any Merkle tree")
            keys.append((level, position >> level))
            position += 1 << level
    return keys


def _fold(hashes: list[bytes]) -> bytes:
    """Hash of a range from its tiles: the right-edge node is built from the right."""
    result = hashes[-1]
    for left in reversed(hashes[:-1]):
        result = node_hash(left, result)
    return result


def _hash_ranges(ranges: list[tuple[int, int]], fetch: Fetch) -> list[bytes]:
    tiles = [subtree_keys(start, end) for start, end in ranges]
    wanted = {key for keys in tiles for key in keys}
    found = fetch(wanted) if wanted else {}
    missing = wanted - found.keys()
    if missing:
        raise MissingNodeError(f"stored tree nodes missing (level, index): {sorted(missing)}")
    return [_fold([found[key] for key in keys]) for keys in tiles]


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1 as leaf ranges, leaf's sibling first."""
    ranges = []
    start, end, m = 0, size, index
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if m < k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
    ranges.reverse()
    return ranges


def _consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """PROOF(old_size, D[0:new_size]) of RFC 9162 §2.1.4.1 as leaf ranges."""
    ranges = []
    start, end, m, whole_old_tree = 0, new_size, old_size, True
    while end - start != m:
        k = _largest_power_of_two_below(end - start)
        if m <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            m -= k
            whole_old_tree = False
    if not whole_old_tree:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def root(size: int, fetch: Fetch) -> bytes:
    """MTH of the first ``size`` leaves."""
    if size < 0:
        raise ValueError(f"negative tree size {size}")
    if size == 0:
        return EMPTY_ROOT
    return _hash_ranges([(0, size)], fetch)[0]


def inclusion_proof(index: int, size: int, fetch: Fetch) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``size`` leaves (RFC 9162 PATH)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    return _hash_ranges(_inclusion_ranges(index, size), fetch)


def consistency_proof(old_size: int, new_size: int, fetch: Fetch) -> list[bytes]:
    """The proof that the tree of ``new_size`` extends that of ``old_size`` (RFC 9162 PROOF).

    Empty when there is nothing to prove (``old_size`` 0 or equal to ``new_size``).
    """
    if not 0 <= old_size <= new_size:
        raise ValueError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    return _hash_ranges(_consistency_ranges(old_size, new_size), fetch)


# --- client side: RFC 9162 §2.1.3.2 and §2.1.4.2 ----------------------------------------


def verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: list[bytes], root: bytes
) -> bool:
    """Whether ``proof`` shows ``leaf_hash`` at ``index`` in the tree ``(size, root)``."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> bool:
    """Whether ``proof`` shows the tree ``(new_size, new_root)`` extends ``(old_size,
    old_root)``: every leaf of the old tree is in the new one, unchanged and in place."""
    if not 0 <= old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof and old_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node of the new tree
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


# --- the incremental builder ------------------------------------------------------------


class Frontier:
    """The right edge of a growing tree (a compact range from leaf 0): one complete subtree
    per set bit of the size, largest first. Appending a leaf completes the subtrees it closes;
    the sequencer stores those, and the frontier alone gives the root at every size."""

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        hashes = list(hashes)
        if size < 0 or len(hashes) != size.bit_count():
            raise ValueError(
                f"a frontier of size {size} holds {max(size, 0).bit_count()} hashes, "
                f"not {len(hashes)}"
            )
        if any(len(h) != HASH_SIZE for h in hashes):
            raise ValueError("frontier hashes are 32 bytes each")
        self.size = size
        self.hashes = hashes

    def append(self, leaf: bytes) -> list[tuple[NodeKey, bytes]]:
        """Add the next leaf hash; return the complete subtrees it completes, smallest
        first: the leaf itself ``(0, old size)``, then each parent it closes."""
        if len(leaf) != HASH_SIZE:
            raise ValueError("a leaf hash is 32 bytes")
        position = self.size
        completed = [((0, position), leaf)]
        carry, level = leaf, 0
        while position >> level & 1:  # the subtree to the left at this level is complete
            carry = node_hash(self.hashes.pop(), carry)
            level += 1
            completed.append(((level, position >> level), carry))
        self.hashes.append(carry)
        self.size += 1
        return completed

    def extend(self, leaves: Iterable[bytes]) -> list[tuple[NodeKey, bytes]]:
        return [node for leaf in leaves for node in self.append(leaf)]

    def root(self) -> bytes:
        return _fold(self.hashes) if self.hashes else EMPTY_ROOT

    def keys(self) -> list[NodeKey]:
        """The stored nodes this frontier holds, largest first."""
        return subtree_keys(0, self.size) if self.size else []

    def copy(self) -> Frontier:
        return Frontier(self.size, self.hashes)

    def to_dict(self) -> dict[str, Any]:
        return {"size": self.size, "hashes": [encode_hash(h) for h in self.hashes]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Frontier:
        try:
            size, hashes = data["size"], data["hashes"]
        except (KeyError, TypeError) as error:
            raise ValueError("a frontier is {'size': int, 'hashes': [base64, ...]}") from error
        if not isinstance(size, int) or isinstance(size, bool) or not isinstance(hashes, list):
            raise ValueError("a frontier is {'size': int, 'hashes': [base64, ...]}")
        return cls(size, [decode_hash(h) for h in hashes])

    @classmethod
    def from_nodes(cls, size: int, fetch: Fetch) -> Frontier:
        """Rebuild the frontier of the tree of ``size`` leaves from the stored nodes."""
        if size < 0:
            raise ValueError(f"negative tree size {size}")
        keys = subtree_keys(0, size) if size else []
        found = fetch(set(keys)) if keys else {}
        missing = set(keys) - found.keys()
        if missing:
            raise MissingNodeError(f"stored tree nodes missing (level, index): {sorted(missing)}")
        return cls(size, [found[key] for key in keys])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return self.size == other.size and self.hashes == other.hashes

    def __repr__(self) -> str:
        return f"Frontier(size={self.size}, root={self.root().hex()})"


# --- signed notes and checkpoints (C2SP signed-note, tlog-checkpoint) ---------------------

_ED25519 = 0x01
_SIGNATURE_PREFIX = "\u2014 "  # em dash, space
_MAX_SIGNATURES = 100  # as Go's note.Open: no time spent on a note with thousands
_KEY_ID = re.compile(r"[0-9a-fA-F]{8}")


class KeyFormatError(ValueError):
    """A key text that is not ``name+keyid+base64`` (or ``PRIVATE+KEY+...``), or whose key
    ID does not match its name and key."""


class CheckpointError(ValueError):
    """A checkpoint that must not be trusted; the subclass says why."""


class MalformedNoteError(CheckpointError):
    pass


class UnknownKeyError(CheckpointError):
    pass


class BadSignatureError(CheckpointError):
    pass


class WrongOriginError(CheckpointError):
    pass


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def _key_id(name: str, public_key_with_type: bytes) -> int:
    digest = hashlib.sha256(name.encode() + b"\n" + public_key_with_type).digest()
    return struct.unpack(">I", digest[:4])[0]


def _decode_key_material(text: str, what: str) -> bytes:
    try:
        material = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as error:
        raise KeyFormatError(f"{what}: the key is not standard base64") from error
    if len(material) != 33 or material[0] != _ED25519:
        raise KeyFormatError(f"{what}: not an Ed25519 key (type 0x01 and 32 bytes)")
    return material[1:]


@dataclass(frozen=True)
class _Signer:
    name: str
    key_id: int
    private_key: Ed25519PrivateKey


@dataclass(frozen=True)
class _Verifier:
    name: str
    key_id: int
    public_key: Ed25519PublicKey


def _public_bytes(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes_raw()


def _parse_signing_key(text: str) -> _Signer:
    parts = text.strip().split("+", 4)  # the base64 key may hold '+' too
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise KeyFormatError("a signing key reads PRIVATE+KEY+<name>+<key id>+<base64 key>")
    _, _, name, key_id_hex, material = parts
    if not _valid_name(name) or not _KEY_ID.fullmatch(key_id_hex):
        raise KeyFormatError("a signing key reads PRIVATE+KEY+<name>+<key id>+<base64 key>")
    private_key = Ed25519PrivateKey.from_private_bytes(
        _decode_key_material(material, "signing key")
    )
    key_id = _key_id(name, bytes([_ED25519]) + _public_bytes(private_key))
    if int(key_id_hex, 16) != key_id:
        raise KeyFormatError(f"signing key {name}: the key ID does not match the key")
    return _Signer(name, key_id, private_key)


def _parse_verifier_key(text: str) -> _Verifier:
    parts = text.strip().split("+", 2)
    if len(parts) != 3 or not _valid_name(parts[0]) or not _KEY_ID.fullmatch(parts[1]):
        raise KeyFormatError("a verifier key reads <name>+<key id>+<base64 key>")
    name, key_id_hex, material = parts
    public = _decode_key_material(material, "verifier key")
    key_id = _key_id(name, bytes([_ED25519]) + public)
    if int(key_id_hex, 16) != key_id:
        raise KeyFormatError(f"verifier key {name}: the key ID does not match the key")
    return _Verifier(name, key_id, Ed25519PublicKey.from_public_bytes(public))


def generate_signing_key(name: str) -> str:
    """A new Ed25519 signing key text, ``PRIVATE+KEY+<name>+<key id>+<base64>``: keep secret."""
    if not _valid_name(name):
        raise KeyFormatError(f"a key name is non-empty, without spaces or '+': {name!r}")
    private_key = Ed25519PrivateKey.generate()
    seed = private_key.private_bytes_raw()
    key_id = _key_id(name, bytes([_ED25519]) + _public_bytes(private_key))
    material = base64.b64encode(bytes([_ED25519]) + seed).decode()
    return f"PRIVATE+KEY+{name}+{key_id:08x}+{material}"


def verifier_key(private_key_text: str) -> str:
    """The public verifier key text ``<name>+<key id>+<base64>`` of a signing key."""
    signer = _parse_signing_key(private_key_text)
    material = base64.b64encode(bytes([_ED25519]) + _public_bytes(signer.private_key)).decode()
    return f"{signer.name}+{signer.key_id:08x}+{material}"


def verifier_key_name(verifier_key_text: str) -> str:
    return _parse_verifier_key(verifier_key_text).name


def _check_note_text(text: str) -> None:
    if not text.endswith("\n") or any(ch < " " and ch != "\n" for ch in text):
        raise MalformedNoteError("a note's text ends in a newline and has no control characters")


def sign_note(private_key_text: str, text: str) -> str:
    """``text`` signed: the text, a blank line, and the signature line of the key."""
    signer = _parse_signing_key(private_key_text)
    _check_note_text(text)
    signature = signer.private_key.sign(text.encode())
    encoded = base64.b64encode(struct.pack(">I", signer.key_id) + signature).decode()
    return f"{text}\n{_SIGNATURE_PREFIX}{signer.name} {encoded}\n"


def open_note(note: str | bytes, verifier_key_text: str) -> str:
    """The text of a signed note after checking the signature of the given key.

    As C2SP signed-note and Go's ``note.Open``: signatures of other keys are ignored, a
    signature of the known key that does not verify rejects the note, and so does a note
    without one.
    """
    verifier = _parse_verifier_key(verifier_key_text)
    if isinstance(note, bytes):
        try:
            note = note.decode()
        except UnicodeDecodeError as error:
            raise MalformedNoteError("the note is not UTF-8") from error
    if any(ch < " " and ch != "\n" for ch in note):
        raise MalformedNoteError("the note contains control characters")
    split = note.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("the note has no blank line before its signatures")
    text, signatures = note[: split + 1], note[split + 2 :]
    if not signatures.endswith("\n"):
        raise MalformedNoteError("the note has no signature lines ending in a newline")
    lines = signatures[:-1].split("\n")
    if len(lines) > _MAX_SIGNATURES:
        raise MalformedNoteError(f"the note has more than {_MAX_SIGNATURES} signatures")
    verified = False
    for line in lines:
        if not line.startswith(_SIGNATURE_PREFIX):
            raise MalformedNoteError(f"not a signature line: {line!r}")
        name, _, encoded = line[len(_SIGNATURE_PREFIX) :].partition(" ")
        try:
            signature = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError) as error:
            raise MalformedNoteError(f"signature of {name!r} is not base64") from error
        if not _valid_name(name) or len(signature) < 5:
            raise MalformedNoteError(f"not a signature line: {line!r}")
        key_id = struct.unpack(">I", signature[:4])[0]
        if name != verifier.name or key_id != verifier.key_id:
            continue
        try:
            verifier.public_key.verify(signature[4:], text.encode())
        except InvalidSignature as error:
            raise BadSignatureError(
                f"the signature of key {name}+{key_id:08x} does not verify"
            ) from error
        verified = True
    if not verified:
        raise UnknownKeyError(
            f"the note is not signed by key {verifier.name}+{verifier.key_id:08x}"
        )
    return text


def checkpoint_body(origin: str, size: int, root: bytes) -> str:
    if not _valid_name(origin):
        raise ValueError(f"an origin is non-empty, without spaces or '+': {origin!r}")
    if size < 0 or len(root) != HASH_SIZE:
        raise ValueError("a checkpoint has a tree size >= 0 and a 32-byte root hash")
    return f"{origin}\n{size}\n{encode_hash(root)}\n"


def sign_checkpoint(private_key_text: str, origin: str, size: int, root: bytes) -> str:
    """The signed note of the tree head ``(size, root)``; the key's name is the origin."""
    name = _parse_signing_key(private_key_text).name
    if name != origin:
        raise ValueError(f"the signing key is named {name!r}, the log's origin is {origin!r}")
    return sign_note(private_key_text, checkpoint_body(origin, size, root))


def parse_checkpoint_body(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) != 4 or lines[3] != "":
        raise MalformedNoteError(
            "a checkpoint has exactly three lines: origin, tree size, root hash"
        )
    origin, size_text, root_text = lines[:3]
    if not origin:
        raise MalformedNoteError("the checkpoint's origin is empty")
    if not re.fullmatch(r"0|[1-9][0-9]*", size_text):
        raise MalformedNoteError(f"the checkpoint's tree size is not a number: {size_text!r}")
    try:
        root = decode_hash(root_text)
    except ValueError as error:
        raise MalformedNoteError(f"the checkpoint's root hash: {error}") from error
    return Checkpoint(origin, int(size_text), root)


def open_checkpoint(
    note_text: str | bytes, verifier_key_text: str, expected_origin: str | None = None
) -> Checkpoint:
    """The tree head of a signed checkpoint, after checking its signature and origin.

    The origin must be ``expected_origin``, by default the verifier key's name. Raises a
    :class:`CheckpointError` subclass (malformed note, unknown key, bad signature, wrong
    origin) or :class:`KeyFormatError` for a bad key text.
    """
    text = open_note(note_text, verifier_key_text)
    checkpoint = parse_checkpoint_body(text)
    expected = expected_origin or verifier_key_name(verifier_key_text)
    if checkpoint.origin != expected:
        raise WrongOriginError(
            f"the checkpoint is of log {checkpoint.origin!r}, expected {expected!r}"
        )
    return checkpoint
