"""Shared helpers for benchmarks: a throwaway PostgreSQL database and fast bulk data."""

import os
import secrets
from contextlib import contextmanager

import psycopg
from sqlalchemy.engine import make_url

SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextmanager
def throwaway_database(prefix: str = "arbiter_bench"):
    """Create a database on the bench server, migrate it to head, drop it afterwards."""
    server = make_url(SERVER_URL).set(drivername="postgresql")
    name = f"{prefix}_{secrets.token_hex(3)}"
    admin = server.render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = server.set(database=name, drivername="postgresql+psycopg").render_as_string(
        hide_password=False)
    try:
        _migrate(url)
        yield url
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    from arbiter import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade()
        from arbiter.extensions import db

        db.engine.dispose()


def psycopg_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


# Secondary indexes and the unique and foreign-key constraints of the two bulk tables are
# dropped before the load and rebuilt after it: one sort per index and one join per
# foreign key instead of a B-tree insert and a trigger call per row. The rebuild validates
# every constraint again, so the data is exactly as valid as row-by-row inserts would make
# it. Check constraints and NOT NULLs stay in place during the load.
BULK_TABLES = ("orders", "discussions")

REASONS = ("not_received", "not_as_described", "damaged", "missing_parts", "other")


def _drop_for_bulk_load(cursor) -> list[str]:
    """Drop what the rebuild can recreate; return the statements that recreate it."""
    tables = list(BULK_TABLES)
    cursor.execute(
        "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
        "FROM pg_constraint WHERE conrelid = ANY(%s::regclass[]) AND contype IN ('u', 'f') "
        "ORDER BY contype DESC, conname", (tables,))
    constraints = cursor.fetchall()
    cursor.execute(
        "SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) "
        "FROM pg_index i WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid) "
        "ORDER BY 1", (tables,))
    indexes = cursor.fetchall()
    rebuild = []
    for table, name, definition in constraints:
        cursor.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
        rebuild.append(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for name, definition in indexes:
        cursor.execute(f"DROP INDEX {name}")
        rebuild.append(definition)
    # unique constraints first (a foreign key may need one), then indexes, then the keys
    return sorted(rebuild, key=lambda sql: (" FOREIGN KEY " in sql, not sql.startswith("ALTER")))


def _old_staff_flag(present: bool, false: str) -> tuple[str, str]:
    """The column and value of ``users.is_staff`` for a database before migration 0018
    (bench.migrate builds one at 0014), which made roles rows of ``staff_roles``; nothing
    at head. Buyers and sellers hold no staff role either way."""
    return (", is_staff", f", {false}") if present else ("", "")


def generate_discussions(url: str, total: int, due: int, *, escalated: int = 0,
                         ended: int = 0, buyer_id: int | None = None,
                         seller_id: int | None = None) -> float:
    """``total`` orders with a discussion each, generated inside PostgreSQL.

    The first ``escalated`` discussions are in the staff queue (escalated at distinct
    instants, their escalation notice already sent); the next ``due`` are in progress and
    past their 24 h window (the sweeper's escalation notice is due); the next ``ended`` were
    resolved or closed days ago (they hold the oldest answer deadlines, which the seller
    inbox, nearest deadline first, must skip); the rest are in progress, opened within the
    last 23 hours (none becomes due while a benchmark runs). Everything belongs to one
    buyer and one seller (``buyer_id``/``seller_id``, else two users created here): the
    worst case for the seller inbox's pages.

    Benchmark data is written with plain SQL, not through the services: it has no audit
    entries, threads or notifications (the audit log's append-only trigger is not touched;
    nothing here updates or deletes audit rows). Every row satisfies the tables' check,
    unique and foreign-key constraints, which are re-validated after the load.

    Returns the seconds taken, ANALYZE included: 1,000,000 discussions in well under two
    minutes. A ``sqlite:///`` URL gets the same rows from SQLite (:func:`_generate_sqlite`).
    """
    import time

    if make_url(url).get_backend_name() == "sqlite":
        return _generate_sqlite(url, total, due, escalated=escalated, ended=ended,
                                buyer_id=buyer_id, seller_id=seller_id)
    started = time.perf_counter()
    with psycopg.connect(psycopg_url(url)) as connection, connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        cursor.execute("SET maintenance_work_mem = '256MB'")
        if buyer_id is None or seller_id is None:
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE "
                "table_schema = current_schema() AND table_name = 'users' "
                "AND column_name = 'is_staff')")
            flag = _old_staff_flag(cursor.fetchone()[0], "false")
            cursor.execute(
                f"INSERT INTO users (email, name, password_hash{flag[0]}, created_at, "
                f"updated_at) VALUES ('bench-buyer@example.test', 'Buyer', 'x'{flag[1]}, "
                f"now(), now()), ('bench-seller@example.test', 'Seller', 'x'{flag[1]}, now(), "
                "now()) RETURNING id")
            buyer_id, seller_id = (row[0] for row in cursor.fetchall())
        cursor.execute("SELECT (SELECT coalesce(max(id), 0) FROM orders), "
                       "(SELECT coalesce(max(id), 0) FROM discussions)")
        base, discussion_base = cursor.fetchone()
        rebuild = _drop_for_bulk_load(cursor)
        cursor.execute(
            "INSERT INTO orders (id, external_id, buyer_id, seller_id, item_title, item_price,"
            " shipping_cost, currency, payment_method, paid_at, created_at, updated_at) "
            "SELECT %(base)s + n, 'B-' || (%(base)s + n), %(buyer)s, %(seller)s, "
            "'Item ' || n, 10000 + n %% 5000, 500, 'PLN', 'platform_payments', "
            "now() - interval '14 days', now(), now() "
            "FROM generate_series(1, %(total)s) AS n",
            {"base": base, "total": total, "buyer": buyer_id, "seller": seller_id})
        # Opened n seconds apart (modulo 23 hours for the fresh ones), so the queue's
        # escalation times are distinct and the inbox's deadlines nearly so (the id breaks
        # the remaining ties). Escalated: opened 3-4 days ago, escalated 25 h after opening;
        # due: opened 25-49 h ago; ended (resolved or closed, most discussions end that
        # way): opened 5-12 days ago, so they are the oldest deadlines of the seller; the
        # rest: in progress, opened within the last 23 hours (not due during a run).
        cursor.execute(
            "INSERT INTO discussions (id, version, order_id, buyer_id, seller_id, reason, "
            " expected_outcome, description, state, opened_at, respond_by, "
            " escalation_available_at, last_activity_at, escalated_at, escalation_reason, "
            " escalation_notice_sent_at, resolved_at, closed_at, created_at, updated_at) "
            "SELECT %(discussion_base)s + n, 1, %(base)s + n, %(buyer)s, %(seller)s, "
            " (%(reasons)s::text[])[1 + n %% 5], 'refund', 'The item did not arrive.', "
            " CASE WHEN kind IN ('escalated', 'resolved', 'closed') THEN kind "
            "  ELSE 'in_progress' END, "
            " opened, opened + interval '24 hours', opened + interval '24 hours', "
            " CASE kind WHEN 'escalated' THEN opened + interval '25 hours' "
            "  WHEN 'resolved' THEN opened + interval '2 days' "
            "  WHEN 'closed' THEN opened + interval '2 days' ELSE opened END, "
            " CASE WHEN kind = 'escalated' THEN opened + interval '25 hours' END, "
            " CASE WHEN kind = 'escalated' THEN 'The seller stopped answering.' END, "
            " CASE WHEN kind IN ('escalated', 'resolved', 'closed') "
            "  THEN opened + interval '24 hours' END, "
            " CASE WHEN kind = 'resolved' THEN opened + interval '2 days' END, "
            " CASE WHEN kind = 'closed' THEN opened + interval '2 days' END, "
            " now(), now() "
            "FROM generate_series(1, %(total)s) AS n, "
            "LATERAL (SELECT CASE WHEN n <= %(escalated)s THEN 'escalated' "
            " WHEN n <= %(escalated)s + %(due)s THEN 'due' "
            " WHEN n <= %(escalated)s + %(due)s + %(ended)s "
            "  THEN CASE WHEN n %% 2 = 0 THEN 'closed' ELSE 'resolved' END "
            " ELSE 'fresh' END AS kind) AS k, "
            "LATERAL (SELECT CASE kind "
            " WHEN 'escalated' THEN now() - interval '72 hours' - n * interval '1 second' "
            " WHEN 'due' THEN now() - interval '49 hours' + (n %% 86400) * interval '1 second' "
            " WHEN 'fresh' THEN now() - (n %% 82800) * interval '1 second' "
            " ELSE now() - interval '5 days' - (n %% 604800) * interval '1 second' "
            " END AS opened) AS o",
            {"base": base, "discussion_base": discussion_base, "total": total,
             "buyer": buyer_id, "seller": seller_id, "escalated": escalated, "due": due,
             "ended": ended, "reasons": list(REASONS)})
        for statement in rebuild:
            cursor.execute(statement)
        for table in ("users", "orders", "discussions"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT max(id) FROM {table}))")
        connection.commit()
        connection.autocommit = True
        cursor.execute("VACUUM ANALYZE orders, discussions")
    return time.perf_counter() - started


def _sqlite_time(seconds: str) -> str:
    """SQL for an instant given in seconds since the epoch, written as SQLAlchemy writes
    datetimes to SQLite (naive UTC with microseconds): queries compare them as strings."""
    return f"(strftime('%Y-%m-%d %H:%M:%S', {seconds}, 'unixepoch') || '.000000')"


def _generate_sqlite(url: str, total: int, due: int, *, escalated: int, ended: int,
                     buyer_id: int | None, seller_id: int | None) -> float:
    """:func:`generate_discussions` in a SQLite file: the same rows at the same instants,
    from a recursive CTE. The indexes are dropped before the load and built again after
    it (the unique ones validate again); foreign keys, off on this connection, are
    checked once afterwards (``PRAGMA foreign_key_check``). Check constraints and NOT
    NULLs stay in place."""
    import sqlite3
    import time

    started = time.perf_counter()
    now = int(time.time())
    day, hour = 86400, 3600
    connection = sqlite3.connect(make_url(url).database, isolation_level=None)
    try:
        connection.execute("PRAGMA synchronous = OFF")
        connection.execute("PRAGMA journal_mode = MEMORY")  # for this connection only
        connection.execute("BEGIN")
        if buyer_id is None or seller_id is None:
            ids = []
            flag = _old_staff_flag(any(
                column[1] == "is_staff"
                for column in connection.execute("PRAGMA table_info(users)")), "0")
            for email, name in (("bench-buyer@example.test", "Buyer"),
                                ("bench-seller@example.test", "Seller")):
                ids.append(connection.execute(
                    f"INSERT INTO users (email, name, password_hash{flag[0]}, created_at, "
                    f"updated_at) VALUES (:email, :name, 'x'{flag[1]}, {_sqlite_time(':now')}, "
                    f"{_sqlite_time(':now')})", {"email": email, "name": name, "now": now}
                ).lastrowid)
            buyer_id, seller_id = ids
        base, discussion_base = connection.execute(
            "SELECT (SELECT coalesce(max(id), 0) FROM orders), "
            "(SELECT coalesce(max(id), 0) FROM discussions)").fetchone()
        indexes = connection.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name IN ('orders', 'discussions') ORDER BY name").fetchall()
        for name, _ in indexes:
            connection.execute(f'DROP INDEX "{name}"')
        parameters = {"base": base, "discussion_base": discussion_base, "total": total,
                      "buyer": buyer_id, "seller": seller_id, "escalated": escalated,
                      "due": due, "ended": ended, "now": now}
        numbers = ("WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL "
                   "SELECT n + 1 FROM numbers WHERE n < :total) ")
        connection.execute(
            numbers + "INSERT INTO orders (id, external_id, buyer_id, seller_id, item_title, "
            "item_price, shipping_cost, currency, payment_method, paid_at, created_at, "
            "updated_at) SELECT :base + n, 'B-' || (:base + n), :buyer, :seller, "
            "'Item ' || n, 10000 + n % 5000, 500, 'PLN', 'platform_payments', "
            f"{_sqlite_time(f':now - 14 * {day}')}, {_sqlite_time(':now')}, "
            f"{_sqlite_time(':now')} FROM numbers", parameters)
        reasons = " ".join(f"WHEN {i} THEN '{reason}'"
                           for i, reason in enumerate(REASONS, 1))
        activity = (f"CASE kind WHEN 'escalated' THEN opened + 25 * {hour} "
                    f"WHEN 'resolved' THEN opened + 2 * {day} "
                    f"WHEN 'closed' THEN opened + 2 * {day} ELSE opened END")
        # generate_discussions' instants, in seconds since the epoch: see there.
        connection.execute(
            numbers + ", kinds(n, kind) AS (SELECT n, CASE "
            " WHEN n <= :escalated THEN 'escalated' "
            " WHEN n <= :escalated + :due THEN 'due' "
            " WHEN n <= :escalated + :due + :ended "
            "  THEN CASE WHEN n % 2 = 0 THEN 'closed' ELSE 'resolved' END "
            " ELSE 'fresh' END FROM numbers), "
            "times(n, kind, opened) AS (SELECT n, kind, CASE kind "
            f" WHEN 'escalated' THEN :now - 72 * {hour} - n "
            f" WHEN 'due' THEN :now - 49 * {hour} + n % 86400 "
            " WHEN 'fresh' THEN :now - n % 82800 "
            f" ELSE :now - 5 * {day} - n % 604800 END FROM kinds) "
            "INSERT INTO discussions (id, version, order_id, buyer_id, seller_id, reason, "
            " expected_outcome, description, state, opened_at, respond_by, "
            " escalation_available_at, last_activity_at, escalated_at, escalation_reason, "
            " escalation_notice_sent_at, resolved_at, closed_at, created_at, updated_at) "
            "SELECT :discussion_base + n, 1, :base + n, :buyer, :seller, "
            f" CASE 1 + n % 5 {reasons} END, 'refund', 'The item did not arrive.', "
            " CASE WHEN kind IN ('escalated', 'resolved', 'closed') THEN kind "
            "  ELSE 'in_progress' END, "
            f" {_sqlite_time('opened')}, {_sqlite_time(f'opened + {day}')}, "
            f" {_sqlite_time(f'opened + {day}')}, {_sqlite_time(activity)}, "
            f" CASE WHEN kind = 'escalated' THEN {_sqlite_time(f'opened + 25 * {hour}')} END, "
            " CASE WHEN kind = 'escalated' THEN 'The seller stopped answering.' END, "
            " CASE WHEN kind IN ('escalated', 'resolved', 'closed') "
            f"  THEN {_sqlite_time(f'opened + {day}')} END, "
            f" CASE WHEN kind = 'resolved' THEN {_sqlite_time(f'opened + 2 * {day}')} END, "
            f" CASE WHEN kind = 'closed' THEN {_sqlite_time(f'opened + 2 * {day}')} END, "
            f" {_sqlite_time(':now')}, {_sqlite_time(':now')} FROM times", parameters)
        for _, sql in indexes:
            connection.execute(sql)
        broken = connection.execute("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"generated rows break foreign keys: {broken[:5]}")
        connection.execute("COMMIT")
        connection.execute("ANALYZE")
    finally:
        connection.close()
    return time.perf_counter() - started
