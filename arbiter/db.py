"""Declarative base, constraint naming convention and column types shared by all packages."""

import re
import sqlite3
from contextlib import contextmanager
from datetime import UTC, datetime

from flask import g, has_request_context, request
from sqlalchemy import BigInteger, DateTime, Integer, MetaData, String, TypeDecorator, event
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, registry
from sqlalchemy.pool import Pool

from arbiter import clock

# A fixed naming convention gives every constraint a stable name, so Alembic can drop
# and alter them on both SQLite (batch mode) and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every engine.

    PostgreSQL stores ``timestamptz``; SQLite has no zones, so values are written as naive
    UTC and read back as aware UTC. Naive values are refused on the way in.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        aware = clock.ensure_aware(value)
        if dialect.name == "sqlite":
            return aware.replace(tzinfo=None)
        return aware

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    registry = registry(
        metadata=MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={
            datetime: UTCDateTime(),
            # BIGINT on PostgreSQL; plain INTEGER on SQLite, where only that autoincrements.
            int: BigInteger().with_variant(Integer(), "sqlite"),
        },
    )


class AppendOnly:
    """Rows of these tables are written once; the ORM refuses to update or delete them."""


@event.listens_for(Session, "before_flush")
def _refuse_rewrites_of_append_only_rows(session: Session, flush_context, instances) -> None:
    for obj in session.deleted:
        if isinstance(obj, AppendOnly):
            raise PermissionError(f"{type(obj).__tablename__} is append-only")
    for obj in session.dirty:
        if isinstance(obj, AppendOnly) and session.is_modified(obj, include_collections=False):
            raise PermissionError(f"{type(obj).__tablename__} is append-only")


class PrimaryKey:
    """An integer surrogate key (``INTEGER PRIMARY KEY`` on SQLite so it autoincrements)."""

    id: Mapped[int] = mapped_column(primary_key=True)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(
        default=clock.now, comment="When the row was created (UTC)"
    )
    updated_at: Mapped[datetime] = mapped_column(
        default=clock.now, onupdate=clock.now, comment="When the row last changed (UTC)"
    )


CURRENCY = String(3)


def enum_type(enum_cls, name: str | None = None, length: int = 32) -> SAEnum:
    """Store a StrEnum by value as VARCHAR plus a CHECK constraint (portable, migratable)."""
    return SAEnum(
        enum_cls,
        name=name or enum_cls.__name__.lower(),
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [member.value for member in members],
        validate_strings=True,
    )


@event.listens_for(Pool, "connect")
def _configure_sqlite(dbapi_connection, connection_record) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # pysqlite's own transaction handling breaks SAVEPOINT; let SQLAlchemy emit BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


# Set by ``read_safe_requests_in_autocommit`` on a GET's SQLite connection: no BEGIN, so
# each read is its own transaction, as on PostgreSQL.
_SQLITE_READS_IN_AUTOCOMMIT = "arbiter_sqlite_reads_in_autocommit"


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection) -> None:
    if (connection.dialect.name == "sqlite"
            and not connection.get_execution_options().get(_SQLITE_READS_IN_AUTOCOMMIT)):
        connection.exec_driver_sql("BEGIN")


# --- safe requests only read ---------------------------------------------------------------
# GET and HEAD change nothing: every change is a POST with a CSRF token. That is enforced
# here, for every connection a GET or HEAD uses: a statement that is not a read is refused
# before it reaches the database, as the bug it is (the answer is a 500, nothing is written).
#
# It also makes pages cheaper: their statements run in autocommit. On PostgreSQL psycopg
# then sends no BEGIN and no COMMIT, two of a page's five round trips to the database; and
# since nothing is rolled back, psycopg keeps its prepared statements (it forgets them all
# on a ROLLBACK), so PostgreSQL does not parse and plan a page's statements again on every
# request. Reads see what they saw in a transaction: at READ COMMITTED, PostgreSQL's level,
# every statement takes its own snapshot either way. On SQLite each read is likewise its
# own transaction: a page sends no BEGIN (1 % of its instructions) and, above all, holds its
# read lock only while a statement runs, not while the page renders, so a writer (another
# worker, the embedded scheduler) does not wait for pages to finish before it can commit.

SAFE_METHODS = frozenset({"GET", "HEAD"})
# A read, the SQLite BEGIN above, or the savepoints of a session nested in a transaction.
_READS = ("SELECT", "BEGIN", "SAVEPOINT", "RELEASE", "ROLLBACK")
# A common table expression reads unless it changes rows (WITH … INSERT … RETURNING).
_CHANGES_ROWS = re.compile(r"\b(INSERT|UPDATE|DELETE|MERGE)\b", re.IGNORECASE)


class WriteInSafeRequest(RuntimeError):
    """A GET or HEAD request tried to change the database."""


_BOOKKEEPING = "arbiter_bookkeeping_write"


@contextmanager
def bookkeeping_write():
    """Let a GET or HEAD write a note about the request itself, never what it reads (when
    an API token was last used). On PostgreSQL each such statement commits on its own."""
    previous = g.get(_BOOKKEEPING, False)
    setattr(g, _BOOKKEEPING, True)
    try:
        yield
    finally:
        setattr(g, _BOOKKEEPING, previous)


@event.listens_for(Engine, "before_cursor_execute")
def _refuse_writes_in_safe_requests(connection, cursor, statement, parameters, context,
                                    executemany) -> None:
    if (not has_request_context() or request.method not in SAFE_METHODS
            or g.get(_BOOKKEEPING)):
        return
    start = statement.lstrip()[:9].upper()  # not a copy of the whole SQL
    if start.startswith(_READS) or (start.startswith("WITH")
                                    and not _CHANGES_ROWS.search(statement)):
        return
    raise WriteInSafeRequest(
        f"{request.method} {request.path} may only read; it sent: {statement[:80]!r}")


def read_safe_requests_in_autocommit(app, session_scope) -> None:
    """Run the statements of GET and HEAD requests in autocommit (see above).

    ``session_scope`` returns the request's session; a session bound to one connection
    rather than to the engine (a test's transaction) is left as it is.
    """

    @app.before_request
    def _read_without_transaction() -> None:
        if request.method not in SAFE_METHODS or request.endpoint == "static":
            return
        session = session_scope()
        bind = session.get_bind()
        if not isinstance(bind, Engine) or session.in_transaction():
            return
        if bind.dialect.name == "postgresql":
            # The connection's level goes back to the engine's when it returns to the pool.
            options = {"isolation_level": "AUTOCOMMIT"}
        elif bind.dialect.name == "sqlite":
            # Not SQLAlchemy's AUTOCOMMIT level: resetting it at checkin would turn pysqlite's
            # own transaction handling back on (see ``_configure_sqlite``). This option ends
            # with the request's connection object.
            options = {_SQLITE_READS_IN_AUTOCOMMIT: True}
        else:
            return
        try:
            session.connection(execution_options=options)
        except SQLAlchemyError:
            # The database is unreachable: the view meets the same error where it knows
            # what to answer (the health check: 503).
            session.rollback()
