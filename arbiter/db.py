"""Declarative base, constraint naming convention and column types shared by all packages."""

import sqlite3
from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    event,
    inspect,
    select,
)
from sqlalchemy import Enum as SAEnum
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
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


def values_in(column: str, values) -> str:
    """``column IN ('a', 'b')`` with the values sorted, for a CHECK or a partial index's
    WHERE: the states (StrEnums) a rule names, written out as literals."""
    return "{} IN ({})".format(column, ", ".join(f"'{v.value}'" for v in sorted(values)))


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
    # A writer waits up to this long for the lock instead of failing at once.
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    # Write-ahead log: readers (a page, a PDF render reading its decision) never block the
    # writer and the writer never blocks them, so one user's request and the background
    # work of the same process no longer meet at "database is locked". The mode is stored
    # in the file; an in-memory database answers "memory" and stays as it is.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable at each checkpoint; safe in WAL
    cursor.close()


SQLITE_BUSY_TIMEOUT_MS = 10_000
# PostgreSQL's transient lock conflicts: deadlock detected, serialization failure, a lock
# not obtained within lock_timeout. Trying the whole transaction again is the cure.
_LOCK_CONFLICT_SQLSTATES = frozenset({"40P01", "40001", "55P03"})


def is_lock_conflict(error: BaseException) -> bool:
    """The database refused because another transaction held a lock, and running the same
    work again shortly may succeed: SQLite's "database is locked" (also the one a reader
    gets at once when it tries to write after another writer changed its snapshot,
    whatever the busy timeout), or a PostgreSQL deadlock, serialization failure or lock
    timeout. Looks through the exception's causes (a task may wrap it)."""
    seen: BaseException | None = error
    for _ in range(10):  # a chain of causes is short; never follow a cycle forever
        if seen is None:
            break
        orig = getattr(seen, "orig", None)
        if isinstance(seen, DBAPIError) and orig is not None:
            if isinstance(orig, sqlite3.OperationalError):
                return "locked" in str(orig) or "busy" in str(orig)
            return getattr(orig, "sqlstate", None) in _LOCK_CONFLICT_SQLSTATES
        seen = seen.__cause__ or seen.__context__
    return False


# Set on the connection of a request that may write (arbiter.transactions).
SQLITE_WRITER = "arbiter_sqlite_writer"


@event.listens_for(Engine, "begin")
def _sqlite_begin(connection) -> None:
    """SQLite: a request that may write takes the write lock when its transaction begins
    (BEGIN IMMEDIATE), so a second one waits for it (``busy_timeout``). With a plain BEGIN
    both start as readers, and the one that tries to write second fails at once with
    "database is locked" (SQLite cannot wait there without risking a deadlock)."""
    if connection.dialect.name == "sqlite":
        writer = connection.get_execution_options().get(SQLITE_WRITER)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")


def locked(model, row_id: int):
    """The row, locked ``FOR UPDATE`` on PostgreSQL and read fresh once the lock is held,
    or NotFound (404): every service reads what it is about to change this way.

    The locking statement reads the row alone: when it had to wait for another transaction,
    PostgreSQL re-reads only the locked row, so anything joined into it would be as it was
    before that transaction committed. The row's relationships are therefore loaded
    afterwards, when first used, from the state after the lock (even ones this session had
    loaded before).
    """
    from flask_babel import gettext

    from arbiter.errors import NotFound
    from arbiter.extensions import db

    row = db.session.scalar(select(model).where(model.id == row_id).with_for_update()
                            .execution_options(populate_existing=True))
    if row is None:
        raise NotFound(gettext("There is nothing here."))
    db.session.expire(row, [relationship.key for relationship in inspect(model).relationships])
    return row


def add_unless_taken(row, refusal) -> None:
    """Add ``row`` now; when a unique index refuses it because another request inserted
    the same thing at the same moment, raise ``refusal()`` (a 409 naming the winner), the
    session still usable (only a savepoint was rolled back)."""
    from sqlalchemy.exc import IntegrityError

    from arbiter.extensions import db

    try:
        # begin_nested() flushes what is pending before its SAVEPOINT: ``row`` must join
        # the session after it, or the losing INSERT runs outside the savepoint and dooms
        # the whole transaction (the refusal's own query then failed: a 500, not a 409).
        # Added inside, the savepoint's rollback also takes ``row`` out of the session.
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        raise refusal() from None
