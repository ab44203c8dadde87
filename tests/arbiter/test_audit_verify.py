"""The stand-alone verifier against a fake Arbiter serving a log built with arbiter.tlog."""

import copy
import http.server
import json
import subprocess
import sys
import threading
import urllib.parse
from pathlib import Path

import pytest

from arbiter import audit_verify, tlog

ORIGIN = "arbiter.example/audit"
NUMBER = "POK/2026/000045"
PREFIX = "/api/v1/audit/"


class FakeLog:
    """An audit log as the server keeps it: entries, stored complete subtrees, a checkpoint."""

    def __init__(self, signing_key: str, contents: list[dict]) -> None:
        self.signing_key = signing_key
        self.entries: list[dict] = []
        self.frontier = tlog.Frontier()
        self.nodes: dict = {}
        self.checkpoint: str | None = None
        self.signed_size = 0
        self.decisions: dict[str, int] = {}  # number -> leaf index (None: not sequenced)
        self.tamper: dict = {}  # endpoint name -> function changing its answer
        for content in contents:
            self.add(content)
        self.sign()

    def add(self, content: dict) -> dict:
        prev = self.entries[-1]["hash"] if self.entries else "0" * 64
        entry = {
            "id": len(self.entries) + 1,
            "chain": None,
            "seq": None,
            "prev_hash": prev,
            "hash": tlog.chain_hash(prev, content),
            "content": content,
        }
        self.entries.append(entry)
        leaf = tlog.leaf_hash(tlog.entry_leaf(entry["id"], entry["hash"]))
        self.nodes.update(self.frontier.append(leaf))
        number = (content.get("after") or {}).get("number")
        if number:
            self.decisions[number] = len(self.entries) - 1
        return entry

    def sign(self) -> None:
        self.signed_size = self.frontier.size
        self.checkpoint = tlog.sign_checkpoint(
            self.signing_key, ORIGIN, self.frontier.size, self.frontier.root()
        )

    def fetch(self, keys):
        return {key: self.nodes[key] for key in keys if key in self.nodes}

    def answer(self, path: str, query: dict) -> tuple[int, dict]:
        if path == PREFIX + "log":
            checkpoint = tlog.parse_checkpoint_body(self.checkpoint.split("\n\n")[0] + "\n")
            return self._tampered(
                "log",
                {
                    "origin": ORIGIN,
                    "verifier_key": tlog.verifier_key(self.signing_key),
                    "checkpoint": self.checkpoint,
                    "tree_size": checkpoint.size,
                    "root_hash": tlog.encode_hash(checkpoint.root),
                },
            )
        if path == PREFIX + "consistency":
            old, new = int(query["from"]), int(query["to"])
            proof = tlog.consistency_proof(old, new, self.fetch)
            return self._tampered(
                "consistency",
                {"from": old, "to": new, "proof": [tlog.encode_hash(h) for h in proof]},
            )
        if path.startswith(PREFIX + "entries/") and path.endswith("/proof"):
            index = int(path.split("/")[-2])
            size = int(query["tree_size"])
            entry = self.entries[index]
            leaf = tlog.leaf_hash(tlog.entry_leaf(entry["id"], entry["hash"]))
            proof = tlog.inclusion_proof(index, size, self.fetch)
            return self._tampered(
                "proof",
                {
                    "leaf_index": index,
                    "tree_size": size,
                    "leaf_hash": tlog.encode_hash(leaf),
                    "inclusion_path": [tlog.encode_hash(h) for h in proof],
                    "entry": entry,
                },
            )
        if path.startswith(PREFIX + "decisions/"):
            number = urllib.parse.unquote(path[len(PREFIX + "decisions/") :])
            if number not in self.decisions:
                return 404, {"message": "no such decision"}
            index = self.decisions[number]
            return self._tampered(
                "decision",
                {
                    "number": number,
                    "leaf_index": index,
                    "fingerprints": {"pl": "aa" * 32, "en": "bb" * 32},
                    "entry": self.entries[index],
                },
            )
        return 404, {"message": "not found"}

    def _tampered(self, name: str, data: dict) -> tuple[int, dict]:
        if name in self.tamper:
            data = self.tamper[name](copy.deepcopy(data))
        return 200, data


def content(i: int, number: str | None = None) -> dict:
    return {
        "at": f"2026-12-06T04:{i % 60:02d}:00+00:00",
        "actor_id": None,
        "action": "decision.issued" if number else "policy.published",
        "object_type": "decision" if number else "policy_version",
        "object_id": str(i),
        "before": None,
        "after": {"number": number} if number else {"version": i},
        "note": None,
    }


def contents(n: int, decision_at: int = 3) -> list[dict]:
    return [content(i, NUMBER if i == decision_at else None) for i in range(n)]


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        status, data = self.server.log.answer(url.path, query)
        body = json.dumps(data).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def signing_key():
    return tlog.generate_signing_key(ORIGIN)


@pytest.fixture
def server(signing_key):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    httpd.log = FakeLog(signing_key, contents(5))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def state(tmp_path) -> Path:
    return tmp_path / "state" / "audit-verify.json"


def run(capsys, server, state, *args, key=None):
    argv = [server.url, "--state", str(state), *args]
    if key is not None:
        argv += ["--key", key]
    status = audit_verify.main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def remembered_size(state: Path, server) -> int:
    return json.loads(state.read_text())["logs"][server.url]["tree_size"]


def test_a_log_that_only_grew_passes_and_its_checkpoint_is_remembered(
    capsys, server, state, signing_key
):
    key = tlog.verifier_key(signing_key)
    status, out, err = run(capsys, server, state, "--decision", NUMBER, key=key)
    assert status == 0, out + err
    assert (
        "OK      checkpoint: signed by arbiter.example/audit: log arbiter.example/audit, 5" in out
    )
    assert "OK      log growth: first run" in out
    assert f"OK      decision {NUMBER}: recorded by audit entry #4" in out
    assert "OK      entry hash" in out
    assert "OK      inclusion: entry #4 is leaf 3 of the signed tree of 5 entries" in out
    assert "All checks passed." in out and "WARNING" not in err
    assert remembered_size(state, server) == 5

    for i in range(5, 23):
        server.log.add(content(i))
    server.log.sign()
    status, out, _ = run(capsys, server, state, "--decision", NUMBER, key=key)
    assert status == 0, out
    assert "OK      log growth: grew from 5 to 23 entries, consistently" in out
    assert "leaf 3 of the signed tree of 23 entries" in out
    assert remembered_size(state, server) == 23

    status, out, _ = run(capsys, server, state)  # the key remembered, nothing new
    assert status == 0, out
    assert "no new entries since the last run (23 entries, same root)" in out


def test_first_use_trusts_the_published_key_with_a_warning_then_pins_it(
    capsys, server, state, signing_key
):
    status, out, err = run(capsys, server, state)
    assert status == 0, out + err
    assert "WARNING: no key pinned" in err and tlog.verifier_key(signing_key) in err
    saved = json.loads(state.read_text())["logs"][server.url]
    assert saved["verifier_key"] == tlog.verifier_key(signing_key)

    # The log now signs with another key (a takeover): the pinned key refuses it.
    impostor = FakeLog(tlog.generate_signing_key(ORIGIN), contents(7))
    server.log = impostor
    before = state.read_bytes()
    status, out, err = run(capsys, server, state)
    assert status == 1
    assert "FAILED  checkpoint: the note is not signed by key arbiter.example/audit+" in out
    assert "WARNING" not in err
    assert state.read_bytes() == before


def test_a_forked_log_fails_the_growth_check(capsys, server, state, signing_key):
    key = tlog.verifier_key(signing_key)
    assert run(capsys, server, state, key=key)[0] == 0
    before = state.read_bytes()

    rewritten = contents(8)
    rewritten[2]["note"] = "rewritten history"
    server.log = FakeLog(signing_key, rewritten)  # validly signed, but not an extension
    status, out, _ = run(capsys, server, state, "--decision", NUMBER, key=key)
    assert status == 1
    assert "OK      checkpoint" in out
    assert (
        "FAILED  log growth: the tree of 8 entries does not extend the one of 5 entries "
        "seen before: the log's history was rewritten" in out
    )
    assert "1 check(s) FAILED; the remembered checkpoint is unchanged." in out
    assert state.read_bytes() == before


def test_a_shrunk_log_fails(capsys, server, state, signing_key):
    key = tlog.verifier_key(signing_key)
    assert run(capsys, server, state, key=key)[0] == 0
    server.log = FakeLog(signing_key, contents(4))
    status, out, _ = run(capsys, server, state, key=key)
    assert status == 1
    assert "FAILED  log growth: the log shrank from 5 to 4 entries" in out
    assert remembered_size(state, server) == 5

    same_size = contents(5)
    same_size[0]["note"] = "rewritten"
    server.log = FakeLog(signing_key, same_size)
    status, out, _ = run(capsys, server, state, key=key)
    assert status == 1
    assert "FAILED  log growth: the tree of 5 entries has another root than the one seen" in out


def test_a_bad_signature_fails_and_nothing_is_remembered(capsys, server, state, signing_key):
    server.log.checkpoint = server.log.checkpoint.replace("\n5\n", "\n6\n")
    status, out, _ = run(capsys, server, state, key=tlog.verifier_key(signing_key))
    assert status == 1
    assert "FAILED  checkpoint: the signature of key arbiter.example/audit+" in out
    assert "does not verify" in out
    assert not state.exists()


def test_a_changed_entry_content_fails(capsys, server, state, signing_key):
    key = tlog.verifier_key(signing_key)

    def change(data):
        data["entry"]["content"]["note"] = "changed after the fact"
        return data

    server.log.tamper["decision"] = change
    status, out, _ = run(capsys, server, state, "--decision", NUMBER, key=key)
    assert status == 1
    assert "FAILED  entry hash: audit entry #4's content does not hash to its recorded hash" in out
    assert not state.exists()

    def change_and_rehash(data):
        entry = change(data)["entry"]
        entry["hash"] = tlog.chain_hash(entry["prev_hash"], entry["content"])
        return data

    server.log.tamper["decision"] = change_and_rehash
    status, out, _ = run(capsys, server, state, "--decision", NUMBER, key=key)
    assert status == 1
    assert "OK      entry hash" in out
    assert "FAILED  inclusion: the log's leaf 3 is not audit entry #4" in out

    def matching_leaf(data):  # the server lies about the leaf too: the path gives it away
        entry = change_and_rehash({"entry": data["entry"]})["entry"]
        data["leaf_hash"] = tlog.encode_hash(
            tlog.leaf_hash(tlog.entry_leaf(entry["id"], entry["hash"]))
        )
        return data

    server.log.tamper["proof"] = matching_leaf
    status, out, _ = run(capsys, server, state, "--decision", NUMBER, key=key)
    assert status == 1
    assert (
        "FAILED  inclusion: the inclusion proof of leaf 3 does not lead to the signed root" in out
    )
    assert not state.exists()


def test_a_wrong_inclusion_path_fails(capsys, server, state, signing_key):
    def wrong_path(data):
        first = tlog.decode_hash(data["inclusion_path"][0])
        data["inclusion_path"][0] = tlog.encode_hash(bytes([first[0] ^ 1]) + first[1:])
        return data

    server.log.tamper["proof"] = wrong_path
    status, out, _ = run(
        capsys, server, state, "--decision", NUMBER, key=tlog.verifier_key(signing_key)
    )
    assert status == 1
    assert (
        "FAILED  inclusion: the inclusion proof of leaf 3 does not lead to the signed root" in out
    )


def test_a_wrong_consistency_proof_fails(capsys, server, state, signing_key):
    key = tlog.verifier_key(signing_key)
    assert run(capsys, server, state, key=key)[0] == 0
    for i in range(5, 12):
        server.log.add(content(i))
    server.log.sign()
    server.log.tamper["consistency"] = lambda data: {**data, "proof": data["proof"][:-1]}
    status, out, _ = run(capsys, server, state, key=key)
    assert status == 1
    assert "FAILED  log growth" in out
    assert remembered_size(state, server) == 5


def test_an_entry_that_does_not_name_the_decision_fails(capsys, server, state, signing_key):
    server.log.decisions["POK/2026/000046"] = 3  # answers with decision 45's entry
    status, out, _ = run(
        capsys, server, state, "--decision", "POK/2026/000046", key=tlog.verifier_key(signing_key)
    )
    assert status == 1
    assert "FAILED  decision POK/2026/000046: audit entry #4 does not name decision" in out


def test_an_entry_not_yet_in_a_checkpoint_fails_with_the_reason(capsys, server, state, signing_key):
    server.log.add(content(5, "POK/2026/000050"))  # sequenced, but not yet signed
    status, out, _ = run(
        capsys, server, state, "--decision", "POK/2026/000050", key=tlog.verifier_key(signing_key)
    )
    assert status == 1
    assert "FAILED  inclusion: the entry is leaf 5, newer than the signed checkpoint" in out

    server.log.tamper["decision"] = lambda data: {**data, "leaf_index": None}
    status, out, _ = run(
        capsys, server, state, "--decision", NUMBER, key=tlog.verifier_key(signing_key)
    )
    assert status == 1
    assert "FAILED  inclusion: the entry is not in the tree yet" in out


def test_network_and_http_errors_exit_2(capsys, server, state, signing_key, tmp_path):
    key = tlog.verifier_key(signing_key)
    status, _, err = run(capsys, server, state, "--decision", "POK/2026/999999", key=key)
    assert status == 2
    assert "ERROR: GET " in err and "HTTP 404" in err
    assert not state.exists()

    status, _, err = run(capsys, server, state, "--decision", NUMBER, key=key)
    assert status == 0
    before = state.read_bytes()
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    status = audit_verify.main([f"http://127.0.0.1:{port}", "--state", str(state)])
    err = capsys.readouterr().err
    assert status == 2
    assert f"ERROR: cannot reach http://127.0.0.1:{port}/api/v1/audit/log" in err
    assert state.read_bytes() == before

    assert audit_verify.main(["file:///etc/passwd", "--state", str(state)]) == 2
    assert "must start with http:// or https://" in capsys.readouterr().err

    damaged = tmp_path / "damaged.json"
    damaged.write_text("{not json")
    assert audit_verify.main([f"http://127.0.0.1:{port}", "--state", str(damaged)]) == 2
    assert "cannot read the state file" in capsys.readouterr().err


def test_runs_as_a_program(server, state, signing_key):
    command = [
        sys.executable,
        "-m",
        "arbiter.audit_verify",
        server.url,
        "--key",
        tlog.verifier_key(signing_key),
        "--state",
        str(state),
        "--decision",
        NUMBER,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK      inclusion: entry #4 is leaf 3" in result.stdout
    assert remembered_size(state, server) == 5

    server.log.checkpoint = server.log.checkpoint.replace("\n5\n", "\n6\n")
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1
    assert "FAILED  checkpoint" in result.stdout


def test_a_copy_of_the_two_files_runs_without_arbiter_or_flask(
    server, state, signing_key, tmp_path
):
    import _cffi_backend
    import cffi
    import cryptography

    import arbiter

    verifier = tmp_path / "verifier"
    verifier.mkdir()
    for name in ("tlog.py", "audit_verify.py"):
        (verifier / name).write_text((Path(arbiter.__file__).parent / name).read_text())
    packages = tmp_path / "packages"  # cryptography and what it loads, nothing else
    packages.mkdir()
    for module in (cryptography, cffi):
        (packages / module.__name__).symlink_to(Path(module.__file__).parent)
    backend = Path(_cffi_backend.__file__)
    (packages / backend.name).symlink_to(backend)

    command = [
        sys.executable, "-S", str(verifier / "audit_verify.py"), server.url,
        "--key", tlog.verifier_key(signing_key), "--state", str(state), "--decision", NUMBER,
    ]  # fmt: skip
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
        env={"PYTHONPATH": str(packages), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All checks passed." in result.stdout

    probe = subprocess.run(
        [sys.executable, "-S", "-c", "import flask"],
        capture_output=True,
        check=False,
        env={"PYTHONPATH": str(packages)},
    )
    assert probe.returncode != 0  # the run above really had no Flask to lean on
