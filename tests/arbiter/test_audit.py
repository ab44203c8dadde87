"""The audit log: per-case chains, the Merkle tree, checkpoints, and what verification finds.

The proofs' algorithms have their own tests against an independent implementation
(tests/arbiter/test_tlog.py); here they run over the tree the sequencer stores.
"""

import os
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import create_engine, func, select, text, update
from sqlalchemy.exc import DatabaseError, OperationalError

from arbiter import audit, clock, tlog
from arbiter import transparency_log as log
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from tests.database import empty_tables

VKEY_OF = tlog.verifier_key


def _entries():
    return db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()


def _verify(app, last=None, **kwargs):
    return log.verify(last, vkey=VKEY_OF(app.config["AUDIT_SIGNING_KEY"]), **kwargs)


def _switch_off_triggers(backend, table, operation="update"):
    """What an attacker with database rights does first."""
    if backend == "postgresql":
        db.session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    else:
        db.session.execute(text(f"DROP TRIGGER {table}_no_{operation}"))


# --- chains --------------------------------------------------------------------------------


def test_entries_of_one_case_chain_together_and_others_apart(db_session, create_order):
    order = create_order()
    from orders.services import upsert_order

    upsert_order({"external_id": order.external_id, "buyer_email": order.buyer.email,
                  "seller_email": order.seller.email, "item_title": "Renamed",
                  "item_price": order.item_price, "shipping_cost": order.shipping_cost,
                  "currency": "PLN", "payment_method": order.payment_method,
                  "paid_at": order.paid_at, "delivered_at": None})
    db.session.commit()
    case = db.session.scalars(select(AuditEntry).where(AuditEntry.chain_key == f"orders:{order.id}")
                              .order_by(AuditEntry.chain_seq)).all()
    assert [entry.action for entry in case] == ["order.created", "order.updated"]
    assert [entry.chain_seq for entry in case] == [1, 2]
    assert case[0].prev_hash == audit.GENESIS_HASH and case[1].prev_hash == case[0].hash
    buyer = db.session.scalars(select(AuditEntry).where(
        AuditEntry.chain_key == f"users:{order.buyer_id}")).all()
    assert [entry.action for entry in buyer] == ["user.registered"]
    for entry in case + buyer:
        assert entry.hash == tlog.chain_hash(entry.prev_hash, entry.content())
        assert entry.content()["chain"] == entry.chain_key


def test_a_fork_in_a_chain_is_refused_by_the_database(db_session, create_user):
    user = create_user()
    first = db.session.scalar(select(AuditEntry).where(AuditEntry.chain_key == f"users:{user.id}"))
    twin = AuditEntry(at=first.at, actor_id=None, action="user.forged", object_type="users",
                      object_id=str(user.id), before=None, after=None, note=None,
                      prev_hash=audit.GENESIS_HASH, chain_key=first.chain_key, chain_seq=1,
                      hash="f" * 64)
    with pytest.raises(DatabaseError), db.session.begin_nested():
        db.session.add(twin)
        db.session.flush()


def _committed_orders(count: int):
    from accounts import services as accounts
    from orders.services import upsert_order
    from orders.states import PaymentMethod
    from tests.factories import PASSWORD

    buyer = accounts.create_user("chain-buyer@example.test", "Chain Buyer", PASSWORD)
    seller = accounts.create_user("chain-seller@example.test", "Chain Seller", PASSWORD)
    db.session.flush()
    orders = [upsert_order({
        "external_id": f"CHAIN-{number}", "buyer_email": buyer.email,
        "seller_email": seller.email, "item_title": "Lamp", "item_price": 10_000,
        "shipping_cost": 500, "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
        "paid_at": clock.now()}).order for number in range(count)]
    db.session.commit()
    return [order.id for order in orders]


@pytest.mark.postgres_only
def test_writers_on_different_cases_do_not_wait_for_each_other(committed):
    """#24: an uncommitted audit entry of one case holds up no writer of another case (the
    old global lock did); a writer of the same case waits for the case's row lock."""
    from sqlalchemy.orm import Session

    from orders.models import Order

    first, second = _committed_orders(2)
    engine = create_engine(committed.config["SQLALCHEMY_DATABASE_URI"])
    holder = Session(engine)
    try:
        audit.record("order.noted", holder.get(Order, first), session=holder)  # uncommitted
        with Session(engine) as other:
            other.execute(text("SET lock_timeout = '2s'"))
            started = time.monotonic()
            audit.record("order.noted", other.get(Order, second), session=other)
            other.commit()
            assert time.monotonic() - started < 1.5
        with Session(engine) as same_case:
            same_case.execute(text("SET lock_timeout = '1s'"))
            with pytest.raises(OperationalError, match="lock timeout"):
                audit.record("order.noted", same_case.get(Order, first), session=same_case)
        holder.commit()
    finally:
        holder.close()
        engine.dispose()


def test_the_orm_refuses_to_change_an_entry(db_session, create_user):
    create_user()
    entry = _entries()[-1]
    entry.action = "rewritten"
    with pytest.raises(PermissionError, match="append-only"):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize("statement", [
    "UPDATE audit_entries SET action = 'x'", "DELETE FROM audit_entries",
    "UPDATE audit_leaves SET entry_id = entry_id", "DELETE FROM audit_leaves",
    "UPDATE audit_tree_nodes SET hash = hash", "DELETE FROM audit_tree_nodes",
    "UPDATE audit_checkpoints SET note = 'x'", "DELETE FROM audit_checkpoints"])
def test_the_database_refuses_update_and_delete(db_session, create_user, statement):
    create_user()
    log.sequence()
    with pytest.raises(DatabaseError, match="append-only"), db.session.begin_nested():
        db.session.execute(text(statement))


def test_state_changes_write_one_entry_each(db_session, create_user):
    before = audit.count()
    user = create_user()
    assert audit.count() == before + 1
    entry = _entries()[-1]
    assert (entry.action, entry.object_type, entry.object_id) == (
        "user.registered", "users", str(user.id))
    assert entry.after["email"] == user.email


# --- the sequencer and checkpoints ---------------------------------------------------------


def test_the_sequencer_adds_entries_as_leaves_and_signs_the_tree(app, db_session, create_user):
    start = log.tree_size()
    for _ in range(3):
        create_user()
    added = log.sequence()
    assert added >= 3 and log.tree_size() == start + added
    leaves = db.session.scalars(select(log.AuditLeaf).order_by(log.AuditLeaf.leaf_index)).all()
    assert [leaf.leaf_index for leaf in leaves] == list(range(len(leaves)))
    checkpoint = log.latest_checkpoint()
    assert checkpoint.tree_size == log.tree_size()
    opened = tlog.open_checkpoint(checkpoint.note, VKEY_OF(app.config["AUDIT_SIGNING_KEY"]))
    assert (opened.origin, opened.size) == ("arbiter.test/audit-log", checkpoint.tree_size)
    # The signed root is the root of the entries' leaves, computed here from scratch.
    hashes = [tlog.leaf_hash(tlog.entry_leaf(entry.id, entry.hash)) for entry in
              db.session.scalars(select(AuditEntry).join(log.AuditLeaf,
                                 log.AuditLeaf.entry_id == AuditEntry.id)
                                 .order_by(log.AuditLeaf.leaf_index))]
    assert opened.root == _root(hashes)
    assert log.sequence() == 0 and log.latest_checkpoint().tree_size == checkpoint.tree_size


def _root(hashes):
    frontier = tlog.Frontier()
    frontier.extend(hashes)
    return frontier.root()


def test_without_a_signing_key_entries_are_sequenced_but_nothing_is_signed(
        app, db_session, create_user, monkeypatch):
    monkeypatch.setitem(app.config, "AUDIT_SIGNING_KEY", None)
    monkeypatch.setitem(app.config, "AUDIT_SIGNING_KEY_FILE", "/nonexistent/key")
    create_user()
    assert log.sequence() >= 1
    assert log.latest_checkpoint() is None


def test_an_entry_still_uncommitted_is_left_for_a_later_run(app, db_session, create_user):
    """The scan mark never passes an entry younger than SETTLE, so one that commits after a
    later id was sequenced is still found."""
    create_user()
    log.sequence()
    state = db.session.get(log.LogState, 1)
    newest = db.session.scalar(select(func.max(AuditEntry.id)))
    assert state.scan_from_id < newest  # just written: not settled yet


# --- verification --------------------------------------------------------------------------


def test_verification_passes_and_continues_from_where_it_stopped(app, db_session, create_user):
    create_user()
    log.sequence()
    first = _verify(app)
    assert first.problem is None and first.verified.tree_size == log.tree_size()
    create_user()
    create_user()
    log.sequence()
    second = _verify(app, first.verified)
    assert second.problem is None
    assert second.entries == 2 and second.checkpoints == 1
    assert second.verified.tree_size == first.verified.tree_size + 2


def test_tampering_with_a_sequenced_entry_is_found_at_that_entry(
        app, db_session, create_user, backend):
    create_user()
    victim = create_user()
    create_user()
    log.sequence()
    target = db.session.scalar(select(AuditEntry).where(AuditEntry.object_id == str(victim.id)))
    _switch_off_triggers(backend, "audit_entries")
    db.session.execute(update(AuditEntry).where(AuditEntry.id == target.id)
                       .values(after={"email": "someone-else@example.test"})
                       .execution_options(synchronize_session=False))
    db.session.expire_all()
    problem = _verify(app).problem
    assert problem.where.startswith(f"entry {target.id} ") and "content" in problem.reason


def test_an_entry_rewritten_with_a_matching_hash_breaks_the_link_of_the_next(
        app, db_session, create_order, backend):
    order = create_order()
    audit.record("order.noted", order)
    db.session.commit()
    log.sequence()
    first = db.session.scalar(select(AuditEntry).where(
        AuditEntry.chain_key == f"orders:{order.id}", AuditEntry.chain_seq == 1))
    forged = first.content() | {"after": {"item_price": 1}}
    _switch_off_triggers(backend, "audit_entries")
    db.session.execute(update(AuditEntry).where(AuditEntry.id == first.id).values(
        after=forged["after"], hash=tlog.chain_hash(first.prev_hash, forged))
        .execution_options(synchronize_session=False))
    db.session.expire_all()
    problem = _verify(app).problem
    # Its own hash holds now, but the tree holds the leaf of what it was.
    assert problem.where.startswith(f"entry {first.id} ") and "another leaf" in problem.reason


def test_tampering_with_a_tree_node_is_found_at_that_node(app, db_session, create_user, backend):
    for _ in range(4):
        create_user()
    log.sequence()
    _switch_off_triggers(backend, "audit_tree_nodes")
    db.session.execute(text("UPDATE audit_tree_nodes SET hash = :h WHERE level = 1 AND idx = 0"),
                       {"h": b"\x00" * 32})
    db.session.expire_all()
    problem = _verify(app).problem
    assert problem.where == "tree node (level 1, index 0)"


def test_stored_nodes_removed_after_a_verification_are_found_not_crashed_on(
        app, db_session, create_user, backend):
    for _ in range(3):
        create_user()
    log.sequence()
    first = _verify(app)
    assert first.problem is None
    _switch_off_triggers(backend, "audit_tree_nodes", "delete")
    db.session.execute(text("DELETE FROM audit_tree_nodes"))
    problem = _verify(app, first.verified).problem
    assert problem.where == f"tree of size {first.verified.tree_size}"
    assert "gone" in problem.reason


def test_tampering_with_a_checkpoint_is_found_at_that_checkpoint(
        app, db_session, create_user, backend):
    create_user()
    log.sequence()
    checkpoint = log.latest_checkpoint()
    lines = checkpoint.note.split("\n")
    lines[2] = log.b64(b"\x01" * 32)  # another root, the signature left as it was
    _switch_off_triggers(backend, "audit_checkpoints")
    db.session.execute(text("UPDATE audit_checkpoints SET note = :n WHERE tree_size = :s"),
                       {"n": "\n".join(lines), "s": checkpoint.tree_size})
    db.session.expire_all()
    problem = _verify(app).problem
    assert problem.where == f"checkpoint {checkpoint.tree_size}"
    assert "signature" in problem.reason


def test_a_checkpoint_signed_over_another_tree_is_found(app, db_session, create_user, backend):
    """Even with the key (a stolen one), a checkpoint for a different tree is found."""
    create_user()
    log.sequence()
    checkpoint = log.latest_checkpoint()
    other = b"\x02" * 32
    note = tlog.sign_checkpoint(app.config["AUDIT_SIGNING_KEY"], log.origin(),
                                checkpoint.tree_size, other)
    _switch_off_triggers(backend, "audit_checkpoints")
    db.session.execute(text("UPDATE audit_checkpoints SET note = :n, root_hash = :r "
                            "WHERE tree_size = :s"),
                       {"n": note, "r": other, "s": checkpoint.tree_size})
    db.session.expire_all()
    problem = _verify(app).problem
    assert problem.where == f"checkpoint {checkpoint.tree_size}"
    assert "not the root" in problem.reason


def test_flask_audit_verify_cli(app, db_session, create_user, tmp_path, monkeypatch):
    verified = tmp_path / "verified.json"
    monkeypatch.setitem(app.config, "AUDIT_VERIFIED_FILE", str(verified))
    create_user()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["audit", "sequence"]).exit_code == 0
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK:")
    saved = log.Verified.load(verified)
    assert saved.tree_size == log.tree_size() and saved.checkpoint == log.latest_checkpoint().note
    again = runner.invoke(args=["audit", "verify"])
    assert "OK: 0 entries checked" in again.output
    full = runner.invoke(args=["audit", "verify", "--full"])
    assert full.exit_code == 0 and f"OK: {log.tree_size()} entries checked" in full.output


def test_flask_audit_keygen_writes_a_private_key_once(app, tmp_path, monkeypatch):
    path = tmp_path / "keys" / "signing.key"
    monkeypatch.setitem(app.config, "AUDIT_SIGNING_KEY", None)
    monkeypatch.setitem(app.config, "AUDIT_SIGNING_KEY_FILE", str(path))
    runner = app.test_cli_runner()
    with app.app_context():
        made = runner.invoke(args=["audit", "keygen"])
    assert made.exit_code == 0, made.output
    private = path.read_text().strip()
    assert private.startswith("PRIVATE+KEY+")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert tlog.verifier_key(private) in made.output
    with app.app_context():
        again = runner.invoke(args=["audit", "keygen"])
    assert path.read_text().strip() == private and "exists" in again.output


# --- through the real command line, on committed PostgreSQL rows ---------------------------


def _cli_env(database_url: str, tmp_path, app) -> dict:
    return {**os.environ, "ARBITER_DATABASE_URL": database_url, "ARBITER_SECRET_KEY": "x",
            "ARBITER_AUDIT_VERIFIED_FILE": str(tmp_path / "verified.json"),
            "ARBITER_AUDIT_SIGNING_KEY": app.config["AUDIT_SIGNING_KEY"],
            "FLASK_APP": "wsgi.py"}


def _flask(*args, env, stdin=None):
    flask = os.path.join(os.path.dirname(sys.executable), "flask")
    return subprocess.run([flask, *args], input=stdin, capture_output=True, text=True,
                          env=env, check=False)


def _create_users(env, *emails):
    for email in emails:
        created = _flask("users", "create", email, "--password-stdin", env=env,
                         stdin="a long enough password\n")
        assert created.returncode == 0, created.stderr


TABLES = "audit_entries, user_sessions, orders, users"


@pytest.mark.postgres_only
def test_cli_names_the_broken_entry_on_a_committed_database(app, database_url, tmp_path):
    engine = create_engine(database_url)
    env = _cli_env(database_url, tmp_path, app)
    try:
        _create_users(env, "cli-audit@example.test")
        assert _flask("audit", "sequence", env=env).returncode == 0
        with engine.begin() as connection:
            last = connection.execute(text("SELECT max(id) FROM audit_entries")).scalar()
            connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
            connection.execute(text("UPDATE audit_entries SET actor_id = 999 WHERE id = :id"),
                               {"id": last})
            connection.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))
        result = _flask("audit", "verify", env=env)
        assert result.returncode == 1
        assert f"BROKEN at entry {last} " in result.stderr
    finally:
        with engine.begin() as connection:
            empty_tables(connection, TABLES)
        engine.dispose()


@pytest.mark.postgres_only
def test_the_database_refuses_to_truncate_the_log(database_url):
    engine = create_engine(database_url)
    try:
        for table in ("audit_entries", "audit_leaves", "audit_tree_nodes", "audit_checkpoints"):
            with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
                connection.execute(text(f"TRUNCATE {table} CASCADE"))
    finally:
        engine.dispose()


@pytest.mark.postgres_only
@pytest.mark.parametrize("removal", [
    # the newest entry with its leaf, the size put back: a valid-looking shorter log
    "DELETE FROM audit_leaves WHERE leaf_index = (SELECT max(leaf_index) FROM audit_leaves);"
    "DELETE FROM audit_entries WHERE id = (SELECT max(id) FROM audit_entries);"
    "DELETE FROM audit_checkpoints;"
    "UPDATE audit_log_state SET tree_size = tree_size - 1",
    "TRUNCATE audit_entries, audit_leaves, audit_tree_nodes, audit_checkpoints CASCADE;"
    "UPDATE audit_log_state SET tree_size = 0, scan_from_id = 0",
])
def test_removing_the_newest_entries_is_found_by_the_next_verification(
        app, database_url, tmp_path, removal):
    """Someone who can switch the triggers off removes the log's end (or all of it), tree
    and checkpoints included: the last verification's tree is larger than what is left."""
    engine = create_engine(database_url)
    env = _cli_env(database_url, tmp_path, app)
    try:
        _create_users(env, "first@example.test", "second@example.test")
        assert _flask("audit", "sequence", env=env).returncode == 0
        first = _flask("audit", "verify", env=env)
        assert first.returncode == 0 and first.stdout.startswith("OK:"), first.stderr
        with engine.begin() as connection:
            for table in ("audit_entries", "audit_leaves", "audit_tree_nodes",
                          "audit_checkpoints"):
                connection.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            for statement in removal.split(";"):
                connection.execute(text(statement))
            for table in ("audit_entries", "audit_leaves", "audit_tree_nodes",
                          "audit_checkpoints"):
                connection.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        again = _flask("audit", "verify", env=env)
        assert again.returncode == 1, again.stdout
        assert "the log shrank" in again.stderr
    finally:
        with engine.begin() as connection:
            empty_tables(connection, TABLES)
        engine.dispose()


@pytest.mark.postgres_only
def test_sequencers_running_at_once_never_give_an_index_twice(app, database_url, tmp_path):
    engine = create_engine(database_url)
    env = _cli_env(database_url, tmp_path, app)
    try:
        with engine.begin() as connection:  # 3,000 entries in 300 chains, fast
            for chain in range(300):
                prev = audit.GENESIS_HASH
                rows = []
                for seq in range(1, 11):
                    content = {"at": "2026-12-06T05:00:00+00:00", "actor_id": None,
                               "action": "bench.written", "object_type": "bench",
                               "object_id": str(chain), "before": None, "after": None,
                               "note": None, "chain": f"bench:{chain}", "seq": seq}
                    digest = tlog.chain_hash(prev, content)
                    rows.append({"chain": f"bench:{chain}", "seq": seq, "prev": prev,
                                 "hash": digest, "object_id": str(chain)})
                    prev = digest
                connection.execute(text(
                    "INSERT INTO audit_entries (at, actor_id, action, object_type, object_id, "
                    "prev_hash, hash, chain_key, chain_seq) VALUES ('2026-12-06 05:00:00+00', "
                    "NULL, 'bench.written', 'bench', :object_id, :prev, :hash, :chain, :seq)"),
                    rows)
        sequencers = [subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "flask"), "audit", "sequence"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(3)]
        outputs = [process.communicate(timeout=120) for process in sequencers]
        assert all(process.returncode == 0 for process in sequencers), outputs
        with engine.connect() as connection:
            indexes = connection.execute(text(
                "SELECT leaf_index FROM audit_leaves ORDER BY leaf_index")).scalars().all()
            entries = connection.execute(text("SELECT count(*) FROM audit_entries")).scalar()
        assert indexes == list(range(3000)) and entries == 3000
        assert sum(int(out.split()[0]) for out, _ in outputs) == 3000
        verified = _flask("audit", "verify", env=env)
        assert verified.returncode == 0, verified.stderr
    finally:
        with engine.begin() as connection:
            empty_tables(connection, TABLES)
        engine.dispose()


@pytest.mark.postgres_only
def test_a_sequencer_killed_mid_batch_leaves_nothing_behind(app, database_url, tmp_path):
    engine = create_engine(database_url)
    env = _cli_env(database_url, tmp_path, app)
    blocker = engine.connect()
    try:
        _create_users(env, "a@example.test", "b@example.test", "c@example.test")
        transaction = blocker.begin()
        # The sequencer will have written its leaves when it waits to write the nodes.
        blocker.execute(text("LOCK TABLE audit_tree_nodes IN SHARE MODE"))
        process = subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "flask"), "audit", "sequence"],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        with engine.connect() as watcher:
            for _ in range(400):
                waiting = watcher.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database() AND query LIKE '%audit_tree_nodes%'"
                )).scalar()
                if waiting or process.poll() is not None:
                    break
                watcher.rollback()  # pg_stat_activity is read once per transaction
                time.sleep(0.05)
        assert waiting, process.communicate()[1][-800:] if process.poll() is not None else "-"
        process.kill()
        process.communicate()
        transaction.rollback()
        with engine.connect() as connection:
            for _ in range(100):  # the server sees the client gone and rolls its work back
                if not connection.execute(text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                        "current_database() AND state <> 'idle' AND pid <> pg_backend_pid()")
                        ).scalar():
                    break
                connection.rollback()
                time.sleep(0.05)
            assert connection.execute(text("SELECT count(*) FROM audit_leaves")).scalar() == 0
            assert connection.execute(text(
                "SELECT tree_size FROM audit_log_state")).scalar() == 0
        again = _flask("audit", "sequence", env=env)
        assert again.returncode == 0 and again.stdout.startswith("3 entries"), again.stdout
        assert _flask("audit", "verify", env=env).returncode == 0
    finally:
        blocker.close()
        with engine.begin() as connection:
            empty_tables(connection, TABLES)
        engine.dispose()


# --- the public side: the verify page, the API, the stand-alone verifier -------------------


def _decided(escalated, staff):
    from arbiter import documents
    from disputes import services
    from disputes.states import Verdict

    services.take_case(escalated, staff)
    services.decide(escalated, staff, verdict=Verdict.PARTIAL, amount=5_000,
                    rationale="The photos show the damage clearly; half is fair.")
    db.session.commit()
    return documents.documents_for("discussions", escalated.id)


def test_a_decisions_verify_page_proves_its_inclusion_in_a_signed_checkpoint(
        client, escalated, staff):
    document = _decided(escalated, staff)[0]
    url = f"/decisions/{document.number}/verify"
    before = client.post(url, data={"sha256": document.fingerprint})
    assert 'data-log-inclusion="pending"' in before.text  # not sequenced yet
    log.sequence()
    after = client.post(url, data={"sha256": document.fingerprint})
    assert 'data-log-inclusion="proven"' in after.text
    checkpoint = log.latest_checkpoint()
    assert log.b64(checkpoint.root_hash) in after.text
    # Only to someone holding the document, as the rest of the answer.
    assert "data-log-inclusion" not in client.post(url, data={"sha256": "0" * 64}).text


def test_the_log_page_and_api_publish_the_checkpoint_and_key(app, client, create_user):
    create_user()
    log.sequence()
    checkpoint = log.latest_checkpoint()
    page = client.get("/transparency/log")
    assert page.status_code == 200
    assert checkpoint.note.split("\n")[2] in page.text  # the signed root
    vkey = VKEY_OF(app.config["AUDIT_SIGNING_KEY"])
    assert vkey in page.text
    head = client.get("/api/v1/audit/log").json
    assert head["checkpoint"] == checkpoint.note and head["verifier_key"] == vkey
    assert tlog.open_checkpoint(head["checkpoint"], vkey).size == head["tree_size"]


def test_proofs_of_entries_naming_someone_are_for_staff(api, create_user, token_for, staff):
    user = create_user()
    log.sequence()
    index = log.leaf_of(db.session.scalar(select(AuditEntry.id).where(
        AuditEntry.chain_key == f"users:{user.id}")))
    url = f"/api/v1/audit/entries/{index}/proof"
    assert api.get(url).status_code == 401
    assert api.get(url, token=token_for(user)).status_code == 403
    unenrolled = create_user(is_staff=True, enrolled=False)  # no second factor yet
    assert api.get(url, token=token_for(unenrolled)).status_code == 403
    proof = api.get(url, token=token_for(staff))
    assert proof.status_code == 200 and proof.json["entry"]["content"]["action"] == \
        "user.registered"
    size = proof.json["tree_size"]
    root = tlog.root(size, log.node_fetcher(db.session))
    assert tlog.verify_inclusion(index, size, tlog.decode_hash(proof.json["leaf_hash"]),
                                 [tlog.decode_hash(h) for h in proof.json["inclusion_path"]],
                                 root)
    assert api.get(f"{url}?tree_size={size + 1}", token=token_for(staff)).status_code == 422
    assert api.get("/api/v1/audit/entries/999999/proof").status_code == 404


def test_consistency_proofs_are_public_and_check_sizes(api, create_user):
    create_user()
    log.sequence()
    first = log.tree_size()
    create_user()
    create_user()
    log.sequence()
    second = log.tree_size()
    answer = api.get(f"/api/v1/audit/consistency?from={first}&to={second}")
    assert answer.status_code == 200
    fetch = log.node_fetcher(db.session)
    assert tlog.verify_consistency(first, second, tlog.root(first, fetch),
                                   tlog.root(second, fetch),
                                   [tlog.decode_hash(h) for h in answer.json["proof"]])
    for query in (f"from={second}&to={first}", f"from=0&to={second}",
                  f"from=1&to={second + 1}", "from=x&to=1"):
        assert api.get(f"/api/v1/audit/consistency?{query}").status_code == 422, query


@pytest.mark.postgres_only
def test_the_stand_alone_verifier_checks_a_decision_on_the_published_log(
        committed, tmp_path):
    """python -m arbiter.audit_verify against the running application, public API only."""
    from werkzeug.serving import make_server

    from arbiter import documents
    from tests.arbiter.test_migrations import _case_file

    ids = _case_file()
    number = documents.documents_for("claims", ids["claim"])[0].number
    log.sequence()
    server = make_server("127.0.0.1", 0, committed, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    vkey = VKEY_OF(committed.config["AUDIT_SIGNING_KEY"])
    command = [sys.executable, "-m", "arbiter.audit_verify",
               f"http://127.0.0.1:{server.server_port}", "--key", vkey,
               "--state", str(tmp_path / "state.json"), "--decision", number]
    try:
        first = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert first.returncode == 0, first.stdout + first.stderr
        assert f"decision {number}" in first.stdout and "inclusion" in first.stdout
        with committed.app_context():
            _committed_orders(1)  # the log grows; the verifier checks it only grew
            log.sequence()
        again = subprocess.run(command, capture_output=True, text=True, timeout=60)
        assert again.returncode == 0, again.stdout + again.stderr
        assert "log growth" in again.stdout
    finally:
        server.shutdown()
        db.session.remove()
