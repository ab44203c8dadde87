import os
import subprocess
import sys
from itertools import pairwise

import pytest
from sqlalchemy import create_engine, select, text, update
from sqlalchemy.exc import DatabaseError

from arbiter import audit
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from tests.database import empty_tables


def _entries():
    return db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()


def test_each_entry_chains_to_the_previous_one(db_session, create_user):
    create_user()
    create_user()
    entries = _entries()
    assert len(entries) >= 2
    for previous, entry in pairwise(entries):
        assert entry.prev_hash == previous.hash
        assert entry.hash == audit.chain_hash(entry.prev_hash, entry.content())
    assert audit.verify() is None


def test_tampering_with_a_row_is_found_at_that_row(db_session, create_user, backend):
    create_user()
    victim = create_user()
    create_user()
    target = db.session.scalar(
        select(AuditEntry).where(AuditEntry.object_id == str(victim.id))
    )
    # An attacker with database rights switches the append-only trigger off first.
    if backend == "postgresql":
        db.session.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
    else:
        db.session.execute(text("DROP TRIGGER audit_entries_no_update"))
    db.session.execute(
        update(AuditEntry).where(AuditEntry.id == target.id)
        .values(after={"email": "someone-else@example.test", "is_staff": True})
        .execution_options(synchronize_session=False)
    )
    db.session.expire_all()
    broken = audit.verify()
    assert broken is not None
    assert broken.entry_id == target.id
    assert "content" in broken.reason


def test_the_orm_refuses_to_change_an_entry(db_session, create_user):
    create_user()
    entry = _entries()[-1]
    entry.action = "rewritten"
    with pytest.raises(PermissionError, match="append-only"):
        db.session.flush()
    db.session.rollback()


@pytest.mark.parametrize("statement", ["UPDATE audit_entries SET action = 'x'",
                                       "DELETE FROM audit_entries"])
def test_the_database_refuses_update_and_delete(db_session, create_user, statement):
    create_user()
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


def test_flask_audit_verify_cli(app, db_session, create_user, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "AUDIT_ANCHOR_FILE", str(tmp_path / "anchor.json"))
    create_user()
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK:")


@pytest.mark.postgres_only
def test_cli_names_the_broken_row_on_a_committed_database(database_url, tmp_path):
    """End to end through the real command line against committed PostgreSQL rows."""
    engine = create_engine(database_url)
    env = _cli_env(database_url, tmp_path)
    try:
        created = _flask("users", "create", "cli-audit@example.test", "--password-stdin",
                         env=env, stdin="a long enough password\n")
        assert created.returncode == 0, created.stderr
        with engine.begin() as connection:
            last = connection.execute(text("SELECT max(id) FROM audit_entries")).scalar()
            connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
            connection.execute(text("UPDATE audit_entries SET actor_id = 999 WHERE id = :id"),
                               {"id": last})
            connection.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))
        result = _flask("audit", "verify", env=env)
        assert result.returncode == 1
        assert f"BROKEN at entry {last}" in result.stderr
    finally:
        with engine.begin() as connection:
            empty_tables(connection, "audit_entries, user_sessions, orders, users")
        engine.dispose()


def _cli_env(database_url: str, tmp_path) -> dict:
    return {**os.environ, "ARBITER_DATABASE_URL": database_url, "ARBITER_SECRET_KEY": "x",
            "ARBITER_AUDIT_ANCHOR_FILE": str(tmp_path / "anchor.json"), "FLASK_APP": "wsgi.py"}


def _flask(*args, env, stdin=None):
    flask = os.path.join(os.path.dirname(sys.executable), "flask")
    return subprocess.run([flask, *args], input=stdin, capture_output=True, text=True,
                          env=env, check=False)


@pytest.mark.postgres_only
def test_the_database_refuses_to_truncate_the_audit_log(database_url):
    engine = create_engine(database_url)
    try:
        with pytest.raises(DatabaseError, match="append-only"), engine.begin() as connection:
            connection.execute(text("TRUNCATE audit_entries CASCADE"))
    finally:
        engine.dispose()


@pytest.mark.postgres_only
@pytest.mark.parametrize("removal", [
    "DELETE FROM audit_entries WHERE id = (SELECT max(id) FROM audit_entries)",
    "TRUNCATE audit_entries RESTART IDENTITY CASCADE",
])
def test_removing_the_newest_entries_is_found_by_the_next_verification(
        database_url, tmp_path, removal):
    """Someone with the rights to switch the triggers off removes the log's end (or all of
    it): what is left is a valid chain, but the anchor of the last verification is gone."""
    engine = create_engine(database_url)
    env = _cli_env(database_url, tmp_path)
    try:
        for email in ("first@example.test", "second@example.test"):
            created = _flask("users", "create", email, "--password-stdin", env=env,
                             stdin="a long enough password\n")
            assert created.returncode == 0, created.stderr
        first = _flask("audit", "verify", env=env)
        assert first.returncode == 0 and first.stdout.startswith("OK:"), first.stderr
        with engine.begin() as connection:
            newest = connection.execute(text("SELECT max(id) FROM audit_entries")).scalar()
            connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
            connection.execute(text(removal))
            connection.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))
        again = _flask("audit", "verify", env=env)
        assert again.returncode == 1, again.stdout
        assert f"BROKEN at entry {newest}" in again.stderr and "is gone" in again.stderr
    finally:
        with engine.begin() as connection:
            empty_tables(connection, "audit_entries, user_sessions, orders, users")
        engine.dispose()


def test_a_verification_moves_the_anchor_to_the_newest_entry(
        app, db_session, create_user, tmp_path, monkeypatch):
    anchor_file = tmp_path / "anchor.json"
    monkeypatch.setitem(app.config, "AUDIT_ANCHOR_FILE", str(anchor_file))
    create_user()
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0
    first = audit.read_anchor(anchor_file)
    create_user()
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0
    second = audit.read_anchor(anchor_file)
    assert second.entry_id > first.entry_id and second.entries > first.entries
    assert second == audit.latest_anchor()
