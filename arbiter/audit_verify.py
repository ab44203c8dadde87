"""Check an Arbiter's audit log from outside, through its public API only.

    python -m arbiter.audit_verify https://arbiter.example [--key KEY] [--state FILE]
                                   [--decision POK/2026/000045]

Checks, one line each:

* **checkpoint**: the log's latest checkpoint is signed by the pinned key (``--key``, or the
  key remembered in the state file; on first use the key the log publishes is trusted, with
  a warning, and remembered);
* **log growth**: the log only grew since the checkpoint remembered in the state file (a
  consistency proof from that tree to the new one; a smaller tree or a failed proof is a
  rewritten history);
* with ``--decision``: the decision's audit entry hashes to its recorded hash, names the
  decision, and is included in the signed tree (an inclusion proof).

Exit status: 0 when every check passed (only then is the new checkpoint remembered), 1 when
one failed, 2 when the checks could not be made (network, HTTP error, unreadable state).
Only the standard library and :mod:`arbiter.tlog` (whose one dependency is ``cryptography``):
copied side by side, ``python audit_verify.py URL`` runs on a machine without Arbiter.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:
    from arbiter import tlog
except ImportError:
    # Run as a copy of the two files (audit_verify.py and tlog.py side by side) on a machine
    # without Arbiter and its dependencies: only ``cryptography`` is needed then.
    import tlog  # type: ignore[no-redef]

EXIT_OK, EXIT_FAILED, EXIT_UNCHECKED = 0, 1, 2
DEFAULT_STATE = "~/.arbiter-audit-verify.json"
TIMEOUT_SECONDS = 30
MAX_RESPONSE_BYTES = 10 * 1024 * 1024


class Unchecked(Exception):
    """The log could not be asked (network, HTTP error, an answer that is not JSON)."""


class CheckFailed(Exception):
    """A check failed; the message says why."""


class _Malformed(CheckFailed):
    def __init__(self, what: str) -> None:
        super().__init__(f"the server's answer is malformed: {what}")


# --- talking to the log ---------------------------------------------------------------------


class Log:
    """The public audit endpoints of one Arbiter."""

    def __init__(self, url: str) -> None:
        scheme = urllib.parse.urlsplit(url).scheme
        if scheme not in ("http", "https"):
            raise Unchecked(f"the URL must start with http:// or https://, not {url!r}")
        self.url = url.rstrip("/")

    def get(self, path: str, **params: Any) -> dict[str, Any]:
        url = self.url + path
        if params:
            url += "?" + urllib.parse.urlencode(params)
        request = urllib.request.Request(  # noqa: S310 (the scheme is checked above)
            url, headers={"Accept": "application/json", "User-Agent": "arbiter-audit-verify"}
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                body = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as error:
            error.close()
            raise Unchecked(f"GET {url}: HTTP {error.code} {error.reason}") from error
        except urllib.error.URLError as error:
            raise Unchecked(f"cannot reach {url}: {error.reason}") from error
        except (TimeoutError, OSError) as error:
            raise Unchecked(f"cannot reach {url}: {error}") from error
        if len(body) > MAX_RESPONSE_BYTES:
            raise Unchecked(f"GET {url}: the answer is larger than {MAX_RESPONSE_BYTES} bytes")
        try:
            data = json.loads(body)
        except ValueError as error:
            raise Unchecked(f"GET {url}: the answer is not JSON") from error
        if not isinstance(data, dict):
            raise Unchecked(f"GET {url}: the answer is not a JSON object")
        return data

    def head(self) -> dict[str, Any]:
        return self.get("/api/v1/audit/log")

    def consistency(self, old_size: int, new_size: int) -> list[bytes]:
        data = self.get("/api/v1/audit/consistency", **{"from": old_size, "to": new_size})
        if data.get("from") != old_size or data.get("to") != new_size:
            raise _Malformed(f"asked for sizes {old_size} to {new_size}, got another proof")
        return _hashes(data, "proof")

    def inclusion(self, leaf_index: int, tree_size: int) -> dict[str, Any]:
        data = self.get(f"/api/v1/audit/entries/{leaf_index}/proof", tree_size=tree_size)
        if data.get("leaf_index") != leaf_index or data.get("tree_size") != tree_size:
            raise _Malformed(f"asked for leaf {leaf_index} in size {tree_size}, got another")
        return data

    def decision(self, number: str) -> dict[str, Any]:
        return self.get("/api/v1/audit/decisions/" + urllib.parse.quote(number, safe="/"))


def _field(data: Any, name: str, kind: type | tuple[type, ...]) -> Any:
    value = data.get(name) if isinstance(data, dict) else None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _Malformed(f"{name!r} is missing or not a {getattr(kind, '__name__', kind)}")
    return value


def _hash(data: Any, name: str) -> bytes:
    try:
        return tlog.decode_hash(_field(data, name, str))
    except ValueError as error:
        raise _Malformed(f"{name!r}: {error}") from error


def _hashes(data: Any, name: str) -> list[bytes]:
    values = _field(data, name, list)
    try:
        return [tlog.decode_hash(value) for value in values]
    except (ValueError, TypeError) as error:
        raise _Malformed(f"{name!r}: {error}") from error


# --- the remembered state -------------------------------------------------------------------


@dataclass
class Remembered:
    """What the last fully verified run saw of one log."""

    verifier_key: str
    origin: str
    tree_size: int
    root_hash: bytes
    checkpoint: str


def load_state(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"logs": {}}
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(state, dict) or not isinstance(state.get("logs"), dict):
            raise ValueError("not an audit-verify state file")
    except (OSError, ValueError) as error:
        raise Unchecked(f"cannot read the state file {path}: {error}") from error
    return state


def remembered(state: dict[str, Any], url: str) -> Remembered | None:
    entry = state["logs"].get(url)
    if entry is None:
        return None
    try:
        return Remembered(
            verifier_key=entry["verifier_key"],
            origin=entry["origin"],
            tree_size=int(entry["tree_size"]),
            root_hash=tlog.decode_hash(entry["root_hash"]),
            checkpoint=entry["checkpoint"],
        )
    except (KeyError, TypeError, ValueError) as error:
        raise Unchecked(f"the state file's entry for {url} is damaged: {error}") from error


def save_state(path: Path, state: dict[str, Any], url: str, seen: Remembered) -> None:
    """Write the state atomically: a crash leaves the old file or the new one, never half."""
    state["logs"][url] = {
        "verifier_key": seen.verifier_key,
        "origin": seen.origin,
        "tree_size": seen.tree_size,
        "root_hash": tlog.encode_hash(seen.root_hash),
        "checkpoint": seen.checkpoint,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(
        "w", encoding="utf-8", dir=path.parent, prefix=path.name + ".", delete=False
    ) as handle:
        json.dump(state, handle, indent=2, sort_keys=True)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, path)


# --- the checks -----------------------------------------------------------------------------


@dataclass
class Report:
    out: Any = field(default_factory=lambda: sys.stdout)
    failures: int = 0

    def ok(self, check: str, message: str) -> None:
        print(f"OK      {check}: {message}", file=self.out)

    def failed(self, check: str, reason: str) -> None:
        self.failures += 1
        print(f"FAILED  {check}: {reason}", file=self.out)


def check_checkpoint(head: dict[str, Any], key: str, origin: str | None) -> tlog.Checkpoint:
    note = head.get("checkpoint")
    if note is None:
        raise CheckFailed("the log has published no signed checkpoint yet")
    if not isinstance(note, str):
        raise _Malformed("'checkpoint' is not a signed note")
    try:
        return tlog.open_checkpoint(note, key, expected_origin=origin)
    except (tlog.CheckpointError, tlog.KeyFormatError) as error:
        raise CheckFailed(str(error)) from error


def check_growth(log: Log, before: Remembered, now: tlog.Checkpoint) -> str:
    if now.size < before.tree_size:
        raise CheckFailed(
            f"the log shrank from {before.tree_size} to {now.size} entries: history was removed"
        )
    proof = [] if now.size == before.tree_size else log.consistency(before.tree_size, now.size)
    if not tlog.verify_consistency(before.tree_size, now.size, before.root_hash, now.root, proof):
        if now.size == before.tree_size:
            raise CheckFailed(
                f"the tree of {now.size} entries has another root than the one seen before: "
                "the log's history was rewritten"
            )
        raise CheckFailed(
            f"the tree of {now.size} entries does not extend the one of {before.tree_size} "
            "entries seen before: the log's history was rewritten"
        )
    if now.size == before.tree_size:
        return f"no new entries since the last run ({now.size} entries, same root)"
    return f"grew from {before.tree_size} to {now.size} entries, consistently"


def _mentions(value: Any, text: str) -> bool:
    if isinstance(value, str):
        return value == text
    if isinstance(value, dict):
        return any(_mentions(item, text) for item in value.values())
    if isinstance(value, list):
        return any(_mentions(item, text) for item in value)
    return False


def check_decision(log: Log, number: str, checkpoint: tlog.Checkpoint, report: Report) -> None:
    check = f"decision {number}"
    try:
        data = log.decision(number)
        entry = _field(data, "entry", dict)
        entry_id = _field(entry, "id", int)
        entry_hash = _field(entry, "hash", str)
        prev_hash = _field(entry, "prev_hash", str)
        content = _field(entry, "content", dict)
        if not _mentions(content, number):
            raise CheckFailed(f"audit entry #{entry_id} does not name decision {number}")
        report.ok(check, f"recorded by audit entry #{entry_id}")
        fingerprints = data.get("fingerprints")
        if isinstance(fingerprints, dict) and fingerprints:
            shown = ", ".join(f"{lang} {value}" for lang, value in sorted(fingerprints.items()))
            print(
                f"        document fingerprints (compare with your copy): {shown}", file=report.out
            )
    except CheckFailed as failure:
        report.failed(check, str(failure))
        return

    try:
        if tlog.chain_hash(prev_hash, content) != entry_hash:
            raise CheckFailed(
                f"audit entry #{entry_id}'s content does not hash to its recorded hash: "
                "the entry was changed"
            )
        report.ok("entry hash", f"entry #{entry_id}'s content hashes to {entry_hash}")
    except CheckFailed as failure:
        report.failed("entry hash", str(failure))

    try:
        leaf_index = data.get("leaf_index")
        if leaf_index is None:
            raise CheckFailed(
                "the entry is not in the tree yet (it is sequenced within a minute or two); "
                "run again later"
            )
        leaf_index = _field(data, "leaf_index", int)
        if leaf_index >= checkpoint.size:
            raise CheckFailed(
                f"the entry is leaf {leaf_index}, newer than the signed checkpoint "
                f"({checkpoint.size} entries); run again after the next checkpoint"
            )
        expected_leaf = tlog.leaf_hash(tlog.entry_leaf(entry_id, entry_hash))
        proof = log.inclusion(leaf_index, checkpoint.size)
        if _hash(proof, "leaf_hash") != expected_leaf:
            raise CheckFailed(f"the log's leaf {leaf_index} is not audit entry #{entry_id}")
        path = _hashes(proof, "inclusion_path")
        if not tlog.verify_inclusion(
            leaf_index, checkpoint.size, expected_leaf, path, checkpoint.root
        ):
            raise CheckFailed(
                f"the inclusion proof of leaf {leaf_index} does not lead to the signed root"
            )
        report.ok(
            "inclusion",
            f"entry #{entry_id} is leaf {leaf_index} of the signed tree of "
            f"{checkpoint.size} entries",
        )
    except CheckFailed as failure:
        report.failed("inclusion", str(failure))


def verify(
    url: str,
    key: str | None,
    state_path: Path,
    decision: str | None,
    out: Any = None,
    err: Any = None,
) -> int:
    """Run the checks; print one line each; return the exit status."""
    report = Report(out or sys.stdout)
    err = err or sys.stderr
    try:
        log = Log(url)
        state = load_state(state_path)
        before = remembered(state, log.url)
        head = log.head()

        if key is None and before is not None:
            key = before.verifier_key
        if key is None:
            key = head.get("verifier_key")
            if not isinstance(key, str):
                report.failed("checkpoint", "no key given and the log publishes none")
                return EXIT_FAILED
            print(
                f"WARNING: no key pinned for {log.url}: trusting the key the log publishes, "
                f"{key}, on first use and remembering it in {state_path}. Check it against "
                "the operator's key obtained another way, or pass it with --key.",
                file=err,
            )
        elif before is not None and key.strip() != before.verifier_key:
            print(
                f"NOTE: --key differs from the key remembered in {state_path}; using --key.",
                file=err,
            )
        key = key.strip()

        try:
            origin = before.origin if before is not None else None
            checkpoint = check_checkpoint(head, key, origin)
        except CheckFailed as failure:
            report.failed("checkpoint", str(failure))
            return EXIT_FAILED  # nothing else can be trusted without it
        report.ok(
            "checkpoint",
            f"signed by {tlog.verifier_key_name(key)}: log {checkpoint.origin}, "
            f"{checkpoint.size} entries, root {tlog.encode_hash(checkpoint.root)}",
        )

        if before is None:
            report.ok("log growth", "first run for this log: its checkpoint is remembered")
        else:
            try:
                report.ok("log growth", check_growth(log, before, checkpoint))
            except CheckFailed as failure:
                report.failed("log growth", str(failure))

        if decision is not None:
            check_decision(log, decision, checkpoint, report)

        if report.failures:
            print(
                f"{report.failures} check(s) FAILED; the remembered checkpoint is unchanged.",
                file=report.out,
            )
            return EXIT_FAILED
        save_state(
            state_path,
            state,
            log.url,
            Remembered(
                key, checkpoint.origin, checkpoint.size, checkpoint.root, head["checkpoint"]
            ),
        )
        print("All checks passed.", file=report.out)
        return EXIT_OK
    except Unchecked as error:
        print(f"ERROR: {error}", file=err)
        return EXIT_UNCHECKED
    except OSError as error:
        print(f"ERROR: cannot write the state file {state_path}: {error}", file=err)
        return EXIT_UNCHECKED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m arbiter.audit_verify",
        description="Check an Arbiter's audit log through its public API: the signed "
        "checkpoint, that the log only grew, and a decision's inclusion.",
    )
    parser.add_argument("url", help="the Arbiter's address, e.g. https://arbiter.example")
    parser.add_argument("--key", help="the log's verifier key, <name>+<key id>+<base64 key>")
    parser.add_argument(
        "--state",
        default=DEFAULT_STATE,
        help=f"where the last verified checkpoint is remembered (default {DEFAULT_STATE})",
    )
    parser.add_argument("--decision", help="a decision number to check, e.g. POK/2026/000045")
    args = parser.parse_args(argv)
    return verify(args.url, args.key, Path(args.state).expanduser(), args.decision)


if __name__ == "__main__":
    sys.exit(main())
