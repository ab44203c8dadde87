"""Sweeper benchmark on PostgreSQL.

For a table of 100,000 and of 1,000,000 discussions (10 % due): the time to send every
due escalation notice with one sweeper process and with two, the rate per item, and the
peak memory of each sweeper. Work per item must stay constant as the table grows (the
rate at 1M is compared with the rate at 100k) and memory must stay flat (batches).

    make bench-sweep            # or: .venv/bin/python -m bench.sweep [--sizes 100000 1000000]
"""

import argparse
import os
import subprocess
import sys
import time

import psycopg

from bench.common import generate_discussions, psycopg_url, throwaway_database


def worker(url: str, batch_size: int) -> None:
    """One sweeper process: run the escalation-notice job to the end, report figures."""
    from arbiter import create_app
    from arbiter.sweeper import JOBS, run_job, run_sweep

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench"})
    with app.app_context():
        from datetime import UTC, datetime

        run_sweep(now=datetime(2000, 1, 1, tzinfo=UTC))  # register jobs; nothing is due
        job = next(j for j in JOBS if j.name == "discussion.escalation_notice")
        started = time.perf_counter()
        done = run_job(job, batch_size=batch_size)
        elapsed = time.perf_counter() - started
    print(f"{done} {elapsed:.3f} {peak_rss_mb():.1f}", flush=True)


def peak_rss_mb() -> float:
    """This process's own peak RSS. Not getrusage's ru_maxrss: Linux carries that across
    exec, so a worker would report the peak of the parent that generated the data."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _reset(url: str) -> None:
    with psycopg.connect(psycopg_url(url), autocommit=True) as connection:
        connection.execute("TRUNCATE notifications, outbox_emails RESTART IDENTITY")
        connection.execute("UPDATE discussions SET escalation_notice_sent_at = NULL "
                           "WHERE escalation_notice_sent_at IS NOT NULL")
        connection.execute("VACUUM ANALYZE discussions")


def _run(url: str, processes: int, batch_size: int) -> tuple[int, float, list[float]]:
    """Items done, seconds of sweeping (the slowest process, start-up excluded), peaks."""
    children = [subprocess.Popen(
        [sys.executable, "-m", "bench.sweep", "--worker", url, "--batch-size", str(batch_size)],
        stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
        for _ in range(processes)]
    outputs = [child.communicate()[0].split() for child in children]
    done = sum(int(out[0]) for out in outputs)
    return done, max(float(out[1]) for out in outputs), [float(out[2]) for out in outputs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--due-fraction", type=float, default=0.1)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--worker")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.batch_size)
        return

    print(f"{'discussions':>12} {'due':>8} {'sweepers':>8} {'seconds':>8} {'items/s':>9} "
          f"{'peak MB/sweeper':>16}")
    rates = {}
    for size in args.sizes:
        due = int(size * args.due_fraction)
        with throwaway_database() as url:
            seconds = generate_discussions(url, size, due)
            print(f"# generated {size:,} discussions in PostgreSQL in {seconds:.1f} s")
            for processes in (1, 2):
                _reset(url)
                done, wall, peaks = _run(url, processes, args.batch_size)
                assert done == due, f"{done} handled, {due} due"
                rate = done / wall
                rates[(size, processes)] = rate
                print(f"{size:>12,} {due:>8,} {processes:>8} {wall:>8.1f} {rate:>9,.0f} "
                      f"{' / '.join(f'{p:.0f}' for p in peaks):>16}")
    if len(args.sizes) > 1:
        small, large = args.sizes[0], args.sizes[-1]
        ratio = rates[(large, 1)] / rates[(small, 1)]
        print(f"# per-item cost: rate at {large:,} / rate at {small:,} = {ratio:.2f} "
              f"(1.00 = constant)")


if __name__ == "__main__":
    main()
