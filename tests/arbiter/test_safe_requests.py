"""GET and HEAD only read (arbiter/db.py): a write is refused before it reaches the
database, on every engine. Their statements run in autocommit: on PostgreSQL pages send no
BEGIN or COMMIT and keep their prepared statements; on SQLite they hold no read lock
between their statements."""

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from accounts.models import User
from arbiter import create_app
from arbiter.extensions import db
from tests.conftest import FreshContextClient, _base_config, _migrate_to_head


@pytest.fixture
def guarded_app(request, database_url):
    """An app with views that write in a GET. On PostgreSQL it runs as in production, its
    pool holding one connection (every request and every check uses the same one), and the
    tables are emptied afterwards; on SQLite it uses the test's rolled-back transaction."""
    config = _base_config(database_url)
    if make_url(database_url).get_backend_name() == "postgresql":
        request.getfixturevalue("committed")
        config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_size": 1, "max_overflow": 0}
    else:
        request.getfixturevalue("db_session")
    app = create_app(config)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer as production does: a 500 page
    app.test_client_class = FreshContextClient

    @app.route("/test/flush-a-user", methods=["GET", "HEAD", "POST"])
    def flush_a_user():
        db.session.add(User(email="flushed@example.test", name="Flushed", password_hash="x"))
        db.session.flush()
        db.session.commit()
        return "flushed"

    @app.route("/test/insert-a-user", methods=["GET", "HEAD"])
    def insert_a_user():
        db.session.execute(text(
            "INSERT INTO users (email, name, password_hash, is_staff, created_at, updated_at)"
            " VALUES ('raw@example.test', 'Raw', 'x', false, now(), now())"))
        db.session.commit()
        return "inserted"

    @app.get("/test/write-in-a-cte")
    def write_in_a_cte():
        db.session.execute(text(
            "WITH added AS (INSERT INTO users (email, name, password_hash, is_staff,"
            " created_at, updated_at) VALUES ('cte@example.test', 'Cte', 'x', false, now(),"
            " now()) RETURNING id) SELECT id FROM added"))
        db.session.commit()
        return "inserted"

    @app.route("/test/transaction-timestamps", methods=["GET", "POST"])
    def transaction_timestamps():
        first = db.session.scalar(text("SELECT transaction_timestamp()"))
        db.session.scalar(text("SELECT pg_sleep(0.01)"))
        second = db.session.scalar(text("SELECT transaction_timestamp()"))
        return {"same_transaction": first == second}

    @app.get("/test/failed-read")
    def failed_read():
        try:
            db.session.execute(text("SELECT 1 / 0"))
        except DBAPIError:
            return "the error page, nothing rolled back"
        return "unexpected"

    yield app
    with app.app_context():
        db.engine.dispose()


def _users(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/test/flush-a-user"), ("HEAD", "/test/flush-a-user"),
    ("GET", "/test/insert-a-user"), ("HEAD", "/test/insert-a-user"),
    # SQLite has no INSERT inside WITH: there the statement would fail by itself.
    pytest.param("GET", "/test/write-in-a-cte", marks=pytest.mark.postgres_only),
])
def test_a_get_or_head_that_writes_fails_and_writes_nothing(guarded_app, method, path):
    before = _users(guarded_app)
    response = guarded_app.test_client().open(path, method=method)
    assert response.status_code == 500
    assert _users(guarded_app) == before


def test_a_post_still_writes(guarded_app):
    before = _users(guarded_app)
    response = guarded_app.test_client().post("/test/flush-a-user")
    assert (response.status_code, response.text) == (200, "flushed")
    assert _users(guarded_app) == before + 1


@pytest.mark.postgres_only
def test_each_statement_of_a_get_is_its_own_transaction(guarded_app):
    client = guarded_app.test_client()
    assert client.get("/test/transaction-timestamps").json == {"same_transaction": False}
    assert client.post("/test/transaction-timestamps").json == {"same_transaction": True}


def _prepared_statements(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(text("SELECT statement FROM pg_prepared_statements")))


@pytest.mark.postgres_only
def test_a_page_keeps_its_statements_prepared_between_requests(guarded_app):
    client = guarded_app.test_client()
    for _ in range(6):  # psycopg prepares a statement on its fifth execution
        assert client.get("/healthz").status_code == 200
    assert any("SELECT 1" in statement for statement in _prepared_statements(guarded_app))


@pytest.mark.postgres_only
def test_a_failed_read_neither_breaks_its_answer_nor_the_next_request(guarded_app):
    client = guarded_app.test_client()
    response = client.get("/test/failed-read")
    assert response.status_code == 200
    assert response.text == "the error page, nothing rolled back"
    assert client.get("/healthz").json == {"status": "ok", "database": "ok"}


@pytest.fixture
def sqlite_file_app(tmp_path):
    """An app on its own SQLite file, its sessions bound to the engine as in ``make run``,
    and the first word of every statement it sends."""
    url = f"sqlite:///{tmp_path / 'reads.sqlite3'}"
    _migrate_to_head(url)
    app = create_app(_base_config(url))
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.test_client_class = FreshContextClient
    sent = []

    @app.route("/test/read-twice", methods=["GET", "POST"])
    def read_twice():
        db.session.scalar(select(func.count()).select_from(User))
        sqlite_connection = db.session.connection().connection.dbapi_connection
        db.session.scalar(select(func.count()).select_from(User))
        return {"in_transaction": sqlite_connection.in_transaction}

    @app.get("/test/flush-a-user")
    def flush_a_user():
        db.session.add(User(email="flushed@example.test", name="Flushed", password_hash="x"))
        db.session.commit()
        return "flushed"

    def record(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement.split(None, 1)[0].upper())

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    yield app, sent
    event.remove(engine, "before_cursor_execute", record)
    engine.dispose()


def test_a_get_on_sqlite_reads_without_a_transaction(sqlite_file_app):
    app, sent = sqlite_file_app
    client = app.test_client()
    assert client.get("/test/read-twice").json == {"in_transaction": False}
    assert "BEGIN" not in sent and sent.count("SELECT") == 2

    sent.clear()
    assert client.post("/test/read-twice").json == {"in_transaction": True}
    assert sent[0] == "BEGIN"


def test_a_get_on_sqlite_that_writes_fails_and_writes_nothing(sqlite_file_app):
    app, _ = sqlite_file_app
    before = _users(app)
    assert app.test_client().get("/test/flush-a-user").status_code == 500
    assert _users(app) == before
