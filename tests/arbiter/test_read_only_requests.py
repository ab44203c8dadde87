"""A GET that wrote nothing ends with COMMIT, so PostgreSQL keeps its prepared plans; a GET
that did write without committing is still rolled back (arbiter/db.py)."""

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from accounts.models import User
from arbiter import create_app
from arbiter.extensions import db
from tests.conftest import FreshContextClient, _base_config

pytestmark = pytest.mark.postgres_only


@pytest.fixture
def one_connection_app(database_url, committed):
    """An app whose pool holds one connection: every request and check uses the same one."""
    config = _base_config(database_url)
    config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_size": 1, "max_overflow": 0}
    app = create_app(config)
    app.test_client_class = FreshContextClient

    @app.get("/test/leave-a-user-unsaved")
    def leave_a_user_unsaved():
        db.session.add(User(email="unsaved@example.test", name="Unsaved", password_hash="x"))
        return "added, not committed"

    @app.get("/test/flush-a-user")
    def flush_a_user():
        db.session.add(User(email="flushed@example.test", name="Flushed", password_hash="x"))
        db.session.flush()
        return "flushed, not committed"

    @app.get("/test/insert-a-user")
    def insert_a_user():
        db.session.execute(text(
            "INSERT INTO users (email, name, password_hash, is_staff, created_at, updated_at)"
            " VALUES ('raw@example.test', 'Raw', 'x', false, now(), now())"))
        return "inserted, not committed"

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


def _prepared_statements(app) -> list[str]:
    with app.app_context():
        return list(db.session.scalars(text("SELECT statement FROM pg_prepared_statements")))


def test_a_page_keeps_its_statements_prepared_between_requests(one_connection_app):
    client = one_connection_app.test_client()
    for _ in range(6):  # psycopg prepares a statement on its fifth execution
        assert client.get("/healthz").status_code == 200
    assert any("SELECT 1" in statement for statement in _prepared_statements(one_connection_app))


@pytest.mark.parametrize("path", ["/test/leave-a-user-unsaved", "/test/flush-a-user",
                                  "/test/insert-a-user"])
def test_a_get_that_wrote_without_committing_is_rolled_back(one_connection_app, path):
    response = one_connection_app.test_client().get(path)
    assert response.status_code == 200
    with one_connection_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 0


def test_a_failed_read_neither_breaks_its_answer_nor_the_next_request(one_connection_app):
    client = one_connection_app.test_client()
    response = client.get("/test/failed-read")
    assert response.status_code == 200
    assert response.text == "the error page, nothing rolled back"
    assert client.get("/healthz").json == {"status": "ok", "database": "ok"}
