"""Page benchmarks: requests per second of real pages against the framework floor.

The floor is ``bench/floor.py``: a bare Flask endpoint returning one row by primary key
from the same database. The floor and the app run under the same gunicorn command (the
docs/operations.md's production command with 2 sync workers), are loaded by the same wrk command
(16 connections, 15 s each) and are measured in the same run: for each target, floor and
page alternate in five slices of 3 s, so both see the same background load of a busy
machine. Targets:

- the discussion page of a logged-in buyer (20 messages, 3 attachments): >= 35 % of the
  floor, on PostgreSQL and on SQLite;
- posting a message (session cookie and CSRF token from a real login): >= 25 %;
- the staff escalation queue and the seller inbox with 1,000,000 discussions (100,000
  escalated), first page and a page deep in the list: >= 25 % each; the queries those
  pages run are shown with ``EXPLAIN (ANALYZE, BUFFERS)`` and must not scan
  ``discussions`` sequentially nor read rows only to throw them away. The data: 1,000,000
  discussions of one seller, 100,000 escalated, 60 % resolved or closed (the oldest).

The app runs as in production: ``ARBITER_ENV=production``, a random secret key,
``wsgi:app``; wrk sends ``X-Forwarded-Proto: https`` as the TLS proxy would. Every page is
checked once (status and content) before it is loaded, and every response wrk gets is
checked too (status; for a post, the redirect back to the thread): any other answer fails
the run. Exit status 1 when a target is missed.

``--bounds`` also measures the discussion page without rendering and the post without
writing the message (``bench/bounds.py``): how far each target is reachable at all by making
the page's own part cheaper. Those rows are reported, never a failure.

    make bench-pages     # or: .venv/bin/python -m bench.pages [--duration 5] [--skip-sqlite]
"""

import argparse
import http.client
import io
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

from pypdf import PdfWriter

from bench.common import generate_discussions, throwaway_database

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "bench-password-2026"  # noqa: S105 - benchmark accounts in a throwaway database
USER_AGENT = "arbiter-bench/1.0"
POSTED = "The seller has not answered about the lens yet."
MESSAGES = 20
ATTACHMENTS = 3
POSTING_THREADS = 16  # posts rotate through these discussions (one per wrk connection)
MAX_ROWS_FILTERED = 1_000  # a page of 20 may read a few rows it does not show, not a table
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00"
       b"\x00\x90wS\xde\x00\x00\x00\x0cIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\r\xefF\xb8"
       b"\x00\x00\x00\x00IEND\xaeB`\x82")


def _blank_pdf() -> bytes:
    """A one-page PDF pypdf writes: uploads are parsed, so it must be a real one."""
    buffer = io.BytesIO()
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.write(buffer)
    return buffer.getvalue()


PDF = _blank_pdf()


# --- data ------------------------------------------------------------------------------------


@dataclass
class Seed:
    buyer: str
    seller: str
    staff: str
    big_seller: str
    buyer_user_id: int
    big_buyer_id: int
    big_seller_id: int
    thread_id: int
    posting_ids: list[int]
    message_bodies: list[str]


def seed(url: str, storage_dir: str) -> Seed:
    """Accounts with real (argon2) passwords, the 20-message thread and the discussions
    the post benchmark writes to: all through the services, audit log included."""
    from datetime import timedelta

    from accounts import services as accounts
    from arbiter import clock, create_app
    from arbiter.extensions import db
    from arbiter.files import Upload
    from disputes import services as disputes
    from disputes.states import ExpectedOutcome, Reason
    from orders.services import upsert_order

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-seed",
                      "STORAGE_DIR": storage_dir, "ENV": "development"})
    with app.app_context():
        people = {role: accounts.create_user(f"{role}@bench.test", name, PASSWORD,
                                             is_staff=role == "staff")
                  for role, name in (("buyer", "Barbara Buyer"), ("seller", "Stefan Seller"),
                                     ("staff", "Sylwia Staff"), ("bigseller", "Big Seller"),
                                     ("bigbuyer", "Big Buyer"))}
        db.session.commit()
        buyer, seller = people["buyer"], people["seller"]

        def order(number: int):
            return upsert_order({
                "external_id": f"PAGE-{number}", "buyer_email": buyer.email,
                "seller_email": seller.email, "item_title": f"Camera {number}",
                "item_price": 129_900, "shipping_cost": 1_500, "currency": "PLN",
                "payment_method": "platform_payments",
                "paid_at": clock.now() - timedelta(days=3), "delivered_at": None}).order

        def open_one(number: int, uploads=()):
            return disputes.open_discussion(
                order(number), buyer, reason=Reason.NOT_AS_DESCRIBED,
                expected_outcome=ExpectedOutcome.REFUND,
                description="The camera arrived with a cracked lens and no charger.",
                uploads=list(uploads))

        files = [Upload("lens.png", PNG), Upload("invoice.pdf", PDF), Upload("box.png", PNG)]
        thread = open_one(0, files[:1])
        bodies = [thread.entries[0].body] if thread.entries else []
        for n in range(1, MESSAGES):
            author = seller if n % 2 else buyer
            body = f"Message {n}: " + ("the lens is cracked " if n % 2 else "photos attached ") * 6
            uploads = [files[1]] if n == 5 else [files[2]] if n == 12 else []
            disputes.post_message(thread, author, body, uploads)
            bodies.append(body)
        posting = [open_one(n).id for n in range(1, POSTING_THREADS + 1)]
        db.session.commit()
        result = Seed(buyer.email, seller.email, people["staff"].email,
                      people["bigseller"].email, buyer.id, people["bigbuyer"].id,
                      people["bigseller"].id, thread.id, posting, bodies)
        db.engine.dispose()
    return result


def deep_cursors(url: str, escalated: int, open_: int) -> dict:
    """Cursors into the middle of the queue and of the big seller's inbox, with the id of
    the first row the deep page must show."""
    import psycopg

    from arbiter.pagination import make_cursor
    from bench.common import psycopg_url

    with psycopg.connect(psycopg_url(url)) as connection:
        queue = connection.execute(
            "SELECT escalated_at, id FROM discussions WHERE state = 'escalated' "
            "ORDER BY escalated_at, id OFFSET %s LIMIT 2", (escalated // 2,)).fetchall()
        inbox = connection.execute(
            "SELECT respond_by, d.id FROM discussions d JOIN users u ON u.id = d.seller_id "
            "WHERE u.email = 'bigseller@bench.test' "
            "AND state IN ('awaiting_seller', 'in_progress', 'escalated') "
            "ORDER BY respond_by, d.id OFFSET %s LIMIT 2", (open_ // 2,)).fetchall()
    return {"queue": (make_cursor(*queue[0]), queue[1][1]),
            "inbox": (make_cursor(*inbox[0]), inbox[1][1])}


# --- EXPLAIN -----------------------------------------------------------------------------------


def explain_pages(url: str, storage_dir: str, pages: list[tuple[str, str]]) -> bool:
    """Run each (user, path) page in process, EXPLAIN (ANALYZE, BUFFERS) every statement it
    sends that reads ``discussions``, print the plans; False if any scans it sequentially or
    reads more than ``MAX_ROWS_FILTERED`` rows only to throw them away."""
    from sqlalchemy import event

    from arbiter import create_app
    from arbiter.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-explain",
                      "STORAGE_DIR": storage_dir, "ENV": "development",
                      "WTF_CSRF_ENABLED": False})
    with app.app_context():
        engine = db.engine
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    ok = True
    for email, path in pages:
        # No app context held around the requests: each gets its own, as in production
        # (a shared one would keep the previous user logged in through ``g``).
        client = app.test_client()
        assert client.post("/login", data={"email": email, "password": PASSWORD}
                           ).status_code == 302
        statements.clear()
        event.listen(engine, "before_cursor_execute", capture)
        try:
            assert client.get(path).status_code == 200, path
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        reads = [(s, p) for s, p in statements if s.lstrip().upper().startswith("SELECT")
                 and re.search(r"\bFROM discussions\b", s)]
        print(f"\n## EXPLAIN (ANALYZE, BUFFERS): {path} as {email} "
              f"({len(statements)} statements, {len(reads)} on discussions)")
        for statement, parameters in reads:
            with engine.connect() as connection:
                plan = [row[0] for row in connection.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)]
            print(" ".join(statement.split())[:400])
            print("\n".join("    " + line for line in plan))
            text = "\n".join(plan)
            removed = sum(int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", text))
            if "Seq Scan on discussions" in text or "Index" not in text:
                print("    !! sequential scan on discussions")
                ok = False
            if removed > MAX_ROWS_FILTERED:
                print(f"    !! {removed:,} rows read and thrown away: the index does not fit")
                ok = False
    engine.dispose()
    return ok


# --- servers and clients -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(module: str, env: dict, ready_path: str):
    """``gunicorn --workers 2 --bind 127.0.0.1:PORT --forwarded-allow-ips=127.0.0.1 MODULE``:
    the docs/operations.md's production command with the benchmark's two workers."""
    port = free_port()
    process = subprocess.Popen(
        [str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "--forwarded-allow-ips=127.0.0.1", module],
        cwd=ROOT, env={**env, "PYTHONWARNINGS": "ignore"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                status, _, _ = request(port, "GET", ready_path)
                if status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn {module} did not start:\n{process.stderr.read()}")
            time.sleep(0.2)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


BASE_HEADERS = {"X-Forwarded-Proto": "https", "User-Agent": USER_AGENT,
                "Accept-Language": "pl,en;q=0.5"}


def request(port: int, method: str, path: str, headers: dict | None = None,
            body: bytes | None = None) -> tuple[int, http.client.HTTPMessage, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body, headers={**BASE_HEADERS, **(headers or {})})
        response = connection.getresponse()
        return response.status, response.headers, response.read().decode("utf-8", "replace")
    finally:
        connection.close()


class Browser:
    """One logged-in browser: keeps the session cookie as a browser would."""

    def __init__(self, port: int):
        self.port = port
        self.cookie = ""

    def open(self, method: str, path: str, headers: dict | None = None,
             body: bytes | None = None):
        headers = {**(headers or {}), "Referer": f"https://127.0.0.1:{self.port}{path}"}
        if self.cookie:
            headers["Cookie"] = self.cookie
        status, response_headers, text = request(self.port, method, path, headers, body)
        for value in response_headers.get_all("Set-Cookie") or []:
            self.cookie = value.split(";", 1)[0]
        return status, response_headers, text

    def login(self, email: str) -> None:
        status, _, page = self.open("GET", "/login")
        assert status == 200, f"GET /login: {status}"
        form = urlencode({"csrf_token": csrf_token(page), "email": email, "password": PASSWORD})
        status, _, _ = self.open(
            "POST", "/login", {"Content-Type": "application/x-www-form-urlencoded"},
            form.encode())
        assert status == 302, f"login of {email}: {status}"
        self.open("GET", "/")  # shows (and clears) the welcome message

    def settled_get(self, path: str) -> tuple[int, str]:
        """GET until the session cookie stops changing (a new CSRF token, flashed
        messages), so the load test replays a cookie the server does not rewrite."""
        for _ in range(3):
            before = self.cookie
            status, _, text = self.open("GET", path)
            if self.cookie == before:
                return status, text
        raise RuntimeError(f"the session cookie keeps changing on {path}")


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    assert match, "no CSRF token in the form"
    return match.group(1)


# --- wrk -------------------------------------------------------------------------------------


def ensure_wrk() -> str:
    found = shutil.which("wrk")
    if not found:
        sys.exit("wrk is not installed: apt-get install wrk (make bench-pages does it as root)")
    return found


def lua(value) -> str:
    """A Python value as a Lua literal."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes | str):
        data = value.encode() if isinstance(value, str) else value
        return '"' + "".join(chr(b) if chr(b).isalnum() or chr(b) in " /._-:=;,?&%"
                             else f"\\{b:03d}" for b in data) + '"'
    if isinstance(value, list):
        return "{" + ", ".join(lua(v) for v in value) + "}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"[{lua(k)}] = {lua(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


@dataclass
class Load:
    """What wrk sends and what it must get back."""

    paths: list[str]
    method: str = "GET"
    headers: dict = field(default_factory=dict)
    body: bytes | None = None
    expect_status: int = 200
    expect_location: str | None = None


@dataclass
class Result:
    requests: int
    seconds: float
    unexpected: int
    socket_errors: list[str]

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def __add__(self, other: "Result") -> "Result":
        return Result(self.requests + other.requests, self.seconds + other.seconds,
                      self.unexpected + other.unexpected,
                      self.socket_errors + other.socket_errors)


def run_wrk(port: int, load: Load, args, workdir: str) -> Result:
    config = {"method": load.method, "paths": load.paths,
              "headers": {**BASE_HEADERS, **load.headers}, "body": load.body,
              "expect_status": load.expect_status, "expect_location": load.expect_location}
    script = Path(workdir) / f"wrk-{secrets.token_hex(4)}.lua"
    script.write_text("config = " + lua(config) + "\n" + (ROOT / "bench/wrk.lua").read_text())
    output = subprocess.run(
        [ensure_wrk(), f"-t{args.threads}", f"-c{args.connections}", f"-d{args.duration}s",
         "--timeout", "10s", "-s", str(script), f"http://127.0.0.1:{port}"],
        capture_output=True, text=True, check=True).stdout
    done, amount, unit = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m),", output).groups()
    seconds = float(amount) * {"ms": 0.001, "s": 1, "m": 60}[unit]
    unexpected = int(re.search(r"BENCH-UNEXPECTED (\d+)", output).group(1))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    unexpected = max(unexpected, int(non_2xx.group(1)) if non_2xx else 0)
    errors = re.search(r"Socket errors: (.*)", output)
    return Result(int(done), seconds, unexpected, [errors.group(1)] if errors else [])


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    engine: str
    minimum: float
    floor: Result | None = None
    page: Result | None = None
    bound: bool = False  # a ``--bounds`` row: reported, never a failure of the run

    @property
    def ratio(self) -> float:
        return self.page.rate / self.floor.rate if self.floor and self.page else 0.0

    @property
    def passed(self) -> bool:
        return (self.page is not None and self.page.unexpected == 0
                and self.ratio >= self.minimum)


def measure(target: Target, floor_port: int, floor_load: Load, app_port: int, load: Load,
            args, workdir: str) -> None:
    """``args.duration`` seconds of load on the floor and as many on the page, taken in
    ``args.slices`` alternating slices: both see the same background load of the machine,
    whatever else runs on it, and the ratio compares like with like."""
    if args.only and args.only not in target.name:
        return
    warm_up = argparse.Namespace(**{**vars(args), "duration": 2})
    for port, what in ((floor_port, floor_load), (app_port, load)):
        run_wrk(port, what, warm_up, workdir)
    piece = argparse.Namespace(**{**vars(args),
                                  "duration": max(1, round(args.duration / args.slices))})
    target.floor = target.page = None
    for _ in range(args.slices):
        floor = run_wrk(floor_port, floor_load, piece, workdir)
        page = run_wrk(app_port, load, piece, workdir)
        target.floor = floor if target.floor is None else target.floor + floor
        target.page = page if target.page is None else target.page + page
    print(row(target), flush=True)


HEADER = (f"{'target':<44} {'engine':<10} {'floor r/s':>10} {'page r/s':>9} {'ratio':>6} "
          f"{'target':>7} {'errors':>7}  result")


def row(target: Target) -> str:
    return (f"{target.name:<44} {target.engine:<10} {target.floor.rate:>10.1f} "
            f"{target.page.rate:>9.1f} {target.ratio:>6.1%} {target.minimum:>7.0%} "
            f"{target.page.unexpected:>7}  "
            f"{'bound' if target.bound else 'PASS' if target.passed else 'FAIL'}"
            + "".join(f"  [socket errors: {e}]" for e in sorted(set(target.page.socket_errors))))


def app_env(url: str, storage_dir: str, workdir: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARBITER_")}
    env.update({
        "ARBITER_ENV": "production",
        "ARBITER_SECRET_KEY": secrets.token_hex(32),
        "ARBITER_DATABASE_URL": url,
        "ARBITER_STORAGE_DIR": storage_dir,
        "ARBITER_MAIL_DIR": str(Path(workdir) / "mail"),
        # No limit of Flask-Limiter applies to the pages measured here (login throttling
        # counts failed logins only); its counters stay in this run's memory, not in a
        # shared Redis. A 429 would be counted as an error and fail the run.
        "ARBITER_RATELIMIT_STORAGE_URI": "memory://",
    })
    if os.environ.get("BENCH_REDIS_URL"):
        env["ARBITER_REDIS_URL"] = os.environ["BENCH_REDIS_URL"]
    return env


def check_thread_page(text: str, seeded: Seed) -> None:
    from markupsafe import escape

    shown = sum(str(escape(body.strip())) in text for body in seeded.message_bodies)
    assert shown == MESSAGES, f"{shown} of the {MESSAGES} messages shown"
    assert len(re.findall(r'/attachments/\d+"', text)) == ATTACHMENTS, "not 3 attachments"


def check_list_page(text: str, first_id: int | None = None) -> None:
    ids = [int(n) for n in re.findall(r'href="/discussions/(\d+)"', text)]
    assert len(ids) == 20, f"{len(ids)} rows instead of 20"
    assert "after=" in text, "no link to the next page"
    if first_id is not None:
        assert ids[0] == first_id, f"the deep page starts at #{ids[0]}, not #{first_id}"


def thread_targets(engine: str, url: str, storage_dir: str, seeded: Seed, args, workdir: str,
                   *, posting: bool, lists: dict | None = None) -> list[Target]:
    env = app_env(url, storage_dir, workdir)
    floor_env = {**env, "BENCH_FLOOR_DATABASE_URL": url}
    floor_load = Load([f"/users/{seeded.buyer_user_id}"])
    targets = []
    with gunicorn("bench.floor:app", floor_env, floor_load.paths[0]) as floor_port, \
            gunicorn("wsgi:app", env, "/healthz") as app_port:
        buyer = Browser(app_port)
        buyer.login(seeded.buyer)
        thread_path = f"/discussions/{seeded.thread_id}"
        status, page = buyer.settled_get(thread_path)
        assert status == 200, f"{thread_path}: {status}"
        check_thread_page(page, seeded)
        token = csrf_token(page) if posting else None
        cookie = {"Cookie": buyer.cookie}
        target = Target("discussion page, buyer, 20 messages, 3 files", engine, 0.35)
        measure(target, floor_port, floor_load, app_port, Load([thread_path], headers=cookie),
                args, workdir)
        targets.append(target)

        if posting:
            load = posting_load(app_port, [f"/discussions/{n}/messages"
                                           for n in seeded.posting_ids], token, cookie,
                                seeded.posting_ids[0])
            status, _, shown = request(app_port, "GET", f"/discussions/{seeded.posting_ids[0]}",
                                       cookie)
            assert status == 200 and POSTED in shown, "the posted message is not in the thread"
            target = Target("post a message (CSRF, redirect to thread)", engine, 0.25)
            measure(target, floor_port, floor_load, app_port, load, args, workdir)
            targets.append(target)

        for name, email, path, first_id in (lists or {}).get("pages", []):
            browser = Browser(app_port)
            browser.login(email)
            status, page = browser.settled_get(path)
            assert status == 200, f"{path}: {status}"
            check_list_page(page, first_id)
            target = Target(name, engine, 0.25)
            measure(target, floor_port, floor_load, app_port,
                    Load([path], headers={"Cookie": browser.cookie}), args, workdir)
            targets.append(target)

        if args.bounds:
            targets += bound_targets(engine, env, seeded, args, workdir, floor_port, floor_load,
                                     cookie, token)
    return targets


def posting_load(port: int, paths: list[str], token: str, cookie: dict,
                 discussion_id: int) -> Load:
    """A browser's multipart post of the reply form (an empty file field included), sent
    from ``discussion_id``'s page to each of ``paths`` in turn; checked once: it must
    redirect to a thread."""
    boundary = "----arbiterbench" + secrets.token_hex(8)
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"csrf_token\"\r\n"
            f"\r\n{token}\r\n--{boundary}\r\nContent-Disposition: form-data; "
            f"name=\"body\"\r\n\r\n{POSTED}"
            f"\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"\"\r\nContent-Type: application/octet-stream\r\n\r\n\r\n"
            f"--{boundary}--\r\n").encode()
    headers = {**cookie, "Content-Type": f"multipart/form-data; boundary={boundary}",
               "Referer": f"https://127.0.0.1:{port}/discussions/{discussion_id}"}
    status, location, _ = request(port, "POST", paths[0], headers, body)
    assert status == 302 and "/discussions/" in (location["Location"] or ""), \
        f"posting to {paths[0]}: {status} {location['Location']}"
    return Load(paths, "POST", headers, body, 302, r"/discussions/%d+$")


def bound_targets(engine: str, env: dict, seeded: Seed, args, workdir: str, floor_port: int,
                  floor_load: Load, cookie: dict, token: str | None) -> list[Target]:
    """The same requests without the page's own part (``bench/bounds.py``): the best ratio
    any rendering, or any writing of the message, could reach."""
    targets = []
    with gunicorn("bench.bounds:app", env, "/healthz") as port:
        path = f"/bench/discussions/{seeded.thread_id}/unrendered"
        status, _, _ = request(port, "GET", path, cookie)
        assert status == 200, f"{path}: {status}"
        target = Target("bound: discussion page without rendering", engine, 0.35, bound=True)
        measure(target, floor_port, floor_load, port, Load([path], headers=cookie), args,
                workdir)
        targets.append(target)
        if token is not None:
            load = posting_load(port, [f"/bench/discussions/{n}/messages/unwritten"
                                       for n in seeded.posting_ids], token, cookie,
                                seeded.posting_ids[0])
            target = Target("bound: post a message without writing it", engine, 0.25,
                            bound=True)
            measure(target, floor_port, floor_load, port, load, args, workdir)
            targets.append(target)
    return targets


def postgresql_targets(args, workdir: str) -> tuple[list[Target], bool]:
    storage_dir = str(Path(workdir) / "storage-pg")
    with throwaway_database("arbiter_pages") as url:
        seeded = seed(url, storage_dir)
        ended = int(args.discussions * args.ended_share)
        open_ = args.discussions - ended
        seconds = generate_discussions(url, args.discussions, 0, escalated=args.escalated,
                                       ended=ended, buyer_id=seeded.big_buyer_id,
                                       seller_id=seeded.big_seller_id)
        print(f"# PostgreSQL: {args.discussions:,} discussions of one seller ({args.escalated:,}"
              f" escalated, {ended:,} resolved or closed, {open_:,} open) generated in "
              f"{seconds:.1f} s", flush=True)
        cursors = deep_cursors(url, args.escalated, open_)
        queue_deep = f"/staff/escalations?after={cursors['queue'][0]}"
        inbox_deep = f"/seller/inbox?after={cursors['inbox'][0]}"
        pages = [
            ("staff escalation queue, first page", seeded.staff, "/staff/escalations", None),
            (f"staff escalation queue, page at {args.escalated // 2:,}", seeded.staff,
             queue_deep, cursors["queue"][1]),
            ("seller inbox, first page", seeded.big_seller, "/seller/inbox", None),
            (f"seller inbox, page at {open_ // 2:,}", seeded.big_seller,
             inbox_deep, cursors["inbox"][1]),
        ]
        plans_ok = explain_pages(url, storage_dir, [(email, path) for _, email, path, _ in pages])
        print("\n" + HEADER, flush=True)
        targets = thread_targets("PostgreSQL", url, storage_dir, seeded, args, workdir,
                                 posting=True, lists={"pages": pages})
    return targets, plans_ok


def sqlite_targets(args, workdir: str) -> list[Target]:
    from bench.common import _migrate

    storage_dir = str(Path(workdir) / "storage-sqlite")
    url = f"sqlite:///{Path(workdir) / 'arbiter.sqlite3'}"
    _migrate(url)
    seeded = seed(url, storage_dir)
    return thread_targets("SQLite", url, storage_dir, seeded, args, workdir, posting=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=15,
                        help="seconds of load on each of the floor and the page")
    parser.add_argument("--slices", type=int, default=5,
                        help="alternate floor and page in this many slices of the duration")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--discussions", type=int, default=1_000_000)
    parser.add_argument("--escalated", type=int, default=100_000)
    parser.add_argument("--ended-share", type=float, default=0.6,
                        help="share of the discussions already resolved or closed")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgresql", action="store_true")
    parser.add_argument("--only", help="measure only the targets whose name contains this")
    parser.add_argument("--bounds", action="store_true",
                        help="also measure the discussion page without rendering and the post "
                             "without writing (bench/bounds.py): the best any page could do")
    args = parser.parse_args()
    ensure_wrk()
    print(f"# wrk -t{args.threads} -c{args.connections}, {args.duration} s on the floor and "
          f"{args.duration} s on the page in {args.slices} alternating slices; gunicorn 2 sync "
          f"workers; {os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    targets, plans_ok = [], True
    with tempfile.TemporaryDirectory(prefix="arbiter-bench-") as workdir:
        if not args.skip_postgresql:
            found, plans_ok = postgresql_targets(args, workdir)
            targets += found
        if not args.skip_sqlite:
            if args.skip_postgresql:
                print(HEADER)
            targets += sqlite_targets(args, workdir)
    targets = [target for target in targets if target.page is not None]
    print("\n" + HEADER)
    for target in targets:
        print(row(target))
    print(f"# queue and inbox plans: {'index scans only' if plans_ok else 'SEQ SCAN FOUND'}")
    bounds = [target for target in targets if target.bound]
    targets = [target for target in targets if not target.bound]
    failed = [t for t in targets if not t.passed]
    print(f"# {len(targets) - len(failed)} of {len(targets)} targets met")
    for bound in bounds:
        print(f"# {bound.name} ({bound.engine}): {bound.ratio:.1%} of the floor")
    if failed or not plans_ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
