"""The database is slow, locked or silent (issue 26.6): every request ends within the
configured timeouts with a 503, ``Retry-After`` and the site's error page (JSON under
/api/), nothing is written, and /healthz answers within a second whatever happens.

Real PostgreSQL: a second connection holds a row lock, a statement sleeps past
``statement_timeout``, and a TCP server accepts connections but never answers."""

import socket
import threading
import time

import pytest
from sqlalchemy import func, select, text

from accounts.models import User
from arbiter import create_app
from arbiter.extensions import db
from tests.conftest import FreshContextClient, _base_config

pytestmark = pytest.mark.postgres_only
ENGLISH = {"Accept-Language": "en"}


@pytest.fixture
def timed_app(committed, database_url):
    """The app as production runs it on the test database, with short timeouts and two
    views of the kind that can meet them."""

    def build(**timeouts):
        config = _base_config(database_url)
        config.update({"DB_STATEMENT_TIMEOUT_SECONDS": 1, "DB_LOCK_TIMEOUT_SECONDS": 1,
                       "PROPAGATE_EXCEPTIONS": False, **timeouts})
        app = create_app(config)
        app.test_client_class = FreshContextClient

        @app.route("/test/slow-report")
        def slow_report():
            db.session.execute(text("SELECT pg_sleep(30)"))
            return "finished"

        @app.route("/test/rename/<int:user_id>", methods=["POST"])
        @app.route("/api/v1/test/rename/<int:user_id>", methods=["POST"])
        def rename(user_id):
            user = db.session.scalar(select(User).where(User.id == user_id).with_for_update())
            user.name = "Renamed"
            db.session.commit()  # added after create_app: outside the request transaction
            return "renamed"

        return app

    return build


def _user(app) -> int:
    with app.app_context():
        user = User(email="locked@example.test", name="Locked", password_hash="x")
        db.session.add(user)
        db.session.commit()
        return user.id


def test_a_statement_that_does_not_finish_ends_in_a_503_page_with_retry_after(timed_app):
    app = timed_app()
    started = time.monotonic()
    response = app.test_client().get("/test/slow-report", headers=ENGLISH)
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "briefly unavailable" in response.text and "<html" in response.text


def test_a_row_locked_by_someone_else_ends_in_a_503_and_changes_nothing(timed_app,
                                                                       database_url):
    app = timed_app()
    user_id = _user(app)
    with app.app_context(), db.engine.connect() as other:  # a second connection
        other.execute(text("SELECT id FROM users WHERE id = :id FOR UPDATE"), {"id": user_id})
        started = time.monotonic()
        response = app.test_client().post(f"/test/rename/{user_id}")
        waited = time.monotonic() - started
        other.rollback()
    assert response.status_code == 503 and waited < 5
    assert response.headers["Retry-After"]
    with app.app_context():
        assert db.session.get(User, user_id).name == "Locked"
    # once the lock is gone the same request goes through
    assert app.test_client().post(f"/test/rename/{user_id}").status_code == 200


def test_the_api_answers_json_when_a_row_stays_locked(timed_app, database_url):
    app = timed_app()
    user_id = _user(app)
    with app.app_context(), db.engine.connect() as other:
        other.execute(text("SELECT id FROM users WHERE id = :id FOR UPDATE"), {"id": user_id})
        response = app.test_client().post(f"/api/v1/test/rename/{user_id}")
        other.rollback()
    assert response.status_code == 503
    assert response.json["error"]["code"] == "database_unavailable"
    assert response.headers["Retry-After"]


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(50)
    accepted = []
    stop = threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for connection in accepted:
        connection.close()
    listener.close()


def test_a_database_that_never_answers_gives_503s_within_the_timeouts(silent_server):
    config = _base_config(f"postgresql+psycopg://arbiter@127.0.0.1:{silent_server}/none")
    config.update({"DB_CONNECT_TIMEOUT_SECONDS": 2, "PROPAGATE_EXCEPTIONS": False})
    app = create_app(config)
    app.test_client_class = FreshContextClient
    client = app.test_client()

    started = time.monotonic()
    health = client.get("/healthz")
    assert time.monotonic() - started < 1.5
    assert health.status_code == 503 and health.json["database"] == "unreachable"

    started = time.monotonic()
    page = client.get("/status", headers=ENGLISH)
    assert time.monotonic() - started < 8  # connect_timeout, not gunicorn's 30 s
    assert page.status_code == 503
    assert "briefly unavailable" in page.text and page.headers["Retry-After"]

    started = time.monotonic()
    again = client.get("/healthz")  # the first probe may still hang: no second one piles up
    assert time.monotonic() - started < 1.5 and again.status_code == 503


def test_the_timeouts_reach_the_server(timed_app):
    app = timed_app(DB_STATEMENT_TIMEOUT_SECONDS=7, DB_LOCK_TIMEOUT_SECONDS=3)
    with app.app_context():
        assert db.session.scalar(text("SHOW statement_timeout")) == "7s"
        assert db.session.scalar(text("SHOW lock_timeout")) == "3s"
        assert db.session.scalar(select(func.count()).select_from(User)) >= 0
