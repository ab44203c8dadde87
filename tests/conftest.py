"""Test harness: every database test runs on SQLite and on real PostgreSQL.

PostgreSQL comes from ``TEST_DATABASE_URL`` (a server where we may CREATE DATABASE; the
suite works in a throwaway database of its own), else from a throwaway cluster started
with local binaries (pytest-postgresql; impossible as root), else the PostgreSQL half is
skipped and the summary says so loudly. ``REQUIRE_POSTGRES=1`` (CI) turns that skip
into a failure. Each test runs inside a transaction that is rolled back (a savepoint per
commit), so tests never see each other's rows.
"""

import os
import secrets
import shutil

import pytest
from flask.testing import FlaskClient
from flask_sqlalchemy.session import Session as FlaskSQLAlchemySession
from jinja2 import StrictUndefined
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from arbiter import create_app, tlog
from arbiter.extensions import db, limiter
from tests.database import empty_tables

pytest_plugins = ["tests.factories", "tests.api_fixtures"]

BACKENDS = ["sqlite", "postgresql"]
# Reference data the migrations insert; concurrency tests must not wipe it.
SEEDED_BY_MIGRATIONS = {"policy_versions"}
# The transparency log's checkpoint key of the whole run (arbiter.transparency_log).
AUDIT_SIGNING_KEY = tlog.generate_signing_key("arbiter.test/audit-log")
_postgres_skip_reason: list[str] = []
# Flask-Limiter keeps its storage on the one global Limiter: memory for the suite (so
# time-machine can move its clock); the Redis test swaps it in and back out.
RATELIMIT_STORAGE = "memory://"
RATELIMIT_PREFIX = f"arbiter-test-{os.getpid()}"


class BoundSession(FlaskSQLAlchemySession):
    """Flask-SQLAlchemy picks the engine itself; tests need the session on one connection."""

    def get_bind(self, *args, **kwargs):
        return self.bind


class FreshContextClient(FlaskClient):
    """Each request gets its own app context, as in production.

    Tests hold an app context open (to build rows and look at them); without this, Flask
    would reuse it for every request and ``g`` (where Flask-Login keeps the user) would
    leak from one request into the next.
    """

    def open(self, *args, **kwargs):
        with self.application.app_context():
            return super().open(*args, **kwargs)


def _base_config(url: str) -> dict:
    return {
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "test-secret-" + "x" * 20,
        "WTF_CSRF_ENABLED": False,
        "PASSWORD_HASH_FAST": True,
        "RATELIMIT_STORAGE_URI": RATELIMIT_STORAGE,
        "RATELIMIT_KEY_PREFIX": RATELIMIT_PREFIX,
        # The race tests queue 50 requests on one row on a shared 2-core CI machine; the
        # production lock timeout (5 s) would turn the last of them into 503s there. The
        # timeouts' own tests (tests/arbiter/test_database_timeouts.py) set short ones.
        "DB_LOCK_TIMEOUT_SECONDS": 60,
        "DB_STATEMENT_TIMEOUT_SECONDS": 60,
        "AUDIT_SIGNING_KEY": AUDIT_SIGNING_KEY,
        "AUDIT_CHECKPOINT_INTERVAL_SECONDS": 0,  # a checkpoint whenever the tree grew
    }


# Staff may decide a claim at once in the tests written before the seller's window: the
# seeded versions of the tests' databases give the seller no time (no draft can: a window
# of 0 is refused). The tests of the window set the real 48 h (``seller_answer_hours``).
NO_SELLER_WINDOW = text("UPDATE policy_versions SET seller_answer_hours = 0")


def give_sellers_no_time(connection) -> None:
    connection.execute(NO_SELLER_WINDOW)


def _migrate_to_head(url: str) -> None:
    from flask_migrate import upgrade

    app = create_app(_base_config(url))
    with app.app_context():
        upgrade()
        with db.engine.begin() as connection:
            give_sellers_no_time(connection)
        db.engine.dispose()


def _postgres_url(request) -> str:
    server = os.environ.get("TEST_DATABASE_URL")
    if server:
        return _throwaway_database(server, request)
    if _find_pg_ctl():
        try:
            proc = request.getfixturevalue("postgresql_proc")
        except Exception as error:
            return _no_postgres(f"could not start a local PostgreSQL: {error}")
        server = f"postgresql+psycopg://{proc.user}@{proc.host}:{proc.port}/postgres"
        return _throwaway_database(server, request)
    return _no_postgres("TEST_DATABASE_URL is not set and no PostgreSQL binaries were found")


def _find_pg_ctl() -> str | None:
    if os.geteuid() == 0:
        return None  # PostgreSQL refuses to run as root
    found = shutil.which("pg_ctl")
    debian_root = "/usr/lib/postgresql"
    if not found and os.path.isdir(debian_root):
        for version in sorted(os.listdir(debian_root), reverse=True):
            candidate = os.path.join(debian_root, version, "bin", "pg_ctl")
            if os.path.exists(candidate):
                return candidate
    return found


def _no_postgres(reason: str) -> str:
    if os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail(f"REQUIRE_POSTGRES=1 but PostgreSQL is unavailable: {reason}")
    _postgres_skip_reason.append(reason)
    pytest.skip(f"PostgreSQL tests skipped: {reason}")


def _throwaway_database(server_url: str, request) -> str:
    server = make_url(server_url).set(drivername="postgresql+psycopg")
    name = f"arbiter_test_{os.getpid()}_{secrets.token_hex(3)}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        admin.dispose()
        return _no_postgres(f"cannot create a test database on {server.host}: {error}")

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    request.addfinalizer(drop)
    return server.set(database=name).render_as_string(hide_password=False)


try:  # only used when TEST_DATABASE_URL is unset and we are not root
    from pytest_postgresql import factories

    postgresql_proc = factories.postgresql_proc(
        executable=_find_pg_ctl() or "pg_ctl", port=None
    )
except ImportError:  # pragma: no cover
    pass


@pytest.fixture(scope="session", params=BACKENDS)
def database_url(request, tmp_path_factory) -> str:
    """A migrated database (to head) of each backend, shared by the session."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'arbiter.sqlite3'}"
    else:
        url = _postgres_url(request)
    _migrate_to_head(url)
    return url


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    config = _base_config(database_url)
    config["STORAGE_DIR"] = str(tmp_path_factory.mktemp("storage"))
    config["AUDIT_VERIFIED_FILE"] = str(tmp_path_factory.mktemp("audit") / "verified.json")
    app = create_app(config)
    app.test_client_class = FreshContextClient
    # A template that names something its view did not give fails the test, not the page.
    app.jinja_env.undefined = StrictUndefined
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def backend(database_url) -> str:
    return make_url(database_url).get_backend_name()


@pytest.fixture(autouse=True)
def _skip_postgres_only(request):
    if request.node.get_closest_marker("postgres_only"):
        if "database_url" not in request.fixturenames:
            return
        if make_url(request.getfixturevalue("database_url")).get_backend_name() != "postgresql":
            pytest.skip("PostgreSQL only")


@pytest.fixture
def db_session(app):
    """The app's session bound to one connection whose outer transaction is rolled back."""
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        original = db.session
        db.session = db._make_scoped_session(
            {"class_": BoundSession, "bind": connection,
             "join_transaction_mode": "create_savepoint"}
        )
        limiter.reset()
        try:
            yield db.session
        finally:
            db.session.remove()
            db.session = original
            outer.rollback()
            connection.close()


@pytest.fixture
def committed(app, database_url):
    """Real commits on separate connections (concurrency tests); tables emptied afterwards."""
    if make_url(database_url).get_backend_name() != "postgresql":
        pytest.skip("PostgreSQL only")
    with app.app_context():
        limiter.reset()
        yield app
        db.session.remove()
        tables = ", ".join(table.name for table in db.metadata.sorted_tables
                           if table.name not in SEEDED_BY_MIGRATIONS)
        with db.engine.begin() as connection:
            empty_tables(connection, tables)


@pytest.fixture
def seller_answer_hours(db_session):
    """Give the sellers of claims judged by the seeded versions ``hours`` to answer (the
    tests' databases give them none), for this test only."""
    from sqlalchemy import update

    from claims.models import PolicyVersion

    def give(hours: int) -> None:
        db_session.execute(update(PolicyVersion).values(seller_answer_hours=hours))
        db_session.flush()

    return give


@pytest.fixture
def client(app, db_session):
    """A browser that prefers English (the default locale is Polish; i18n tests say so)."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def fresh_app(tmp_path):
    """Build an app with extra configuration on a throwaway SQLite file."""

    def build(**config):
        url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        base = _base_config(url)
        base["STORAGE_DIR"] = str(tmp_path / "storage")
        base.update(config)
        app = create_app(base)
        app.test_client_class = FreshContextClient
        app.jinja_env.undefined = StrictUndefined
        return app

    return build


# CI runs these again, 20 times in a row (`make test` with RACE_REPEAT=20, set by .ci/run):
# a race or a boundary that passes by luck shows up there. The concurrency modules carry
# the ``race`` marker themselves; these are the deadline boundaries (24 h, 72 h, 7 days,
# 90 days, DST, incident extensions) and one more race.
DEADLINE_TESTS = (
    "tests/arbiter/test_clock.py",
    "tests/disputes/test_policy.py",
    "tests/disputes/test_tasks.py",
    "tests/disputes/test_services.py::test_escalation",
    "tests/claims/test_policy.py",
    "tests/claims/test_rules.py",
    "tests/claims/test_filing.py::test_the_discussion_window",
    "tests/claims/test_filing.py::test_the_filing_window",
    "tests/claims/test_review.py::test_requested_documents_are_due",
    "tests/claims/test_review.py::test_rejection_for_missing_documents",
    "tests/incidents/test_policy.py",
    "tests/incidents/test_extensions.py",
)
RACE_TESTS = ("tests/arbiter/test_documents.py::test_concurrent_decisions",)


def pytest_collection_modifyitems(items):
    for item in items:
        if item.nodeid.startswith(DEADLINE_TESTS):
            item.add_marker(pytest.mark.deadline)
        if item.nodeid.startswith(RACE_TESTS):
            item.add_marker(pytest.mark.race)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _postgres_skip_reason:
        bar = "!" * 78
        terminalreporter.write_line(bar, red=True, bold=True)
        terminalreporter.write_line(
            "PostgreSQL tests were SKIPPED: " + _postgres_skip_reason[0], red=True, bold=True
        )
        terminalreporter.write_line(
            "Set TEST_DATABASE_URL=postgresql://USER@HOST:PORT/DB to run them.", red=True
        )
        terminalreporter.write_line(bar, red=True, bold=True)
