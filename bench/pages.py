"""Page benchmarks: requests per second of real pages against floors of the same app.

Three floors, measured in every run on the same database, served by the same gunicorn
command (docs/operations.md's production command with 2 sync workers) and loaded by the
same wrk command (16 connections) as the pages:

- the **bare floor** (``bench/floor.py``): a bare Flask app returning one ``users`` row
  as JSON; reported for reference (Flask and the database without the application);
- the **page floor** (``GET /bench/floor``, ``bench/floors.py``): a logged-in page of the
  application rendering one line inside ``base.html``: the session's row and user,
  Flask-Login, CSRF, Babel, Limiter, Talisman, the read-only request transaction and the
  base layout, which every Arbiter page has;
- the **write floor** (``POST /bench/floor``): a logged-in post, its CSRF token read from
  the page floor, that writes one row (a notification) and one audit entry in the
  request's transaction and redirects: what every Arbiter post has.

Targets, each at least 50 % of its floor, on PostgreSQL and on SQLite:

- the discussion page of a logged-in buyer (20 messages, 3 attachments), and the staff
  escalation queue and the seller inbox with 1,000,000 discussions of one seller (100,000
  escalated, 60 % resolved or closed, the oldest), first page and a page deep in the
  list: of the page floor, logged in as the same user;
- posting a message (a browser's multipart post; session cookie and CSRF token from a
  real login): of the write floor, as the same user.

Each target alternates with its floor in five slices (15 s of load on each in all), so
both see the same background load of a busy machine; the three floors alternate with
each other the same way. The queue and inbox pages' statements on ``discussions`` are
shown with ``EXPLAIN (ANALYZE, BUFFERS)`` on PostgreSQL and ``EXPLAIN QUERY PLAN`` on
SQLite and must not scan ``discussions`` (nor, on PostgreSQL, read more than 1,000 rows
only to throw them away).

The app runs as in production: ``ARBITER_ENV=production``, a random secret key,
``wsgi:app`` (the floors: ``bench.floors:app``, the same app plus their two routes); wrk
sends ``X-Forwarded-Proto: https`` as the TLS proxy would. Every page and floor is checked
once (status and content; the write floor: one notification and one audit entry more)
before it is loaded, and every response wrk gets is checked too (status; for a post, the
redirect): any other answer fails the run. Exit status 1 when a target is missed.

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

from bench.common import _migrate, generate_discussions, throwaway_database

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PASSWORD = "bench-password-2026"  # noqa: S105 - benchmark accounts in a throwaway database
SECOND_STEP = "/login/second-factor"


@dataclass
class Authenticator:
    """A staff member's phone: the app's code for each 30-second step, typed at most once
    per step (the server refuses a step twice); a login within a step already used types
    one of the recovery codes instead, as a person would who cannot wait."""

    secret: str
    recovery_codes: list[str]
    last_step: int

    def code(self) -> str:
        import pyotp

        totp = pyotp.TOTP(self.secret)
        step = totp.timecode(time.time())
        if step > self.last_step:
            self.last_step = step
            return totp.generate_otp(step)
        return self.recovery_codes.pop()


# The seeded staff member's phone, by e-mail (each engine's seed sets it anew).
AUTHENTICATORS: dict[str, Authenticator] = {}
USER_AGENT = "arbiter-bench/1.0"
POSTED = "The seller has not answered about the lens yet."
MESSAGES = 20
ATTACHMENTS = 3
POSTING_THREADS = 16  # posts rotate through these discussions (one per wrk connection)
MAX_ROWS_FILTERED = 1_000  # a page of 20 may read a few rows it does not show, not a table
TARGET = 0.50  # of the page's floor
FLOOR_PATH = "/bench/floor"  # bench/floors.py: GET the page floor, POST the write floor
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

    def enrol(user) -> None:
        """Staff sign in with a second factor: set up their app as the enrolment page does."""
        import pyotp

        from accounts import second_factor

        factor = second_factor.begin_enrolment(user)
        totp = pyotp.TOTP(factor.secret)
        step = totp.timecode(time.time())
        codes = second_factor.confirm_enrolment(user, totp.generate_otp(step))
        AUTHENTICATORS[user.email] = Authenticator(factor.secret, codes, step)

    with app.app_context():
        people = {role: accounts.create_user(f"{role}@bench.test", name, PASSWORD,
                                             roles=["advisor"] if role == "staff" else ())
                  for role, name in (("buyer", "Barbara Buyer"), ("seller", "Stefan Seller"),
                                     ("staff", "Sylwia Staff"), ("bigseller", "Big Seller"),
                                     ("bigbuyer", "Big Buyer"))}
        db.session.commit()
        enrol(people["staff"])
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
    from sqlalchemy import create_engine, select

    from accounts.models import User
    from arbiter.pagination import make_cursor
    from disputes.models import Discussion
    from disputes.states import OPEN_STATES, DiscussionState

    engine = create_engine(url)
    with engine.connect() as connection:
        queue = connection.execute(
            select(Discussion.escalated_at, Discussion.id)
            .where(Discussion.state == DiscussionState.ESCALATED)
            .order_by(Discussion.escalated_at, Discussion.id)
            .offset(escalated // 2).limit(2)).all()
        inbox = connection.execute(
            select(Discussion.respond_by, Discussion.id)
            .join(User, User.id == Discussion.seller_id)
            .where(User.email == "bigseller@bench.test", Discussion.state.in_(OPEN_STATES))
            .order_by(Discussion.respond_by, Discussion.id)
            .offset(open_ // 2).limit(2)).all()
    engine.dispose()
    return {"queue": (make_cursor(*queue[0]), queue[1][1]),
            "inbox": (make_cursor(*inbox[0]), inbox[1][1])}


def floor_writes(url: str) -> tuple[int, int]:
    """The write floor's notifications and audit entries so far (``bench.floors.WRITTEN``,
    not imported: that module builds an app)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.connect() as connection:
        counts = connection.execute(text(
            "SELECT (SELECT count(*) FROM notifications WHERE kind = :kind), "
            "(SELECT count(*) FROM audit_entries WHERE action = :kind)"),
            {"kind": "bench.floor_written"}).one()
    engine.dispose()
    return tuple(counts)


# --- EXPLAIN -----------------------------------------------------------------------------------


def explain_pages(url: str, storage_dir: str, pages: list[tuple[str, str]]) -> bool:
    """Run each (user, path) page in process, explain every statement it sends that reads
    ``discussions`` (PostgreSQL: ``EXPLAIN (ANALYZE, BUFFERS)``, SQLite: ``EXPLAIN QUERY
    PLAN``), print the plans; False if any scans the table (on PostgreSQL: or reads more
    than ``MAX_ROWS_FILTERED`` rows only to throw them away)."""
    from sqlalchemy import event

    from arbiter import create_app
    from arbiter.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench-explain",
                      "STORAGE_DIR": storage_dir, "ENV": "development",
                      "WTF_CSRF_ENABLED": False})
    with app.app_context():
        engine = db.engine
    sqlite = engine.dialect.name == "sqlite"
    explain = "EXPLAIN QUERY PLAN" if sqlite else "EXPLAIN (ANALYZE, BUFFERS)"
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    ok = True
    for email, path in pages:
        # No app context held around the requests: each gets its own, as in production
        # (a shared one would keep the previous user logged in through ``g``).
        client = app.test_client()
        login = client.post("/login", data={"email": email, "password": PASSWORD})
        assert login.status_code == 302
        if login.headers["Location"].startswith(SECOND_STEP):
            assert client.post(login.headers["Location"], data={
                "code": AUTHENTICATORS[email].code()}).status_code == 302
        statements.clear()
        event.listen(engine, "before_cursor_execute", capture)
        try:
            assert client.get(path).status_code == 200, path
        finally:
            event.remove(engine, "before_cursor_execute", capture)
        reads = [(s, p) for s, p in statements if s.lstrip().upper().startswith("SELECT")
                 and re.search(r"\bFROM discussions\b", s)]
        print(f"\n## {explain}: {path} as {email} "
              f"({len(statements)} statements, {len(reads)} on discussions)")
        for statement, parameters in reads:
            with engine.connect() as connection:
                result = connection.exec_driver_sql(f"{explain} {statement}", parameters)
                plan = [row[-1] for row in result]
            print(" ".join(statement.split())[:400])
            print("\n".join("    " + line for line in plan))
            ok = _plan_ok(sqlite, plan) and ok
    engine.dispose()
    return ok


def _plan_ok(sqlite: bool, plan: list[str]) -> bool:
    if sqlite:
        # "SEARCH discussions USING INDEX …" reads the rows the page shows; "SCAN" reads
        # the table (or a whole index) and a temporary B-tree sorts what it read.
        if any(re.match(r"SCAN discussions\b", line) or "TEMP B-TREE" in line
               for line in plan):
            print("    !! discussions scanned or sorted")
            return False
        return True
    text = "\n".join(plan)
    removed = sum(int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", text))
    if "Seq Scan on discussions" in text or "Index" not in text:
        print("    !! sequential scan on discussions")
        return False
    if removed > MAX_ROWS_FILTERED:
        print(f"    !! {removed:,} rows read and thrown away: the index does not fit")
        return False
    return True


# --- servers and clients -----------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def gunicorn(module: str, env: dict, ready_path: str, workdir: str):
    """``gunicorn --workers 2 --bind 127.0.0.1:PORT --forwarded-allow-ips=127.0.0.1 MODULE``:
    the docs/operations.md's production command with the benchmark's two workers. Its log
    goes to a file (a pipe nobody reads would stop the workers once it is full); the
    errors in it are shown when the server stops."""
    port = free_port()
    log = Path(workdir) / f"gunicorn-{port}.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [str(BIN / "gunicorn"), "--workers", "2", "--bind", f"127.0.0.1:{port}",
             "--forwarded-allow-ips=127.0.0.1", module],
            cwd=ROOT, env={**env, "PYTHONWARNINGS": "ignore"},
            stdout=subprocess.DEVNULL, stderr=stderr)
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
                raise RuntimeError(f"gunicorn {module} did not start:\n{log.read_text()}")
            time.sleep(0.2)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        text = log.read_text()
        failed = text.count("Exception on /")  # Flask's log of a request that raised
        if failed:
            example = re.search(r"^[\w.]+(?:Error|Exception): .*$", text, re.MULTILINE)
            print(f"# gunicorn {module}: {failed} requests raised, e.g. "
                  f"{example.group(0)[:200] if example else '?'}", flush=True)


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
        status, headers, _ = self.open(
            "POST", "/login", {"Content-Type": "application/x-www-form-urlencoded"},
            form.encode())
        assert status == 302, f"login of {email}: {status}"
        if (headers["Location"] or "").startswith(SECOND_STEP):  # staff: the app's code
            status, _, page = self.open("GET", headers["Location"])
            form = urlencode({"csrf_token": csrf_token(page),
                              "code": AUTHENTICATORS[email].code()})
            status, _, _ = self.open(
                "POST", headers["Location"],
                {"Content-Type": "application/x-www-form-urlencoded"}, form.encode())
            assert status == 302, f"second step of {email}: {status}"
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
    floor_name: str  # "page floor" or "write floor"
    minimum: float = TARGET
    floor: Result | None = None
    page: Result | None = None

    @property
    def ratio(self) -> float:
        if not (self.floor and self.page and self.floor.rate):
            return 0.0
        return self.page.rate / self.floor.rate

    @property
    def errors(self) -> int:
        return sum(result.unexpected for result in (self.floor, self.page) if result)

    @property
    def passed(self) -> bool:
        return self.page is not None and self.errors == 0 and self.ratio >= self.minimum


@dataclass
class Floors:
    engine: str
    bare: Result
    page: Result
    write: Result

    @property
    def errors(self) -> int:
        return self.bare.unexpected + self.page.unexpected + self.write.unexpected

    def line(self) -> str:
        bare = self.bare.rate or float("nan")
        return (f"# {self.engine} floors: bare Flask {self.bare.rate:.1f} r/s; page floor "
                f"{self.page.rate:.1f} r/s ({self.page.rate / bare:.1%} of bare); "
                f"write floor {self.write.rate:.1f} r/s ({self.write.rate / bare:.1%} of bare)"
                + (f"; {self.errors} ERRORS" if self.errors else ""))


def alternate(loads: list[tuple[int, Load]], args, workdir: str) -> list[Result]:
    """``args.duration`` seconds of load on each (port, load), taken in ``args.slices``
    slices in turn, after a warm-up: all see the same background load of the machine,
    whatever else runs on it, and their ratio compares like with like."""
    warm_up = argparse.Namespace(**{**vars(args), "duration": min(2, args.duration)})
    for port, load in loads:
        run_wrk(port, load, warm_up, workdir)
        drain(port)
    piece = argparse.Namespace(**{**vars(args),
                                  "duration": max(1, round(args.duration / args.slices))})
    totals: list[Result | None] = [None] * len(loads)
    for _ in range(args.slices):
        for n, (port, load) in enumerate(loads):
            result = run_wrk(port, load, piece, workdir)
            drain(port)
            totals[n] = result if totals[n] is None else totals[n] + result
    return totals


def drain(port: int) -> None:
    """Wait for the requests wrk sent but left unanswered when it stopped (up to one per
    connection; gunicorn's sync workers still answer them): a new request is answered
    after them, so the next slice, on the other server, does not share the CPU with
    them."""
    request(port, "GET", "/healthz")


HEADER = (f"{'target':<44} {'engine':<10} {'against':<11} {'floor r/s':>9} {'r/s':>7} "
          f"{'ratio':>6} {'target':>6} {'errors':>6}  result")


def row(target: Target) -> str:
    return (f"{target.name:<44} {target.engine:<10} {target.floor_name:<11} "
            f"{target.floor.rate:>9.1f} {target.page.rate:>7.1f} {target.ratio:>6.1%} "
            f"{target.minimum:>6.0%} {target.errors:>6}  "
            f"{'PASS' if target.passed else 'FAIL'}"
            + "".join(f"  [socket errors: {e}]"
                      for e in sorted(set(target.floor.socket_errors
                                          + target.page.socket_errors))))


def app_env(url: str, storage_dir: str, workdir: str) -> dict:
    env = {key: value for key, value in os.environ.items() if not key.startswith("ARBITER_")}
    env.update({
        "ARBITER_ENV": "production",
        "ARBITER_SECRET_KEY": secrets.token_hex(32),
        "ARBITER_DATABASE_URL": url,
        "ARBITER_STORAGE_DIR": storage_dir,
        "ARBITER_MAIL_DIR": str(Path(workdir) / "mail"),
        # Production refuses to start without it; the benchmark renders no link that
        # anyone follows.
        "ARBITER_BASE_URL": "https://127.0.0.1",
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


def page_floor(port: int, email: str) -> tuple[Load, str]:
    """The page floor as ``email`` (a real login), checked once; and its CSRF token."""
    browser = Browser(port)
    browser.login(email)
    status, page = browser.settled_get(FLOOR_PATH)
    assert status == 200 and "data-bench-floor" in page, f"{FLOOR_PATH}: {status}"
    return Load([FLOOR_PATH], headers={"Cookie": browser.cookie}), csrf_token(page)


def write_floor(port: int, url: str, floor: Load, token: str) -> Load:
    """The write floor with the page floor's session and CSRF token, checked once: it
    must redirect to the page floor having written one notification and one audit entry."""
    body = urlencode({"csrf_token": token}).encode()
    headers = {**floor.headers, "Content-Type": "application/x-www-form-urlencoded",
               "Referer": f"https://127.0.0.1:{port}{FLOOR_PATH}"}
    before = floor_writes(url)
    status, response, _ = request(port, "POST", FLOOR_PATH, headers, body)
    assert status == 302 and response["Location"] == FLOOR_PATH, \
        f"POST {FLOOR_PATH}: {status} {response['Location']}"
    after = floor_writes(url)
    assert after == (before[0] + 1, before[1] + 1), f"written: {before} -> {after}"
    return Load([FLOOR_PATH], "POST", headers, body, 302, "/bench/floor$")


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


def measure_engine(engine: str, url: str, storage_dir: str, seeded: Seed, pages: list,
                   args, workdir: str) -> tuple[Floors, list[Target]]:
    """Every page, post and floor logged in and checked once; then the floors, and each
    target against its floor, on one database."""
    env = app_env(url, storage_dir, workdir)
    bare = Load([f"/users/{seeded.buyer_user_id}"])
    with gunicorn("bench.floor:app", {**env, "BENCH_FLOOR_DATABASE_URL": url},
                  bare.paths[0], workdir) as bare_port, \
            gunicorn("bench.floors:app", env, "/healthz", workdir) as floors_port, \
            gunicorn("wsgi:app", env, "/healthz", workdir) as app_port:
        buyer = Browser(app_port)
        buyer.login(seeded.buyer)
        thread_path = f"/discussions/{seeded.thread_id}"
        status, page = buyer.settled_get(thread_path)
        assert status == 200, f"{thread_path}: {status}"
        check_thread_page(page, seeded)
        cookie = {"Cookie": buyer.cookie}
        posting = posting_load(app_port, [f"/discussions/{n}/messages"
                                          for n in seeded.posting_ids], csrf_token(page),
                               cookie, seeded.posting_ids[0])
        status, _, shown = request(app_port, "GET", f"/discussions/{seeded.posting_ids[0]}",
                                   cookie)
        assert status == 200 and POSTED in shown, "the posted message is not in the thread"
        buyer_floor, floor_token = page_floor(floors_port, seeded.buyer)
        writes = write_floor(floors_port, url, buyer_floor, floor_token)
        planned = [
            (Target("discussion page, buyer, 20 messages, 3 files", engine, "page floor"),
             buyer_floor, Load([thread_path], headers=cookie)),
            (Target("post a message (CSRF, redirect to thread)", engine, "write floor"),
             writes, posting),
        ]
        for name, email, path, first_id in pages:
            browser = Browser(app_port)
            browser.login(email)
            status, page = browser.settled_get(path)
            assert status == 200, f"{path}: {status}"
            check_list_page(page, first_id)
            planned.append((Target(name, engine, "page floor"), page_floor(floors_port, email)[0],
                            Load([path], headers={"Cookie": browser.cookie})))

        floors = Floors(engine, *alternate(
            [(bare_port, bare), (floors_port, buyer_floor), (floors_port, writes)],
            args, workdir))
        print(floors.line(), flush=True)
        print(HEADER, flush=True)
        targets = []
        for target, floor, load in planned:
            if args.only and args.only not in target.name:
                continue
            target.floor, target.page = alternate([(floors_port, floor), (app_port, load)],
                                                  args, workdir)
            print(row(target), flush=True)
            targets.append(target)
    return floors, targets


def run_engine(engine: str, url: str, storage_dir: str, args,
               workdir: str) -> tuple[Floors, list[Target], bool]:
    """Seed a migrated, empty database, generate the discussions, check the list pages'
    plans, measure."""
    seeded = seed(url, storage_dir)
    ended = int(args.discussions * args.ended_share)
    open_ = args.discussions - ended
    seconds = generate_discussions(url, args.discussions, 0, escalated=args.escalated,
                                   ended=ended, buyer_id=seeded.big_buyer_id,
                                   seller_id=seeded.big_seller_id)
    print(f"\n# {engine}: {args.discussions:,} discussions of one seller ({args.escalated:,}"
          f" escalated, {ended:,} resolved or closed, {open_:,} open) generated in "
          f"{seconds:.1f} s", flush=True)
    cursors = deep_cursors(url, args.escalated, open_)
    pages = [
        ("staff escalation queue, first page", seeded.staff, "/staff/escalations", None),
        (f"staff escalation queue, page at {args.escalated // 2:,}", seeded.staff,
         f"/staff/escalations?after={cursors['queue'][0]}", cursors["queue"][1]),
        ("seller inbox, first page", seeded.big_seller, "/seller/inbox", None),
        (f"seller inbox, page at {open_ // 2:,}", seeded.big_seller,
         f"/seller/inbox?after={cursors['inbox'][0]}", cursors["inbox"][1]),
    ]
    plans_ok = explain_pages(url, storage_dir, [(email, path) for _, email, path, _ in pages])
    print(f"# {engine} queue and inbox plans: "
          f"{'index searches only' if plans_ok else 'TABLE SCAN FOUND'}\n", flush=True)
    floors, targets = measure_engine(engine, url, storage_dir, seeded, pages, args, workdir)
    return floors, targets, plans_ok


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
    parser.add_argument("--only", help="measure only the targets whose name contains this "
                                       "(the floors are always measured)")
    args = parser.parse_args()
    ensure_wrk()
    print(f"# wrk -t{args.threads} -c{args.connections}, {args.duration} s on each floor and "
          f"page in {args.slices} alternating slices; gunicorn 2 sync workers; "
          f"{os.cpu_count()} CPUs, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}", flush=True)
    runs = []
    with tempfile.TemporaryDirectory(prefix="arbiter-bench-") as workdir:
        if not args.skip_postgresql:
            with throwaway_database("arbiter_pages") as url:
                runs.append(run_engine("PostgreSQL", url, str(Path(workdir) / "storage-pg"),
                                       args, workdir))
        if not args.skip_sqlite:
            url = f"sqlite:///{Path(workdir) / 'arbiter.sqlite3'}"
            _migrate(url)
            runs.append(run_engine("SQLite", url, str(Path(workdir) / "storage-sqlite"),
                                   args, workdir))
    print(f"\n# Targets: {TARGET:.0%} of the page floor (pages) or of the write floor (the "
          f"post); load average now {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    for floors, _, _ in runs:
        print(floors.line())
    print(HEADER)
    targets = [target for _, found, _ in runs for target in found]
    for target in targets:
        print(row(target))
    failed = [target for target in targets if not target.passed]
    plans_ok = all(ok for _, _, ok in runs)
    floor_errors = sum(floors.errors for floors, _, _ in runs)
    print(f"# queue and inbox plans: {'index searches only' if plans_ok else 'SCAN FOUND'}")
    print(f"# {len(targets) - len(failed)} of {len(targets)} targets met")
    if failed or not plans_ok or floor_errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
