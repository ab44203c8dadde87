import os
import subprocess
import sys
from itertools import pairwise

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DatabaseError

from arbiter import audit
from arbiter.audit import AuditEntry
from arbiter.extensions import db


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


def test_flask_audit_verify_cli(app, db_session, create_user):
    create_user()
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("OK:")


@pytest.mark.postgres_only
def test_cli_names_the_broken_row_on_a_committed_database(database_url, tmp_path):
    """End to end through the real command line against committed PostgreSQL rows."""
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    env = {**os.environ, "ARBITER_DATABASE_URL": database_url, "ARBITER_SECRET_KEY": "x",
           "FLASK_APP": "wsgi.py"}
    flask = os.path.join(os.path.dirname(sys.executable), "flask")
    try:
        created = subprocess.run(
            [flask, "users", "create", "cli-audit@example.test", "--password-stdin"],
            input="a long enough password\n", capture_output=True, text=True, env=env,
            check=False,
        )
        assert created.returncode == 0, created.stderr
        with engine.begin() as connection:
            last = connection.execute(text("SELECT max(id) FROM audit_entries")).scalar()
            connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
            connection.execute(text("UPDATE audit_entries SET actor_id = 999 WHERE id = :id"),
                               {"id": last})
            connection.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))
        result = subprocess.run([flask, "audit", "verify"], capture_output=True, text=True,
                                env=env, check=False)
        assert result.returncode == 1
        assert f"BROKEN at entry {last}" in result.stderr
    finally:
        with engine.begin() as connection:
            connection.execute(text("ALTER TABLE audit_entries DISABLE TRIGGER USER"))
            connection.execute(text(
                "TRUNCATE audit_entries, user_sessions, orders, users RESTART IDENTITY CASCADE"))
            connection.execute(text("ALTER TABLE audit_entries ENABLE TRIGGER USER"))
        engine.dispose()
