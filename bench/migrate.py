"""Migration 0015 (the settlement ledger) on bench data, SQLite and PostgreSQL.

Builds a database at revision 0014 with ``--size`` discussions (bench.common's generator),
adds the outcomes 0015 moves into the ledger — accepted offers (full and partial refunds,
replacements), decided verdicts with amounts, approved and paid claims (with their payouts
and a payout batch), and a few orders compensated twice before this change (an accepted
full refund and, on a second discussion of the same order, a paid claim) — then times
``upgrade 0014 -> 0015`` and checks the result: no order's ``compensation_committed``
above its total, each one equal to the sum of its counted rows (owed or confirmed, paid to
the buyer), every outcome in the ledger once, and exactly the double compensations
recorded ``cancelled``.

    make bench-migrate                       # both engines, 1,000,000 discussions
    .venv/bin/python -m bench.migrate --engines postgresql --size 100000

Like the rest of bench/, the rows are written with plain SQL, not the services (no audit
entries, no threads); every row satisfies the tables' constraints at 0014.
"""

import argparse
import logging
import os
import secrets
import tempfile
import time
from contextlib import contextmanager

import psycopg
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.common import SERVER_URL, generate_discussions

# Shares of the generated discussions (escalated first, then ended, then fresh ones).
ESCALATED = 0.10       # half of them decided with an amount (buyer's favour or partial)
ENDED = 0.60           # odd ones resolved (a third with an accepted offer), even ones closed
CLAIMS = 0.04          # on closed discussions: half approved, half paid
TWICE = 100            # orders with an accepted full refund and a paid claim


def _app(url: str):
    from arbiter import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                       "STORAGE_DIR": tempfile.mkdtemp(prefix="bench-migrate-")})


def _migrate(url: str, revision: str) -> float:
    from alembic import command

    from arbiter.extensions import db

    app = _app(url)
    with app.app_context():
        config = app.extensions["migrate"].migrate.get_config()
        started = time.perf_counter()
        command.upgrade(config, revision)
        elapsed = time.perf_counter() - started
        db.engine.dispose()
    return elapsed


@contextmanager
def _database(engine: str):
    if engine == "sqlite":
        with tempfile.TemporaryDirectory(prefix="bench-migrate-") as directory:
            yield f"sqlite:///{directory}/bench.sqlite3"
        return
    server = make_url(SERVER_URL).set(drivername="postgresql")
    admin = server.render_as_string(hide_password=False)
    name = f"arbiter_bench_migrate_{secrets.token_hex(3)}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name, drivername="postgresql+psycopg").render_as_string(
            hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _plus_hours(dialect: str, column: str, hours: int) -> str:
    if dialect == "sqlite":
        return f"(datetime({column}, '+{hours} hours') || substr({column}, 20))"
    return f"({column} + interval '{hours} hours')"


def add_outcomes(url: str, size: int) -> dict[str, int]:
    """The 0014 outcomes on top of the generated discussions; returns what was added."""
    engine = create_engine(url)
    dialect = engine.dialect.name
    json_list = "'[]'" if dialect == "sqlite" else "CAST('[]' AS JSON)"
    escalated = int(size * ESCALATED)
    ended_last = escalated + int(size * ENDED)
    claims_every = max(int(1 / CLAIMS * 2 * ENDED), 2)  # claims on one closed in N
    with engine.begin() as connection:
        run = connection.execute
        if dialect == "sqlite":
            run(text("PRAGMA foreign_keys = ON"))
        base = run(text("SELECT min(id) FROM discussions")).scalar_one() - 1
        buyer, seller = run(text("SELECT buyer_id, seller_id FROM discussions "
                                 "ORDER BY id LIMIT 1")).one()
        staff = []
        for email in ("bench-advisor@example.test", "bench-finance@example.test",
                      "bench-senior@example.test"):
            run(text("INSERT INTO users (email, name, password_hash, is_staff, created_at, "
                     "updated_at) VALUES (:email, 'Staff', 'x', true, :now, :now)"),
                {"email": email, "now": _now(dialect)})
            staff.append(run(text("SELECT id FROM users WHERE email = :email"),
                             {"email": email}).scalar_one())
        advisor, exporter, marker = staff
        within = {"base": base, "escalated": escalated, "ended_last": ended_last,
                  "advisor": advisor, "buyer": buyer, "seller": seller,
                  "exporter": exporter, "marker": marker, "every": claims_every,
                  "twice": TWICE}
        # Verdicts: every other escalated discussion decided, buyer's favour (the total)
        # or partial (a third of it), a day after the escalation.
        run(text(f"""
            UPDATE discussions SET state = 'decided', assigned_staff_id = :advisor,
                   taken_at = escalated_at, decided_by_id = :advisor,
                   decided_at = {_plus_hours(dialect, 'escalated_at', 24)},
                   verdict = CASE WHEN id % 4 = 0 THEN 'buyer_favour' ELSE 'partial' END,
                   rationale = 'The seller did not show the parcel was sent.',
                   refund_amount = (SELECT CASE WHEN discussions.id % 4 = 0
                                                THEN o.item_price + o.shipping_cost
                                                ELSE (o.item_price + o.shipping_cost) / 3 END
                                    FROM orders o WHERE o.id = discussions.order_id)
            WHERE id - :base <= :escalated AND id % 2 = 0"""), within)
        # Accepted offers: a third of the resolved discussions (full refund, partial
        # refund, replacement), accepted when the discussion was resolved.
        offered = ("FROM discussions d JOIN orders o ON o.id = d.order_id "
                   "WHERE d.id - :base > :escalated AND d.id - :base <= :ended_last "
                   "AND d.state = 'resolved' AND d.id % 3 = 1")
        run(text(f"""
            INSERT INTO discussion_entries (discussion_id, kind, author_id, author_role, body,
                                            created_at)
            SELECT d.id, 'offer', d.seller_id, 'seller', '', d.resolved_at {offered}"""),
            within)
        run(text(f"""
            INSERT INTO offers (discussion_id, entry_id, kind, amount, state, created_at,
                                answered_at)
            SELECT d.id, e.id,
                   CASE d.id % 9 WHEN 1 THEN 'partial_refund' WHEN 4 THEN 'replacement'
                                 ELSE 'refund' END,
                   CASE d.id % 9 WHEN 1 THEN (o.item_price + o.shipping_cost) / 2
                                 WHEN 4 THEN NULL
                                 ELSE o.item_price + o.shipping_cost END,
                   'accepted', d.resolved_at, d.resolved_at
            {offered.replace('WHERE', 'JOIN discussion_entries e ON e.discussion_id = d.id '
                                      "AND e.kind = 'offer' WHERE")}"""), within)
        # Compensated twice: on the first TWICE orders with an accepted full refund, a
        # second (closed) discussion, opened after the refund, on which a claim was paid.
        resolved_offered = offered[offered.index("WHERE"):]
        twice_orders = (f"SELECT d.id FROM discussions d JOIN offers f "
                        f"ON f.discussion_id = d.id AND f.kind = 'refund' {resolved_offered} "
                        f"ORDER BY d.id LIMIT :twice")
        top = run(text("SELECT max(id) FROM discussions")).scalar_one()
        run(text(f"""
            INSERT INTO discussions (id, version, order_id, buyer_id, seller_id, reason,
                expected_outcome, description, state, opened_at, respond_by,
                escalation_available_at, last_activity_at, closed_at, created_at, updated_at)
            SELECT :top + d.id, 1, d.order_id, d.buyer_id, d.seller_id, 'not_received',
                   'refund', 'The refund never came.', 'closed',
                   {_plus_hours(dialect, 'd.resolved_at', 1)},
                   {_plus_hours(dialect, 'd.resolved_at', 25)},
                   {_plus_hours(dialect, 'd.resolved_at', 25)},
                   {_plus_hours(dialect, 'd.resolved_at', 48)},
                   {_plus_hours(dialect, 'd.resolved_at', 48)}, d.created_at, d.updated_at
            FROM discussions d WHERE d.id IN ({twice_orders})"""), {**within, "top": top})
        # Claims: on one closed discussion in ``every`` (approved, or paid), and on the
        # second discussions of the orders compensated twice (paid).
        claimed = ("(d.state = 'closed' AND d.id - :base <= :ended_last "
                   "AND d.id % :every = 0) OR d.id > :top")
        run(text(f"""
            INSERT INTO claims (version, order_id, buyer_id, seller_id, discussion_id,
                claim_type, description, payout_account, state, submitted_at,
                policy_version_id, item_amount, shipping_amount, max_total, cap_applied,
                clauses, assigned_staff_id, taken_at, approved_amount, decided_at,
                decided_by_id, paid_at, created_at, updated_at)
            SELECT 1, o.id, o.buyer_id, o.seller_id, d.id, 'not_received', 'Never arrived.',
                   'PL61109010140000071219812874',
                   CASE WHEN d.id > :top OR d.id % (2 * :every) = 0 THEN 'paid'
                        ELSE 'approved' END,
                   d.closed_at, (SELECT min(id) FROM policy_versions), o.item_price,
                   o.shipping_cost, o.item_price + o.shipping_cost, false, {json_list},
                   :advisor, d.closed_at, o.item_price + o.shipping_cost,
                   {_plus_hours(dialect, 'd.closed_at', 24)}, :advisor,
                   CASE WHEN d.id > :top OR d.id % (2 * :every) = 0
                        THEN {_plus_hours(dialect, 'd.closed_at', 48)} END,
                   d.closed_at, d.closed_at
            FROM discussions d JOIN orders o ON o.id = d.order_id WHERE {claimed}"""),
            {**within, "top": top})
        paid = run(text("SELECT count(*), coalesce(sum(approved_amount), 0) FROM claims "
                        "WHERE state = 'paid'")).one()
        run(text("""
            INSERT INTO payout_batches (created_at, created_by_id, payout_count, total_amount,
                currency, csv_sha256, csv_storage_key, marked_paid_at, marked_paid_by_id)
            VALUES (:now, :exporter, :count, :total, 'PLN', :sha, 'bench-batch', :now,
                    :marker)"""),
            {**within, "now": _now(dialect), "count": paid[0], "total": paid[1],
             "sha": "0" * 64})
        batch = run(text("SELECT max(id) FROM payout_batches")).scalar_one()
        run(text("""
            INSERT INTO payouts (claim_id, amount, currency, beneficiary_name, account, state,
                batch_id, created_at, paid_at, buyer_id, seller_id, exported_by_id,
                marked_paid_by_id)
            SELECT c.id, c.approved_amount, 'PLN', 'Buyer', c.payout_account,
                   CASE WHEN c.state = 'paid' THEN 'paid' ELSE 'pending' END,
                   CASE WHEN c.state = 'paid' THEN :batch END, c.decided_at, c.paid_at,
                   c.buyer_id, c.seller_id,
                   CASE WHEN c.state = 'paid' THEN :exporter END,
                   CASE WHEN c.state = 'paid' THEN :marker END
            FROM claims c"""), {**within, "batch": batch})
        counts = {
            "discussions": run(text("SELECT count(*) FROM discussions")).scalar_one(),
            "accepted_offers": run(text(
                "SELECT count(*) FROM offers WHERE state = 'accepted'")).scalar_one(),
            "verdicts": run(text("SELECT count(*) FROM discussions WHERE state = 'decided' "
                                 "AND refund_amount > 0")).scalar_one(),
            "approved_claims": run(text(
                "SELECT count(*) FROM claims WHERE state = 'approved'")).scalar_one(),
            "paid_claims": paid[0],
            "compensated_twice": run(text(
                "SELECT count(*) FROM discussions WHERE id > :top"), {"top": top}).scalar_one(),
        }
    if dialect == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    engine.dispose()
    return counts


def _now(dialect: str) -> str:
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%d %H:%M:%S.%f") if dialect == "sqlite" else now.isoformat()


def check(url: str, counts: dict[str, int]) -> dict[str, int]:
    """The invariant after the upgrade, and every outcome in the ledger exactly once."""
    engine = create_engine(url)
    with engine.connect() as connection:
        def one(sql: str) -> int:
            return connection.execute(text(sql)).scalar_one()

        over = one("SELECT count(*) FROM orders "
                   "WHERE compensation_committed > item_price + shipping_cost "
                   "OR compensation_committed < 0")
        assert over == 0, f"{over} orders above their total"
        differ = one("""
            SELECT count(*) FROM orders o LEFT JOIN (
                SELECT order_id, sum(amount) AS counted FROM settlements
                WHERE payee = 'buyer' AND amount IS NOT NULL
                  AND state IN ('owed', 'confirmed') GROUP BY order_id) s
                ON s.order_id = o.id
            WHERE o.compensation_committed <> coalesce(s.counted, 0)""")
        assert differ == 0, f"{differ} orders whose committed compensation is not their rows"
        by_kind = dict(connection.execute(text(
            "SELECT source, count(*) FROM settlements WHERE kind <> 'recovery' "
            "GROUP BY source")).all())
        assert by_kind.get("offer", 0) == counts["accepted_offers"], by_kind
        assert by_kind.get("verdict", 0) == counts["verdicts"], by_kind
        assert by_kind.get("claim", 0) == counts["approved_claims"] + counts["paid_claims"]
        recoveries = one("SELECT count(*) FROM settlements WHERE kind = 'recovery'")
        assert recoveries == counts["paid_claims"]
        cancelled = one("SELECT count(*) FROM settlements WHERE state = 'cancelled'")
        assert cancelled == counts["compensated_twice"], cancelled
        rows = one("SELECT count(*) FROM settlements")
    engine.dispose()
    return {"settlements": rows, "cancelled": cancelled}


def run(engine: str, size: int) -> None:
    with _database(engine) as url:
        _migrate(url, "0014")
        seconds = generate_discussions(url, size, 0, escalated=int(size * ESCALATED),
                                       ended=int(size * ENDED))
        started = time.perf_counter()
        counts = add_outcomes(url, size)
        built = seconds + time.perf_counter() - started
        print(f"# {engine}: built 0014 with {counts} in {built:.1f} s", flush=True)
        elapsed = _migrate(url, "0015")
        result = check(url, counts)
        print(f"{engine:>10} {counts['discussions']:>12,} {result['settlements']:>11,} "
              f"{result['cancelled']:>9,} {elapsed:>9.1f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--engines", nargs="+", default=["postgresql", "sqlite"],
                        choices=["postgresql", "sqlite"])
    args = parser.parse_args()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    print(f"{'engine':>10} {'discussions':>12} {'settlements':>11} {'cancelled':>9} "
          f"{'upgrade s':>9}")
    for engine in args.engines:
        run(engine, args.size)


if __name__ == "__main__":
    main()
