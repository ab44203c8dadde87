"""Audit log benchmark on PostgreSQL (#24): writers in parallel, and the sequencer.

1. **Audited writes per second, 16 concurrent writers on distinct cases**, before and
   after, in one run on the same database. Each writer is a process that runs
   transactions like a request's: lock its order (the case), write one audit entry with
   ``arbiter.audit.record``, wait ``--work-ms`` (default 5 ms, ``pg_sleep``: the rest of a
   request's transaction, or a synchronous standby's commit latency), commit. *Before* is the same
   transaction taking the old global chain lock first (``pg_advisory_xact_lock`` of
   ``"ARBITER1"``, held to the commit), which is what every audited write did before
   migration 0033; *after* is the code as it is.
2. **The sequencer on 1,000,000 entries**: entries are bulk-inserted, then
   ``flask audit sequence``'s function runs in its own process, at 100,000 and again for
   the next 900,000; its rate must not fall as the log grows and its peak memory must stay
   flat (batches of 1,000; the tree's right edge is read from the stored nodes). Its floor
   is the read it cannot avoid: the same entries' ids and hashes, in the same batches.

    make bench-audit            # or: .venv/bin/python -m bench.audit_log [--entries 1000000]
"""

import argparse
import subprocess
import sys
import time

import psycopg

from bench.common import psycopg_url, throwaway_database

WRITERS = 16
OLD_CHAIN_LOCK = 0x4152424954455231  # "ARBITER1": arbiter/audit.py before migration 0033


def _app(url: str):
    from arbiter import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench",
                       "AUDIT_SIGNING_KEY": _key()})


def _key() -> str:
    from arbiter import tlog

    return tlog.generate_signing_key("bench/audit-log")


def writer(url: str, order_id: int, transactions: int, mode: str, work_ms: float) -> None:
    """One writer process: ``transactions`` audited writes on its own order."""
    from sqlalchemy import select, text

    from arbiter import audit
    from arbiter.extensions import db
    from orders.models import Order

    with _app(url).app_context():
        order = db.session.get(Order, order_id)
        db.session.commit()
        print("ready", flush=True)
        sys.stdin.readline()  # start together
        started = time.perf_counter()
        for number in range(transactions):
            if mode == "before":
                db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": OLD_CHAIN_LOCK})
            db.session.execute(select(Order.id).where(Order.id == order_id).with_for_update())
            audit.record("order.noted", order, after={"number": number})
            db.session.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": work_ms / 1000})
            db.session.commit()
        print(f"{time.perf_counter() - started:.3f}", flush=True)


def _orders(url: str, count: int) -> list[int]:
    with psycopg.connect(psycopg_url(url), autocommit=True) as connection:
        connection.execute(
            "INSERT INTO users (email, name, password_hash, created_at, updated_at, locale, "
            "verified_at) VALUES ('bench-buyer@example.test', 'Buyer', 'x', now(), now(), "
            "'pl', now()), ('bench-seller@example.test', 'Seller', 'x', now(), now(), 'pl', "
            "now())")
        rows = connection.execute(
            "INSERT INTO orders (external_id, buyer_id, seller_id, item_title, item_price, "
            "shipping_cost, currency, payment_method, paid_at, compensation_committed, "
            "created_at, updated_at) "
            "SELECT 'BENCH-' || n, "
            "(SELECT id FROM users WHERE email = 'bench-buyer@example.test'), "
            "(SELECT id FROM users WHERE email = 'bench-seller@example.test'), 'Lamp', "
            "10000, 0, 'PLN', 'platform_payments', now(), 0, now(), now() "
            "FROM generate_series(1, %s::int) n "
            "RETURNING id", (count,)).fetchall()
    return [row[0] for row in rows]


def writes_per_second(url: str, mode: str, orders: list[int], transactions: int,
                      work_ms: float) -> float:
    children = [subprocess.Popen(
        [sys.executable, "-m", "bench.audit_log", "--writer", url, str(order_id),
         str(transactions), mode, str(work_ms)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for order_id in orders]
    for child in children:
        assert child.stdout.readline().strip() == "ready"
    started = time.perf_counter()
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    for child in children:
        child.stdout.readline()
        child.wait()
    elapsed = time.perf_counter() - started
    return len(orders) * transactions / elapsed


def sequencer(url: str) -> None:
    """One sequencer process: sequence everything, report count, seconds, peak RSS."""
    from arbiter import transparency_log as log

    with _app(url).app_context():
        started = time.perf_counter()
        added = log.sequence()
        elapsed = time.perf_counter() - started
    print(f"{added} {elapsed:.3f} {_peak_rss_mb():.1f}", flush=True)


def reader(url: str) -> None:
    """The floor: read the same entries' ids and hashes in the same batches."""
    from sqlalchemy import select

    from arbiter.audit import AuditEntry
    from arbiter.extensions import db

    with _app(url).app_context():
        started = time.perf_counter()
        last, count = 0, 0
        while True:
            rows = db.session.execute(select(AuditEntry.id, AuditEntry.hash)
                                      .where(AuditEntry.id > last).order_by(AuditEntry.id)
                                      .limit(1000)).all()
            if not rows:
                break
            count += len(rows)
            last = rows[-1].id
        elapsed = time.perf_counter() - started
    print(f"{count} {elapsed:.3f} {_peak_rss_mb():.1f}", flush=True)


def _peak_rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _child(role: str, url: str) -> tuple[int, float, float]:
    out = subprocess.run([sys.executable, "-m", "bench.audit_log", f"--{role}", url],
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0]), float(out[1]), float(out[2])


def _bulk_entries(url: str, start: int, count: int) -> None:
    """``count`` settled entries, each its own chain (the sequencer reads id and hash)."""
    with psycopg.connect(psycopg_url(url), autocommit=True) as connection:
        connection.execute(
            "INSERT INTO audit_entries (at, actor_id, action, object_type, object_id, "
            "prev_hash, hash, chain_key, chain_seq) SELECT now() - interval '1 day', NULL, "
            "'bench.written', 'bench', n::text, repeat('0', 64), "
            "encode(sha256(convert_to(n::text, 'UTF8')), 'hex'), 'bench:' || n, 1 "
            "FROM generate_series(%s::bigint, %s::bigint) n", (start, start + count - 1))
        connection.execute("VACUUM ANALYZE audit_entries")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--transactions", type=int, default=150, help="per writer")
    parser.add_argument("--work-ms", type=float, default=5.0,
                        help="other work in each transaction after its audit entry")
    arguments = parser.parse_args()
    status = 0
    with throwaway_database() as url:
        orders = _orders(url, WRITERS)
        print(f"{WRITERS} writers on distinct cases, {arguments.transactions} transactions "
              f"each, {arguments.work_ms:g} ms of other work per transaction")
        rates = {}
        for mode in ("before", "after", "before", "after"):  # interleaved: same conditions
            rate = writes_per_second(url, mode, orders, arguments.transactions,
                                     arguments.work_ms)
            rates[mode] = max(rates.get(mode, 0), rate)
            print(f"  {mode:<6}  {rate:8.0f} audited writes/s")
        gain = rates["after"] / rates["before"]
        print(f"  best: before {rates['before']:.0f}/s, after {rates['after']:.0f}/s: "
              f"x{gain:.1f}")
        if gain < 2:
            print("  FAIL: writers on different cases still serialise")
            status = 1
    with throwaway_database() as url:
        first = min(100_000, arguments.entries)
        _bulk_entries(url, 1, first)
        floor = _child("reader", url)
        done = _child("sequencer", url)
        print(f"sequencer, first {first:,} entries: {done[0]:,} in {done[1]:.1f} s "
              f"({done[0] / done[1]:,.0f}/s; reading them alone {floor[1]:.1f} s), "
              f"peak RSS {done[2]:.0f} MB")
        rest = arguments.entries - first
        if rest:
            _bulk_entries(url, first + 1, rest)
            more = _child("sequencer", url)
            print(f"sequencer, next {rest:,} entries: {more[0]:,} in {more[1]:.1f} s "
                  f"({more[0] / more[1]:,.0f}/s), peak RSS {more[2]:.0f} MB")
            if more[0] / more[1] < 0.5 * done[0] / done[1]:
                print("  FAIL: the rate falls as the log grows")
                status = 1
            if more[2] > done[2] * 1.5:
                print("  FAIL: memory grows with the log")
                status = 1
    return status


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--writer":
        writer(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5], float(sys.argv[6]))
    elif len(sys.argv) > 1 and sys.argv[1] == "--sequencer":
        sequencer(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "--reader":
        reader(sys.argv[2])
    else:
        sys.exit(main())
