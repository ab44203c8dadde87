"""Impact replay benchmark on PostgreSQL (issue 21): "The impact replay of 100,000 claims
finishes within 2x the time of reading them, with flat memory."

Generates ``--claims`` claims (bench.common's orders and discussions, then the claims in
one INSERT ... SELECT) on orders of varied prices, shipping costs, payment methods and
payment dates, filed 1-100 days after payment over the last year, all judged by the
seeded version; and a draft that raises the caps, covers fewer payment methods and
widens the filing window, so that many claims change.

Then, in this process (best of ``--repeat``):

- the floor: the same SQL pass over the same rows as the replay reads them
  (``claims.versions.replayed_claims``: the statement, streamed, each row made the
  claim's facts), doing nothing with them; and the bare statement's rows alone;
- the replay: ``claims.impact.run``, the function the background task runs, on a
  queued ``impact_runs`` row: the count, the stream through the pure rules, the
  progress commits every ``PROGRESS_EVERY`` claims and the stored result.

The ratio replay / floor is the target (<= 2.0). Memory: a fresh process per size replays
a period holding a tenth of the claims and one holding all of them under tracemalloc
(Python allocations: the peak during the replay above what was allocated before it) and
reports its peak RSS too; flat means the peak does not grow with the claims beyond the
one machine integer per claim the exact median keeps (``claims.policy.replay``).

    make bench-replay            # or: .venv/bin/python -m bench.replay [--claims 100000]
"""

import argparse
import os
import subprocess
import sys
import time
from datetime import timedelta

import psycopg

from bench.common import generate_discussions, psycopg_url, throwaway_database
from bench.sweep import peak_rss_mb

DAYS = 360  # claims are filed over the last DAYS days
TENTH_DAYS = DAYS // 10  # the most recent tenth of them


def generate_claims(url: str, total: int) -> float:
    """``total`` orders with a discussion and a submitted claim each; seconds taken."""
    started = time.perf_counter()
    generate_discussions(url, total, 0, ended=total)
    with psycopg.connect(psycopg_url(url)) as connection, connection.cursor() as cursor:
        cursor.execute("SET synchronous_commit = off")
        # Varied orders: prices up to 25,000 zl (some above every cap), shipping up to
        # 150 zl, four payment methods, paid 1-460 days ago.
        cursor.execute(
            "UPDATE orders SET item_price = 1000 + (id * 7919) %% 2500000, "
            " shipping_cost = (id * 31) %% 15000, "
            " payment_method = (ARRAY['platform_payments', 'platform_payments', "
            "  'bank_transfer', 'cash_on_delivery'])[1 + id %% 4], "
            " paid_at = now() - interval '1 day' * (1 + id %% %(days)s) "
            "  - interval '1 day' * (id %% 100) - interval '1 hour'",
            {"days": DAYS})
        cursor.execute("SELECT id FROM policy_versions WHERE code = '2017-08'")
        (seeded,) = cursor.fetchone()
        cursor.execute("DROP INDEX IF EXISTS ix_claims_queue, ix_claims_buyer")
        # Filed 0-99 days after payment (beyond 90 days: late under the seeded version, in
        # time under the draft's 120); types cycle, ``other`` with a documented loss.
        cursor.execute(
            "INSERT INTO claims (id, version, order_id, buyer_id, seller_id, discussion_id, "
            " claim_type, description, claimed_amount, payout_account, state, submitted_at, "
            " policy_version_id, item_amount, shipping_amount, max_total, cap_applied, "
            " clauses, seller_answer_due_at, requires_second_approval, created_at, "
            " updated_at) "
            "SELECT o.id, 1, o.id, o.buyer_id, o.seller_id, d.id, t.claim_type, "
            " 'Bench claim.', CASE WHEN t.claim_type = 'other' THEN 1 + o.item_price / 2 END, "
            " 'PL61109010140000071219812874', 'submitted', s.submitted_at, %(seeded)s, "
            " o.item_price, least(o.shipping_cost, 10000), "
            " least(o.item_price + least(o.shipping_cost, 10000), 1000000), "
            " o.item_price + least(o.shipping_cost, 10000) > 1000000, '[]', "
            " s.submitted_at + interval '48 hours', false, now(), now() "
            "FROM orders o JOIN discussions d ON d.order_id = o.id, "
            "LATERAL (SELECT (ARRAY['not_received', 'not_as_described', 'other'])"
            "  [1 + o.id %% 3] AS claim_type) t, "
            "LATERAL (SELECT o.paid_at + interval '1 day' * (o.id %% 100) AS submitted_at) s",
            {"seeded": seeded})
        cursor.execute("CREATE INDEX ix_claims_queue ON claims (state, submitted_at, id)")
        cursor.execute("CREATE INDEX ix_claims_buyer ON claims (buyer_id, submitted_at)")
        cursor.execute("SELECT setval(pg_get_serial_sequence('claims', 'id'), "
                       "(SELECT max(id) FROM claims))")
        connection.commit()
        connection.autocommit = True
        cursor.execute("VACUUM ANALYZE orders, claims")
    return time.perf_counter() - started


def _app(url: str):
    from arbiter import create_app

    return create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})


def prepare(url: str) -> int:
    """The draft the replays judge by; its id."""
    from arbiter import clock
    from arbiter.extensions import db
    from claims.models import PolicyVersion, VersionStatus

    with _app(url).app_context():
        draft = PolicyVersion(
            code="bench-draft", status=VersionStatus.DRAFT, drafted_at=clock.now(),
            effective_from=clock.now() + timedelta(days=30),
            covered_payment_methods=["platform_payments"],
            shipping_covered_for=["platform_payments"], shipping_cap_minor=15_000,
            total_cap_minor=2_000_000, filing_window_days=120,
            documents_required={"not_received": ["police_report"]},
            seller_answer_hours=48, appeal_window_days=30)
        db.session.add(draft)
        db.session.commit()
        return draft.id


def _period(days: int):
    from arbiter import clock
    from dashboards.policy import Period

    today = clock.to_local(clock.now()).date()
    return Period(today - timedelta(days=days), today)


def _queue(version_id: int, days: int) -> int:
    """A queued run (as the page's request leaves it), committed; its id."""
    from sqlalchemy import func, select

    from accounts.models import User
    from arbiter import clock
    from arbiter.extensions import db
    from claims.models import ImpactRun, ImpactRunState

    period = _period(days)
    requester = db.session.scalar(select(func.min(User.id)))
    run = ImpactRun(version_id=version_id, period_start=period.start, period_end=period.end,
                    requested_by_id=requester, state=ImpactRunState.QUEUED, processed=0,
                    requested_at=clock.now())
    db.session.add(run)
    db.session.commit()
    return run.id


def measure(url: str, version_id: int, repeat: int) -> dict:
    """Best-of-``repeat`` seconds of the two floors and of the replay, over every claim."""
    from arbiter.extensions import db
    from claims import impact, versions
    from claims.models import ImpactRun

    bare, floor, replay = [], [], []
    with _app(url).app_context():
        period = _period(DAYS + 100)
        since, until = period.starts_at, period.ends_before
        claims = 0
        for _ in range(repeat):
            started = time.perf_counter()
            rows = sum(1 for _row in db.session.execute(_statement(since, until)))
            bare.append(time.perf_counter() - started)
            db.session.rollback()

            started = time.perf_counter()
            claims = sum(1 for _facts in versions.replayed_claims(since, until))
            floor.append(time.perf_counter() - started)
            db.session.rollback()
            assert claims == rows

            run_id = _queue(version_id, DAYS + 100)
            started = time.perf_counter()
            done = impact.run(run_id)
            replay.append(time.perf_counter() - started)
            assert done.result["claims"] == claims, done.result
            result = db.session.get(ImpactRun, run_id).result
            db.session.rollback()
    return {"claims": claims, "bare": min(bare), "floor": min(floor),
            "replay": min(replay), "floors": floor, "replays": replay, "result": result}


def _statement(since, until):
    """The statement of :func:`claims.versions.replayed_claims`, as it sends it."""
    from claims.versions import replay_statement

    return replay_statement(since, until)


def memory_worker(url: str, version_id: int, days: int) -> None:
    """One fresh process: replay a period under tracemalloc; print claims, peak growth
    (MB of Python allocations above those before the replay) and peak RSS (MB)."""
    import tracemalloc

    from claims import impact

    with _app(url).app_context():
        run_id = _queue(version_id, days)
        tracemalloc.start()
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        claims = impact.run(run_id).result["claims"]
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    print(f"{claims} {(peak - before) / 2**20:.2f} {peak_rss_mb():.1f}", flush=True)


def _memory(url: str, version_id: int, days: int) -> tuple[int, float, float]:
    out = subprocess.run(
        [sys.executable, "-m", "bench.replay", "--memory-worker", url, str(version_id),
         str(days)], capture_output=True, text=True, check=True,
        env={**os.environ, "PYTHONWARNINGS": "ignore"}).stdout.split()
    return int(out[0]), float(out[1]), float(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--memory-worker", nargs=3, metavar=("URL", "VERSION", "DAYS"))
    args = parser.parse_args()
    if args.memory_worker:
        url, version_id, days = args.memory_worker
        memory_worker(url, int(version_id), int(days))
        return

    from claims.impact import PROGRESS_EVERY

    with throwaway_database("arbiter_bench_replay") as url:
        seconds = generate_claims(url, args.claims)
        print(f"# generated {args.claims:,} claims in PostgreSQL in {seconds:.1f} s")
        version_id = prepare(url)
        figures = measure(url, version_id, args.repeat)
        ratio = figures["replay"] / figures["floor"]
        result = figures["result"]
        print(f"# replayed {figures['claims']:,} claims: {result['eligibility_changed']:,} "
              f"change eligibility, {result['amount_changed']:,} their maximum; progress "
              f"written every {PROGRESS_EVERY:,} claims")
        print(f"{'':<44} {'seconds (best of ' + str(args.repeat) + ')':>24}")
        print(f"{'floor: the statement rows alone':<44} {figures['bare']:>24.2f}")
        print(f"{'floor: replayed_claims (rows -> facts)':<44} {figures['floor']:>24.2f}")
        print(f"{'replay: claims.impact.run (the task)':<44} {figures['replay']:>24.2f}")
        print(f"# all tries: floor {', '.join(f'{s:.2f}' for s in figures['floors'])}; "
              f"replay {', '.join(f'{s:.2f}' for s in figures['replays'])}")
        verdict = "PASS" if ratio <= 2.0 else "FAIL"
        print(f"# ratio replay / floor = {ratio:.2f} (target <= 2.00: {verdict}); "
              f"replay / bare rows = {figures['replay'] / figures['bare']:.2f}")
        print(f"{'claims':>10} {'peak growth MB (tracemalloc)':>29} {'peak RSS MB':>12}")
        peaks = []
        for days in (TENTH_DAYS, DAYS + 100):
            claims, growth, rss = _memory(url, version_id, days)
            peaks.append((claims, growth))
            print(f"{claims:>10,} {growth:>29.2f} {rss:>12.1f}")
        (small, small_peak), (large, large_peak) = peaks
        print(f"# memory: {large:,} claims peak {large_peak:.2f} MB vs {small:,} claims "
              f"{small_peak:.2f} MB; growth per extra claim "
              f"{(large_peak - small_peak) * 2**20 / max(large - small, 1):.1f} bytes "
              f"(the median's array: 8 bytes a claim, grown in steps)")
        sys.exit(0 if ratio <= 2.0 else 1)


if __name__ == "__main__":
    main()
