"""GET and HEAD only read, and the database enforces it (arbiter/transactions.py): their
transaction is read-only (``BEGIN READ ONLY`` on PostgreSQL, ``PRAGMA query_only`` on
SQLite), so whatever a buggy view sends, the server refuses it and nothing is written."""

import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.engine import make_url

from accounts.models import User
from arbiter import create_app
from arbiter.extensions import db
from tests.conftest import FreshContextClient, _base_config, _migrate_to_head


@pytest.fixture
def guarded_app(request, database_url, tmp_path):
    """An app whose sessions are bound to the engine as in production, with views that
    write in a GET. PostgreSQL: the test database, emptied afterwards; SQLite: a file of
    its own (the suite's SQLite session is one rolled-back connection)."""
    if make_url(database_url).get_backend_name() == "postgresql":
        request.getfixturevalue("committed")
        url = database_url
    else:
        url = f"sqlite:///{tmp_path / 'guarded.sqlite3'}"
        _migrate_to_head(url)
    app = create_app(_base_config(url))
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as production does: a 500 page
    app.test_client_class = FreshContextClient

    @app.route("/test/flush-a-user", methods=["GET", "HEAD", "POST"])
    def flush_a_user():
        db.session.add(User(email="flushed@example.test", name="Flushed", password_hash="x"))
        db.session.commit()
        return "flushed"

    @app.route("/test/insert-a-user", methods=["GET", "HEAD"])
    def insert_a_user():
        db.session.execute(text(
            "INSERT INTO users (email, name, password_hash, created_at, updated_at)"
            " VALUES ('raw@example.test', 'Raw', 'x', CURRENT_TIMESTAMP,"
            " CURRENT_TIMESTAMP)"))
        db.session.commit()
        return "inserted"

    @app.get("/test/write-in-a-cte")
    def write_in_a_cte():
        db.session.execute(text(
            "WITH added AS (INSERT INTO users (email, name, password_hash,"
            " created_at, updated_at) VALUES ('cte@example.test', 'Cte', 'x', now(),"
            " now()) RETURNING id) SELECT id FROM added"))
        db.session.commit()
        return "inserted"

    @app.get("/test/write-in-a-function")
    def write_in_a_function():
        # A statement that starts like a read: only the server can tell it writes.
        db.session.execute(text("SELECT setval('users_id_seq', 1000)"))
        db.session.commit()
        return "moved the sequence"

    @app.post("/test/read-then-write")
    def read_then_write():
        count = db.session.scalar(select(func.count()).select_from(User))
        time.sleep(0.2)  # the other request reads meanwhile
        db.session.add(User(email=f"{secrets.token_hex(4)}@example.test", name="W",
                            password_hash="x"))
        db.session.commit()
        return str(count)

    yield app
    with app.app_context():
        db.engine.dispose()


def _users(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/test/flush-a-user"), ("HEAD", "/test/flush-a-user"),
    ("GET", "/test/insert-a-user"), ("HEAD", "/test/insert-a-user"),
    # SQLite has no INSERT inside WITH and no sequences.
    pytest.param("GET", "/test/write-in-a-cte", marks=pytest.mark.postgres_only),
])
def test_a_get_or_head_that_writes_fails_and_writes_nothing(guarded_app, method, path):
    before = _users(guarded_app)
    response = guarded_app.test_client().open(path, method=method)
    assert response.status_code == 500
    assert _users(guarded_app) == before


@pytest.mark.postgres_only
def test_a_write_hidden_in_a_function_is_refused_too(guarded_app):
    with guarded_app.app_context():
        before = db.session.scalar(text("SELECT last_value FROM users_id_seq"))
    assert guarded_app.test_client().get("/test/write-in-a-function").status_code == 500
    with guarded_app.app_context():
        assert db.session.scalar(text("SELECT last_value FROM users_id_seq")) == before


def test_a_post_still_writes_and_the_connection_writes_after_a_get(guarded_app):
    client = guarded_app.test_client()
    before = _users(guarded_app)
    assert client.get("/healthz").status_code == 200  # a read-only transaction first
    response = client.post("/test/flush-a-user")
    assert (response.status_code, response.text) == (200, "flushed")
    assert _users(guarded_app) == before + 1


def test_two_requests_that_write_at_once_both_succeed(guarded_app):
    """On SQLite a writing request takes the write lock at BEGIN (BEGIN IMMEDIATE) and the
    other waits for it; with a plain BEGIN both read first, and the second to write failed
    at once with "database is locked" (a 500)."""
    before = _users(guarded_app)

    def post(_):
        return guarded_app.test_client().post("/test/read-then-write").status_code

    with ThreadPoolExecutor(max_workers=2) as pool:
        assert list(pool.map(post, range(2))) == [200, 200]
    assert _users(guarded_app) == before + 2
