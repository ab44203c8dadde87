"""SQLite under `make run` (#22 item 7): one user's requests and the background work of
the same process share one file. The file is in write-ahead-log mode with a busy timeout,
and a background task that meets a lock another connection held for a moment runs again
within a second or so (exponential backoff) instead of failing and waiting minutes for
the sweeper, as a decision PDF once did (2 min 19 s)."""

import sqlite3
import threading

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import OperationalError

from accounts.models import User
from arbiter.db import is_lock_conflict
from arbiter.extensions import db
from arbiter.tasks import (
    TaskRun,
    celery,
    enqueue_after_commit,
    lock_retry_delay,
    run_ready_tasks,
)
from tests.conftest import _migrate_to_head

_interfere = {"times": 0}


def _hold_the_write_lock_briefly(path: str, holding: threading.Event) -> None:
    """A second connection (a request of another user) writes and commits 0.3 s later."""
    other = sqlite3.connect(path, isolation_level=None, timeout=10)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO users (email, name, password_hash, created_at, updated_at)"
                  " VALUES ('other@example.test', 'Other', 'x', CURRENT_TIMESTAMP,"
                  " CURRENT_TIMESTAMP)")
    holding.set()
    threading.Event().wait(0.3)
    other.execute("COMMIT")
    other.close()


@celery.task(name="tests.read_then_write")
def read_then_write(path: str, email: str) -> int:
    """Like rendering a decision PDF: read, work a while, then write what was made."""
    seen = db.session.scalar(select(func.count()).select_from(User))
    if _interfere["times"]:
        _interfere["times"] -= 1
        holding = threading.Event()
        writer = threading.Thread(target=_hold_the_write_lock_briefly, args=(path, holding))
        writer.start()
        holding.wait(5)
        try:
            db.session.add(User(email=email, name="Task", password_hash="x"))
            db.session.commit()
        finally:
            writer.join()
        return seen
    db.session.add(User(email=email, name="Task", password_hash="x"))
    db.session.commit()
    return seen


@pytest.fixture
def sqlite_app(fresh_app, tmp_path):
    path = tmp_path / "fresh.sqlite3"
    _migrate_to_head(f"sqlite:///{path}")
    app = fresh_app()
    yield app, str(path)
    _interfere["times"] = 0


def test_the_file_is_in_wal_mode_with_a_busy_timeout(sqlite_app):
    app, _ = sqlite_app
    with app.app_context():
        assert db.session.scalar(text("PRAGMA journal_mode")) == "wal"
        assert db.session.scalar(text("PRAGMA busy_timeout")) == 10_000


def test_a_task_meeting_a_write_lock_held_briefly_runs_again_and_succeeds(sqlite_app):
    app, path = sqlite_app
    _interfere["times"] = 1
    with app.app_context():
        enqueue_after_commit(read_then_write, path, "task@example.test")
        db.session.commit()
        run_ready_tasks()
        db.session.expire_all()
        emails = set(db.session.scalars(select(User.email)))
        assert {"task@example.test", "other@example.test"} <= emails
        [run] = db.session.scalars(select(TaskRun)).all()
        assert run.finished_at is not None and run.last_error is None
        assert run.attempts == 1  # retried at once by the same worker, not by the sweeper
    assert _interfere["times"] == 0


def test_lock_conflicts_are_told_apart_and_the_backoff_doubles():
    locked = OperationalError("UPDATE", {}, sqlite3.OperationalError("database is locked"))
    missing = OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))
    assert is_lock_conflict(locked)
    assert not is_lock_conflict(missing) and not is_lock_conflict(ValueError("locked"))
    try:
        try:
            raise locked
        except OperationalError as error:
            raise RuntimeError("render failed") from error
    except RuntimeError as wrapped:
        assert is_lock_conflict(wrapped)
    assert [lock_retry_delay(n) for n in range(4)] == [0.1, 0.2, 0.4, 0.8]
