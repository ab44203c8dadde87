"""arbiter.tlog against an independent RFC 9162 reference and published signed-note vectors.

The reference below is written from the recursive definitions of RFC 9162 §2.1 (MTH, PATH,
PROOF and SUBPROOF over lists of leaves), with its own hashing, and checks proofs by
rebuilding the roots recursively: it shares no code with arbiter.tlog.
"""

import base64
import hashlib
import random
from functools import cache

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from arbiter import audit, tlog

MAX_SIZE = 1000


# --- the reference ------------------------------------------------------------------------

LEAVES = [f"leaf {i}".encode() for i in range(MAX_SIZE)]


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@cache
def mth(start: int, end: int) -> bytes:
    """MTH(D[start:end]) of the leaves above (memoised: every tree shares its subtrees)."""
    n = end - start
    if n == 0:
        return _h(b"")
    if n == 1:
        return _h(b"\x00" + LEAVES[start])
    k = _split(n)
    return _h(b"\x01" + mth(start, start + k) + mth(start + k, end))


def path(m: int, start: int, end: int) -> list[bytes]:
    """PATH(m, D[start:end])."""
    n = end - start
    if n == 1:
        return []
    k = _split(n)
    if m < k:
        return [*path(m, start, start + k), mth(start + k, end)]
    return [*path(m - k, start + k, end), mth(start, start + k)]


def subproof(m: int, start: int, end: int, whole: bool) -> list[bytes]:
    """SUBPROOF(m, D[start:end], b)."""
    n = end - start
    if m == n:
        return [] if whole else [mth(start, end)]
    k = _split(n)
    if m <= k:
        return [*subproof(m, start, start + k, whole), mth(start + k, end)]
    return [*subproof(m - k, start + k, end, False), mth(start, start + k)]


def reference_inclusion_root(m: int, n: int, leaf: bytes, proof: list[bytes]) -> bytes | None:
    """The root a PATH proves for leaf m of a tree of n leaves (None: wrong length)."""
    if n == 1:
        return leaf if not proof else None
    if not proof:
        return None
    k = _split(n)
    *rest, sibling = proof
    if m < k:
        below = reference_inclusion_root(m, k, leaf, rest)
        return None if below is None else _h(b"\x01" + below + sibling)
    below = reference_inclusion_root(m - k, n - k, leaf, rest)
    return None if below is None else _h(b"\x01" + sibling + below)


def reference_consistency_check(
    m: int, n: int, old_root: bytes, new_root: bytes, proof: list[bytes]
) -> bool:
    """Rebuild both roots from a PROOF by following SUBPROOF's recursion."""
    remaining = list(proof)

    def rebuild(m: int, n: int, whole: bool) -> tuple[bytes, bytes]:
        if m == n:
            if whole:
                return old_root, old_root
            node = remaining.pop()
            return node, node
        k = _split(n)
        node = remaining.pop()
        if m <= k:
            old, new = rebuild(m, k, whole)
            return old, _h(b"\x01" + new + node)
        old, new = rebuild(m - k, n - k, False)
        return _h(b"\x01" + node + old), _h(b"\x01" + node + new)

    try:
        old, new = rebuild(m, n, True)
    except IndexError:
        return False
    return not remaining and old == old_root and new == new_root


def reference_leaf(i: int) -> bytes:
    return _h(b"\x00" + LEAVES[i])


# --- a store of complete subtrees, built from the reference --------------------------------

STORE = {
    (level, index): mth(index << level, (index + 1) << level)
    for level in range(MAX_SIZE.bit_length())
    for index in range(MAX_SIZE >> level)
}


class CountingFetch:
    def __init__(self, store):
        self.store = store
        self.calls = 0

    def __call__(self, keys):
        self.calls += 1
        return {key: self.store[key] for key in keys if key in self.store}


def _tamper(value: bytes) -> bytes:
    return bytes([value[0] ^ 1]) + value[1:]


def _samples(n: int, rng: random.Random) -> list[int]:
    picks = {0, n - 1, n // 2, _split(n) if n > 1 else 0, rng.randrange(n), rng.randrange(n)}
    return sorted(p for p in picks if 0 <= p < n)


# --- the tree -------------------------------------------------------------------------------


def test_hashes_follow_rfc_9162_and_the_entry_leaf_format():
    assert tlog.leaf_hash(b"abc") == _h(b"\x00abc")
    assert tlog.node_hash(b"L" * 32, b"R" * 32) == _h(b"\x01" + b"L" * 32 + b"R" * 32)
    assert tlog.entry_leaf(45, "ab" * 32) == b"arbiter-audit-entry/v1\n45\n" + b"ab" * 32 + b"\n"
    assert tlog.root(0, CountingFetch({})) == _h(b"")


def test_chain_hash_moved_unchanged_and_still_importable_from_audit():
    content = {"b": [1, "ż"], "a": None, "at": "2026-01-01T00:00:00"}
    canonical = '{"a":null,"at":"2026-01-01T00:00:00","b":[1,"ż"]}'
    assert tlog.chain_hash("0" * 64, content) == _h(("0" * 64 + canonical).encode()).hex()
    assert audit.chain_hash is tlog.chain_hash


def test_roots_and_proofs_equal_the_reference_for_every_size_up_to_1000():
    rng = random.Random(24)
    for n in range(1, MAX_SIZE + 1):
        fetch = CountingFetch(STORE)
        root = tlog.root(n, fetch)
        assert root == mth(0, n), n
        assert fetch.calls == 1

        for m in _samples(n, rng):
            fetch = CountingFetch(STORE)
            proof = tlog.inclusion_proof(m, n, fetch)
            assert proof == path(m, 0, n), (m, n)
            assert fetch.calls <= 1
            leaf = reference_leaf(m)
            assert tlog.verify_inclusion(m, n, leaf, proof, root), (m, n)
            assert reference_inclusion_root(m, n, leaf, proof) == root
            _assert_inclusion_tampering_fails(m, n, leaf, proof, root)

        for old in {*_samples(n, rng), n - 1, n}:
            if old == 0:
                continue
            fetch = CountingFetch(STORE)
            proof = tlog.consistency_proof(old, n, fetch)
            assert proof == subproof(old, 0, n, True), (old, n)
            assert fetch.calls <= 1
            old_root = mth(0, old)
            assert tlog.verify_consistency(old, n, old_root, root, proof), (old, n)
            assert reference_consistency_check(old, n, old_root, root, proof)
            _assert_consistency_tampering_fails(old, n, old_root, root, proof)


def test_every_proof_of_the_small_trees():
    for n in range(1, 41):
        root = mth(0, n)
        for m in range(n):
            proof = tlog.inclusion_proof(m, n, CountingFetch(STORE))
            assert proof == path(m, 0, n)
            assert tlog.verify_inclusion(m, n, reference_leaf(m), proof, root)
            for i in range(len(proof)):
                tampered = [*proof[:i], _tamper(proof[i]), *proof[i + 1 :]]
                assert not tlog.verify_inclusion(m, n, reference_leaf(m), tampered, root)
            for other in range(n):
                if other != m:
                    assert not tlog.verify_inclusion(other, n, reference_leaf(m), proof, root)
        for old in range(1, n + 1):
            proof = tlog.consistency_proof(old, n, CountingFetch(STORE))
            assert proof == subproof(old, 0, n, True)
            assert tlog.verify_consistency(old, n, mth(0, old), root, proof)
            for i in range(len(proof)):
                tampered = [*proof[:i], _tamper(proof[i]), *proof[i + 1 :]]
                assert not tlog.verify_consistency(old, n, mth(0, old), root, tampered)
            for other in range(1, n + 1):
                if other != old and mth(0, other) != mth(0, old):
                    assert not tlog.verify_consistency(other, n, mth(0, old), root, proof)


def _some_positions(proof: list[bytes]) -> set[int]:
    """The first, last and a middle element: every one is checked in the small trees."""
    return {0, len(proof) // 2, len(proof) - 1} if proof else set()


def _assert_inclusion_tampering_fails(m, n, leaf, proof, root):
    def rejected(index, size, leaf_hash, proof, root):
        assert not tlog.verify_inclusion(index, size, leaf_hash, proof, root)
        assert reference_inclusion_root(index, size, leaf_hash, proof) != root

    rejected(m, n, _tamper(leaf), proof, root)
    rejected(m, n, leaf, proof, _tamper(root))
    for i in _some_positions(proof):
        rejected(m, n, leaf, [*proof[:i], _tamper(proof[i]), *proof[i + 1 :]], root)
    if proof:
        rejected(m, n, leaf, proof[:-1], root)
    rejected(m, n, leaf, [*proof, b"\x00" * 32], root)
    if n > 1:
        rejected(m ^ 1 if m ^ 1 < n else m - 1, n, leaf, proof, root)
    assert not tlog.verify_inclusion(n, n, leaf, proof, root)
    assert not tlog.verify_inclusion(-1, n, leaf, proof, root)


def _assert_consistency_tampering_fails(old, n, old_root, root, proof):
    def rejected(old_size, new_size, old_root, new_root, proof):
        assert not tlog.verify_consistency(old_size, new_size, old_root, new_root, proof)
        if 0 < old_size <= new_size:
            assert not reference_consistency_check(old_size, new_size, old_root, new_root, proof)

    rejected(old, n, _tamper(old_root), root, proof)
    rejected(old, n, old_root, _tamper(root), proof)
    for i in _some_positions(proof):
        rejected(old, n, old_root, root, [*proof[:i], _tamper(proof[i]), *proof[i + 1 :]])
    if proof:
        rejected(old, n, old_root, root, proof[:-1])
    rejected(old, n, old_root, root, [*proof, b"\x00" * 32])
    assert not tlog.verify_consistency(n + 1, n, root, root, [])


def test_consistency_edge_cases():
    root = mth(0, 7)
    assert tlog.consistency_proof(7, 7, CountingFetch(STORE)) == []
    assert tlog.consistency_proof(0, 7, CountingFetch(STORE)) == []
    assert tlog.verify_consistency(7, 7, root, root, [])
    assert not tlog.verify_consistency(7, 7, root, _tamper(root), [])
    assert not tlog.verify_consistency(7, 7, root, root, [root])
    assert tlog.verify_consistency(0, 7, tlog.EMPTY_ROOT, root, [])
    assert not tlog.verify_consistency(0, 7, root, root, [])
    assert not tlog.verify_consistency(3, 7, mth(0, 3), root, [])
    with pytest.raises(ValueError):
        tlog.consistency_proof(8, 7, CountingFetch(STORE))
    with pytest.raises(ValueError):
        tlog.inclusion_proof(7, 7, CountingFetch(STORE))


def test_a_missing_stored_node_is_an_error_not_a_wrong_proof():
    store = dict(STORE)
    del store[(2, 1)]  # leaves 4..7
    del store[(1, 2)]  # leaves 4..5
    with pytest.raises(tlog.MissingNodeError, match=r"\(1, 2\)"):
        tlog.root(7, CountingFetch(store))
    with pytest.raises(tlog.MissingNodeError, match=r"\(2, 1\)"):
        tlog.inclusion_proof(0, 8, CountingFetch(store))
    with pytest.raises(tlog.MissingNodeError):
        tlog.Frontier.from_nodes(7, CountingFetch(store))


# --- the frontier ---------------------------------------------------------------------------


def test_frontier_gives_the_reference_root_and_completes_exactly_the_complete_subtrees():
    frontier = tlog.Frontier()
    assert frontier.root() == _h(b"")
    stored = {}
    for n in range(1, MAX_SIZE + 1):
        completed = frontier.append(reference_leaf(n - 1))
        assert frontier.size == n
        assert frontier.root() == mth(0, n), n
        # The nodes completed by leaf n-1: every complete aligned subtree ending at leaf n.
        expected = [
            ((level, (n >> level) - 1), STORE[(level, (n >> level) - 1)])
            for level in range(n.bit_length())
            if n % (1 << level) == 0
        ]
        assert completed == expected, n
        for key, value in completed:
            assert key not in stored
            stored[key] = value

        if n % 37 == 0 or n & (n - 1) == 0 or n == MAX_SIZE:
            again = tlog.Frontier.from_dict(frontier.to_dict())
            assert again == frontier and again.root() == frontier.root()
            fetch = CountingFetch(stored)
            rebuilt = tlog.Frontier.from_nodes(n, fetch)
            assert rebuilt == frontier and fetch.calls == 1
            assert set(rebuilt.keys()) <= stored.keys()
    assert stored == STORE


def test_a_resumed_frontier_grows_like_the_original():
    original = tlog.Frontier()
    original.extend(reference_leaf(i) for i in range(300))
    resumed = tlog.Frontier.from_dict(original.to_dict())
    for i in range(300, 700):
        assert resumed.append(reference_leaf(i)) == original.append(reference_leaf(i))
    assert resumed.root() == mth(0, 700)


def test_a_frontier_with_the_wrong_number_of_hashes_is_refused():
    with pytest.raises(ValueError):
        tlog.Frontier(3, [b"\x00" * 32])
    with pytest.raises(ValueError):
        tlog.Frontier.from_dict({"size": 2, "hashes": ["not base64"]})
    with pytest.raises(ValueError):
        tlog.Frontier.from_dict({"hashes": []})


# --- signed notes and checkpoints -----------------------------------------------------------

# golang.org/x/mod/sumdb/note's tests (note_test.go).
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqf"
    "qdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "\u2014 EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOT"
    "GwnWLox33WWd1RvMc+QQ=\n"
)

# Checkpoints published by sum.golang.org, with its verifier key (cmd/go's built-in GOSUMDB).
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_CHECKPOINTS = [
    (
        "go.sum database tree\n15368405\n/g9am3I6YWNKaZX/jkne1fqd9zEyjss+JXyPXG0WfkY=\n\n"
        "\u2014 sum.golang.org Az3grqJGUaSGukG9p8nI2vKgiFn7qGHxn0W+mrwyI6Gz3F0t1J3LzmWk/p96Ybf2"
        "95EjwdSwlzgijq5WA9d1Ded7owM=\n",
        15368405,
        "/g9am3I6YWNKaZX/jkne1fqd9zEyjss+JXyPXG0WfkY=",
    ),
    (
        "go.sum database tree\n63512409\nF7eHRPqN/cqPtqti14NKdGGaI1Giw8coWP3KxihFZbg=\n\n"
        "\u2014 sum.golang.org Az3gri1OBHKT87Xj8UXU8zjoHGy/X+7Nl94f8TZkELVaasolmGApUsWqwVG9vE6h"
        "gqYb/ph/w2vdkLIVRH7bMB/FPQ4=\n",
        63512409,
        "F7eHRPqN/cqPtqti14NKdGGaI1Giw8coWP3KxihFZbg=",
    ),
]


def test_go_note_vectors_sign_and_open():
    assert tlog.verifier_key(PETER_SKEY) == PETER_VKEY
    assert tlog.sign_note(PETER_SKEY, TEXT) == TEXT + "\n" + PETER_SIG
    note = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert tlog.open_note(note, PETER_VKEY) == TEXT
    assert tlog.open_note(note, ENOCH_VKEY) == TEXT
    assert tlog.open_note(note.encode(), PETER_VKEY) == TEXT


@pytest.mark.parametrize(("note", "size", "root"), SUMDB_CHECKPOINTS)
def test_published_sum_golang_org_checkpoints_open(note, size, root):
    checkpoint = tlog.open_checkpoint(note, SUMDB_VKEY, expected_origin="go.sum database tree")
    assert checkpoint == tlog.Checkpoint("go.sum database tree", size, base64.b64decode(root))
    with pytest.raises(tlog.WrongOriginError):
        tlog.open_checkpoint(note, SUMDB_VKEY)  # the key is named sum.golang.org
    with pytest.raises(tlog.BadSignatureError):
        tlog.open_checkpoint(
            note.replace(str(size), str(size + 1), 1), SUMDB_VKEY, "go.sum database tree"
        )


def test_mangled_go_keys_are_refused():
    def refused(parse, text):
        with pytest.raises(tlog.KeyFormatError):
            parse(text)

    for key, parse in ((PETER_VKEY, tlog.verifier_key_name), (PETER_SKEY, tlog.verifier_key)):
        for i in range(len(key) + 1):
            for j in range(i + 1, len(key) + 1):
                if (i, j) != (0, len(key)):
                    refused(parse, key[i:j])
        for i in range(len(key)):
            refused(parse, key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :])
    # From note_test.go: a wrong-length key and an unknown algorithm, each with its key ID.
    refused(
        tlog.verifier_key_name,
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
    )
    refused(
        tlog.verifier_key_name, "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    )


def test_malformed_go_notes_are_refused():
    bad = [
        TEXT,
        TEXT + "\n",
        TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + TEXT + "\n" + PETER_SIG,
        TEXT + "\n\u2014 Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZ"
        "SNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        TEXT + "\n" + PETER_SIG * 101,
    ]
    for note in bad:
        with pytest.raises(tlog.MalformedNoteError):
            tlog.open_note(note, PETER_VKEY)
    with pytest.raises(tlog.MalformedNoteError):
        tlog.open_note(b"\xff" + (TEXT + "\n" + PETER_SIG).encode(), PETER_VKEY)
    with pytest.raises(tlog.BadSignatureError):
        tlog.open_note(TEXT + "\n" + PETER_SIG[:60] + "ABCD" + PETER_SIG[60:], PETER_VKEY)
    with pytest.raises(tlog.UnknownKeyError):
        tlog.open_note(TEXT + "\n" + ENOCH_SIG, PETER_VKEY)


def test_checkpoint_round_trip_in_the_c2sp_format():
    origin = "arbiter.example/audit"
    skey = tlog.generate_signing_key(origin)
    assert skey.startswith(f"PRIVATE+KEY+{origin}+")
    vkey = tlog.verifier_key(skey)
    root = mth(0, 45)
    note = tlog.sign_checkpoint(skey, origin, 45, root)

    body, signature_line = note.split("\n\n")
    assert body == f"{origin}\n45\n{base64.b64encode(root).decode()}"
    assert signature_line.startswith(f"\u2014 {origin} ") and signature_line.endswith("\n")
    # The signature checked without arbiter.tlog: key ID, then Ed25519 over the note text.
    name, key_id_hex, material = vkey.split("+", 2)
    public = base64.b64decode(material)
    assert name == origin and public[0] == 1
    assert bytes.fromhex(key_id_hex) == _h(origin.encode() + b"\n" + public)[:4]
    signature = base64.b64decode(signature_line.split(" ")[2])
    assert signature[:4] == bytes.fromhex(key_id_hex)
    Ed25519PublicKey.from_public_bytes(public[1:]).verify(signature[4:], (body + "\n").encode())

    assert tlog.open_checkpoint(note, vkey) == tlog.Checkpoint(origin, 45, root)
    assert tlog.open_checkpoint(note, vkey, expected_origin=origin).size == 45
    empty = tlog.sign_checkpoint(skey, origin, 0, tlog.EMPTY_ROOT)
    assert tlog.open_checkpoint(empty, vkey) == tlog.Checkpoint(origin, 0, tlog.EMPTY_ROOT)


def test_tampered_or_foreign_checkpoints_are_refused():
    origin = "arbiter.example/audit"
    skey = tlog.generate_signing_key(origin)
    vkey = tlog.verifier_key(skey)
    root = mth(0, 45)
    note = tlog.sign_checkpoint(skey, origin, 45, root)

    with pytest.raises(tlog.BadSignatureError):
        tlog.open_checkpoint(note.replace("\n45\n", "\n46\n"), vkey)
    with pytest.raises(tlog.BadSignatureError):
        tlog.open_checkpoint(
            note.replace(tlog.encode_hash(root), tlog.encode_hash(root[::-1])), vkey
        )
    other = tlog.generate_signing_key(origin)  # same name, other key: another key ID
    with pytest.raises(tlog.UnknownKeyError):
        tlog.open_checkpoint(tlog.sign_checkpoint(other, origin, 45, root), vkey)
    with pytest.raises(tlog.WrongOriginError):
        tlog.open_checkpoint(note, vkey, expected_origin="elsewhere.example/audit")
    elsewhere = tlog.generate_signing_key("elsewhere.example/audit")
    with pytest.raises(tlog.WrongOriginError):  # signed by the right key, for another log
        tlog.open_checkpoint(
            tlog.sign_note(elsewhere, f"{origin}\n45\n{tlog.encode_hash(root)}\n"),
            tlog.verifier_key(elsewhere),
        )

    body = f"{origin}\n45\n{tlog.encode_hash(root)}\n"
    for text in (
        body + "extension\n",  # Arbiter signs no extension lines
        f"{origin}\n45\n",
        f"{origin}\n045\n{tlog.encode_hash(root)}\n",
        f"{origin}\n-1\n{tlog.encode_hash(root)}\n",
        f"{origin}\n45\n{tlog.encode_hash(root[:31])}\n",
        f"\n45\n{tlog.encode_hash(root)}\n",
    ):
        with pytest.raises(tlog.MalformedNoteError):
            tlog.open_checkpoint(tlog.sign_note(skey, text), vkey, expected_origin=origin)
    with pytest.raises(tlog.MalformedNoteError):
        tlog.open_checkpoint(note + "\u2014 extra line\n", vkey)
    with pytest.raises(tlog.MalformedNoteError):
        tlog.open_checkpoint(note.replace("\n\n", "\n"), vkey)
    with pytest.raises(tlog.KeyFormatError):
        tlog.open_checkpoint(note, "not a key")
    with pytest.raises(ValueError):
        tlog.sign_checkpoint(skey, "elsewhere.example/audit", 45, root)
    with pytest.raises(tlog.KeyFormatError):
        tlog.generate_signing_key("has space")
