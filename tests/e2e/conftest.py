"""Real-browser end-to-end harness: Debian's Chromium driven by Playwright.

Each test gets its own application served by werkzeug on a free local port (a thread of
this process), on a fresh SQLite file copied from a database migrated to head once per
session, with CSRF on and real logins. Time is moved with time-machine in this process,
which the server thread sees too; every browser context's clock is moved along with it,
so the countdowns the pages compute in JavaScript agree with the server.

No savepoint fixtures here: the server commits for real, in its own threads.

Chromium is ``/usr/bin/chromium`` (``E2E_CHROMIUM`` overrides). Where it is missing the
tests are skipped and the summary says so in red; ``REQUIRE_BROWSER=1`` (CI) makes that a
failure instead.

Every page a test visits is saved as ``tests/e2e/screenshots/<lang>/<path>/NN-name.png``
(a CI artifact, ignored by git); a page visited without a screenshot fails the test, and
so do server errors, 4xx/5xx pages and JavaScript console errors (CSP violations
included).
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from babel.support import Translations
from flask import Flask, got_request_exception
from sqlalchemy.exc import NoResultFound
from werkzeug.serving import WSGIRequestHandler, make_server

from accounts.roles import Role
from arbiter import create_app
from arbiter.extensions import db
from tests.conftest import _base_config, _migrate_to_head

try:
    from playwright.sync_api import expect
except ImportError:  # the browser fixture skips (or, with REQUIRE_BROWSER=1, fails) with why
    expect = None

CHROMIUM = os.environ.get("E2E_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = Path(__file__).parent / "screenshots"
TRANSLATIONS = Path(__file__).resolve().parents[2] / "arbiter" / "translations"
LANGUAGES = ["pl", "en"]
# What the browser sends as Accept-Language for each run.
BROWSER_LOCALES = {"pl": "pl-PL", "en": "en-GB"}
PASSWORD = "correct horse battery"
TIMEOUT_MS = 10_000

_browser_skip_reason: list[str] = []


# --- is there a browser? --------------------------------------------------------------------


def _missing_browser() -> str | None:
    if not os.path.exists(CHROMIUM):
        return (f"{CHROMIUM} not found (install Debian's chromium: "
                "apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (make dev-deps)"
    return None


@pytest.fixture(scope="session")
def playwright_browser():
    """One headless Chromium for the whole session."""
    reason = _missing_browser()
    if reason:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"REQUIRE_BROWSER=1 but the browser tests cannot run: {reason}")
        if reason not in _browser_skip_reason:
            _browser_skip_reason.append(reason)
        pytest.skip(f"Browser tests skipped: {reason}")
    from playwright.sync_api import sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if _browser_skip_reason:
        bar = "!" * 78
        terminalreporter.write_line(bar, red=True, bold=True)
        terminalreporter.write_line(
            "Browser (end-to-end) tests were SKIPPED: " + _browser_skip_reason[0],
            red=True, bold=True)
        terminalreporter.write_line(
            "Install Debian's chromium to run them; REQUIRE_BROWSER=1 makes this a failure.",
            red=True)
        terminalreporter.write_line(bar, red=True, bold=True)


# --- the server -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def e2e_template_database(tmp_path_factory) -> Path:
    """A SQLite file migrated to head once; each test works on its own copy."""
    path = tmp_path_factory.mktemp("e2e-template") / "arbiter.sqlite3"
    _migrate_to_head(f"sqlite:///{path}")
    return path


class _QuietHandler(WSGIRequestHandler):
    """No request log on stderr from the server threads (pytest captures per test)."""

    def log_request(self, *args, **kwargs) -> None:
        pass

    def log(self, *args, **kwargs) -> None:
        pass


class LiveServer:
    """The app served on a free port by a thread of this process."""

    def __init__(self, app: Flask):
        self.app = app
        self.errors: list[BaseException] = []
        got_request_exception.connect(self._record_error, app, weak=False)
        self._server = make_server("127.0.0.1", 0, app, threaded=True,
                                   request_handler=_QuietHandler)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        app.config["BASE_URL"] = self.url
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="e2e-server", daemon=True)

    def _record_error(self, sender, exception, **extra) -> None:
        self.errors.append(exception)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        got_request_exception.disconnect(self._record_error, self.app)


@pytest.fixture
def live_server(e2e_template_database, tmp_path) -> Iterator[LiveServer]:
    """A fresh, migrated database and the app serving it, CSRF and all."""
    from arbiter import tasks

    database = tmp_path / "arbiter.sqlite3"
    shutil.copyfile(e2e_template_database, database)
    config = _base_config(f"sqlite:///{database}")
    config.update({
        "TESTING": False,  # errors are answered like in production (and recorded here)
        "WTF_CSRF_ENABLED": True,  # real forms, real tokens
        "STORAGE_DIR": str(tmp_path / "storage"),
        "MAIL_BACKEND": "file",
        "MAIL_DIR": str(tmp_path / "mail"),
    })
    # create_app points the shared Celery object at the newest app: restore it afterwards.
    previous_celery_app = getattr(tasks.celery, "flask_app", None)
    app = create_app(config)
    server = LiveServer(app)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        with app.app_context():
            db.engine.dispose()
        if previous_celery_app is not None:
            tasks.celery.flask_app = previous_celery_app
    assert not server.errors, f"the server raised: {server.errors!r}"


# --- time -----------------------------------------------------------------------------------


class Clock:
    """time-machine for this process (server thread included) and every browser context."""

    def __init__(self, start: datetime):
        self._traveller = time_machine.travel(start, tick=True)
        self._coordinates = None
        self._contexts: list = []

    def start(self) -> None:
        self._coordinates = self._traveller.start()

    def stop(self) -> None:
        self._traveller.stop()

    @staticmethod
    def now() -> datetime:
        return datetime.now(UTC)

    def follow(self, context) -> None:
        """Keep this browser context's clock on the server's time."""
        self._contexts.append(context)
        context.clock.set_system_time(self.now())

    def shift(self, delta: timedelta) -> None:
        self._coordinates.shift(delta)
        for context in self._contexts:
            context.clock.set_system_time(self.now())


@pytest.fixture
def clock() -> Iterator[Clock]:
    """Start on a whole minute of today (cookies must not look expired to Chromium)."""
    clock = Clock(datetime.now(UTC).replace(second=0, microsecond=0))
    clock.start()
    try:
        yield clock
    finally:
        clock.stop()


# --- translations, as the user reads them ----------------------------------------------------


class Text:
    """The interface's strings in one language, straight from the compiled catalogue."""

    def __init__(self, lang: str):
        self.lang = lang
        self._translations = Translations.load(str(TRANSLATIONS), [lang], domain="messages")

    def __call__(self, message: str, **variables) -> str:
        text = self._translations.gettext(message)
        return text % variables if variables else text

    def n(self, singular: str, plural: str, num: int, **variables) -> str:
        return self._translations.ngettext(singular, plural, num) % {"num": num, **variables}

    @staticmethod
    @functools.cache
    def untranslated_sentences() -> list[str]:
        """English sentences of the interface that must not appear on a Polish page: the
        whole strings (three words or more, no placeholders) that Polish translates."""
        catalog = Translations.load(str(TRANSLATIONS), ["pl"], domain="messages")._catalog
        return sorted({key for key, value in catalog.items()
                       if isinstance(key, str) and key and key != value and "%" not in key
                       and len(key.split()) >= 3})


# What each page is checked for after its screenshot: an id used twice that a label or an
# aria attribute points to (it then names or describes the wrong field), raw enum values
# ("not_received"; a command or an address shown as code may hold such words) and English
# sentences on a Polish page.
PAGE_CHECK = """(sentences) => {
  const ids = [...document.querySelectorAll('[id]')].map(e => e.id);
  const referenced = new Set([
    ...[...document.querySelectorAll('label[for]')].map(e => e.htmlFor),
    ...[...document.querySelectorAll('[aria-describedby], [aria-labelledby]')].flatMap(
      e => `${e.getAttribute('aria-describedby') || ''} ${e.getAttribute('aria-labelledby') || ''}`
        .split(/\\s+/))]);
  const duplicates = [...new Set(ids.filter((id, i) => ids.indexOf(id) !== i))]
    .filter(id => referenced.has(id));
  const shown = document.body.innerText;
  const literal = [...document.querySelectorAll('code, kbd, samp')]
    .map(e => e.innerText).join('\\n');
  const raw = [...new Set(shown.match(/\\b[a-z]+(?:_[a-z]+)+\\b/g) || [])]
    .filter(word => !literal.includes(word));
  const polish = document.documentElement.lang === 'pl';
  const english = polish ? sentences.filter(s => shown.includes(s)) : [];
  return {duplicates, raw, english};
}"""


# --- people with browsers --------------------------------------------------------------------


class Screenshots:
    """Numbered screenshots of one test: screenshots/<lang>/<path>/NN-name.png."""

    def __init__(self, folder: Path):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        self.folder = folder
        self.count = 0

    def keep(self, name: str, data: bytes) -> Path:
        """A downloaded file (decision PDF, payouts CSV), numbered like the pages."""
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}"
        path.write_bytes(data)
        return path

    def take(self, page, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path


class Actor:
    """One person in their own browser context: buyer, seller or staff."""

    def __init__(self, role: str, context, server: LiveServer, shots: Screenshots, text: Text,
                 browser_lang: str, clock: Clock):
        self.role = role
        self.clock = clock
        self.browser_lang = browser_lang  # what the login page speaks before the switch
        self.context = context
        self.server = server
        self.shots = shots
        self.t = text
        self.page = context.new_page()
        self.problems: list[str] = []
        # Error statuses a test provokes on purpose (a form refused and shown again).
        self.expected_statuses: set[int] = set()
        self._unshot: str | None = None  # a page shown and not yet photographed
        self.page.on("framenavigated", self._navigated)
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"JS error: {error}"))
        self.page.on("response", self._response)

    # -- bookkeeping ------------------------------------------------------------------------

    def _navigated(self, frame) -> None:
        if frame != self.page.main_frame:
            return
        if self._unshot is not None:
            self.problems.append(f"visited without a screenshot: {self._unshot}")
        self._unshot = frame.url

    def _console(self, message) -> None:
        if any(f"status of {status} " in message.text for status in self.expected_statuses):
            return  # the browser's note on a status the test provoked
        if message.type == "error" and "favicon.ico" not in (message.location or {}).get(
                "url", ""):
            self.problems.append(f"console error on {self.page.url}: {message.text}")

    def _response(self, response) -> None:
        if response.url.endswith("/favicon.ico"):
            return
        if response.status in self.expected_statuses:
            return
        if response.status >= 500 or (
                response.status >= 400 and response.request.resource_type == "document"):
            self.problems.append(f"HTTP {response.status} for {response.url}")

    def shot(self, name: str) -> None:
        self.page.wait_for_load_state("load")
        self.shots.take(self.page, f"{self.role}-{name}")
        self._unshot = None
        found = self.page.evaluate(PAGE_CHECK, Text.untranslated_sentences())
        where = f"{self.role}-{name} ({self.page.url})"
        if found["duplicates"]:
            self.problems.append(f"{where}: ids used twice: {found['duplicates']}")
        if found["raw"]:
            self.problems.append(f"{where}: raw values shown to users: {found['raw']}")
        if found["english"]:
            self.problems.append(f"{where}: English on a Polish page: {found['english']}")

    def check(self) -> None:
        if self._unshot is not None:
            self.problems.append(f"visited without a screenshot: {self._unshot}")
            self._unshot = None
        assert not self.problems, f"{self.role}: " + "; ".join(self.problems)

    # -- moving around ----------------------------------------------------------------------

    def goto(self, path: str, name: str) -> None:
        self.page.goto(self.server.url + path)
        self.shot(name)

    def submit(self, button, name: str) -> None:
        """Click a button that posts a form, wait for the next page, photograph it."""
        with self.page.expect_navigation():
            button.click()
        self.shot(name)

    def open_menu(self) -> None:
        """On a phone the navigation waits behind "Menu" (base.html): open it if closed."""
        button = self.page.locator("label[for=site-menu-toggle]")
        if button.is_visible() and not self.page.locator("#site-menu-toggle").is_checked():
            button.click()

    def open_dialog(self, trigger, name: str):
        """Click something that asks for a confirmation in a dialog (no page load); the
        open dialog is photographed and returned."""
        trigger.click()
        dialog = self.page.locator("dialog[open]")
        expect(dialog).to_be_visible()
        self.shot(name)
        return dialog

    def follow_link(self, link, name: str) -> None:
        with self.page.expect_navigation():
            link.click()
        self.shot(name)

    def link(self, name: str):
        """A link in the page's content, by its exact visible text."""
        return self.page.locator("main").get_by_role("link", name=name, exact=True)

    def button(self, name: str):
        """A button in the page's content, by its exact visible text."""
        return self.page.locator("main").get_by_role("button", name=name, exact=True)

    def field(self, label: str):
        """A form field by its exact label."""
        return self.page.locator("main").get_by_label(label, exact=True)

    def flash(self):
        """The confirmation shown at the top of the page after an action."""
        return self.page.locator("main [aria-live] [role=status]")

    def nav(self, name: str):
        """A link of the navigation bar (its name may go on: "Notifications 2 unread")."""
        return self.page.get_by_role("navigation").get_by_role(
            "link", name=re.compile("^" + re.escape(name) + r"\b"))

    def login(self, email: str, *, switch_language: bool = False) -> None:
        """Log in through the login page. With ``switch_language`` (or when the browser asks
        for the other language) then pick the run's language with the switch in the
        navigation bar: it is remembered on the account, so e-mails and decision documents
        come in that language too."""
        self.goto("/login", "login")
        t = Text(self.browser_lang)
        form = self.page.locator("main form")
        form.get_by_label(t("E-mail")).fill(email)
        form.get_by_label(t("Password")).fill(PASSWORD)
        if not self.staff_login(email, t, form.get_by_role("button", name=t("Log in"))):
            self.submit(form.get_by_role("button", name=t("Log in")), "logged-in")
        if switch_language or self.browser_lang != self.t.lang:
            label = {"pl": "Polski", "en": "English"}[self.t.lang]
            self.submit(self.page.get_by_role("button", name=label, exact=True), "language")
        expect(self.page.locator("html")).to_have_attribute("lang", self.t.lang)

    def staff_login(self, email: str, t: Text, log_in) -> bool:
        """A staff member's login: the password, then the code their phone shows (computed
        from the secret stored at enrolment). When the account already used the current
        30-second step, the test's clock is moved on to the next step first, as a person
        would wait for the next code. False for anyone who is not enrolled staff."""
        from tests.factories import STEP_SECONDS, totp_step

        with self.server.app.app_context():
            try:
                step, code = totp_step(email)
            except NoResultFound:
                return False
            finally:
                db.session.remove()
        self.submit(log_in, "password")
        wait = step * STEP_SECONDS + 1 - self.clock.now().timestamp()
        if wait > 0:
            self.clock.shift(timedelta(seconds=wait))
        form = self.page.locator("main form")
        form.get_by_label(t("Code")).fill(code)
        self.submit(form.get_by_role("button", name=t("Continue")), "logged-in")
        return True

    def download(self, trigger) -> bytes:
        """Click something that downloads a file; the file is kept beside the screenshots."""
        with self.page.expect_download() as info:
            trigger.click()
        download = info.value
        assert download.failure() is None, download.failure()
        data = Path(download.path()).read_bytes()
        self.shots.keep(f"{self.role}-{download.suggested_filename}", data)
        return data


class Cast:
    """Opens a browser context per person, with the run's language and the test clock."""

    def __init__(self, browser, server, clock, shots, text):
        self.browser, self.server, self.clock = browser, server, clock
        self.shots, self.text = shots, text
        self.actors: list[Actor] = []

    def __call__(self, role: str, *, browser_lang: str | None = None,
                 javascript: bool = True) -> Actor:
        """A person whose browser asks for ``browser_lang`` (default: the run's language);
        ``javascript=False``: a browser with scripts turned off."""
        browser_lang = browser_lang or self.text.lang
        context = self.browser.new_context(
            locale=BROWSER_LOCALES[browser_lang],
            timezone_id="Europe/Warsaw", viewport={"width": 1280, "height": 900},
            accept_downloads=True, java_script_enabled=javascript)
        context.set_default_timeout(TIMEOUT_MS)
        self.clock.follow(context)
        actor = Actor(role, context, self.server, self.shots, self.text, browser_lang,
                      self.clock)
        self.actors.append(actor)
        return actor

    def close(self) -> None:
        for actor in self.actors:
            actor.context.close()


@pytest.fixture(params=LANGUAGES)
def lang(request) -> str:
    return request.param


@pytest.fixture
def text(lang) -> Text:
    return Text(lang)


@pytest.fixture
def cast(request, playwright_browser, live_server, clock, lang, text) -> Iterator[Cast]:
    """People with browsers; screenshots go to screenshots/<lang>/<test's path name>/."""
    path_name = re.sub(r"^test_", "", request.node.originalname).replace("_", "-")
    shots = Screenshots(SCREENSHOTS / lang / path_name)
    cast = Cast(playwright_browser, live_server, clock, shots, text)
    try:
        yield cast
        for actor in cast.actors:
            actor.check()
    finally:
        cast.close()


# --- data the marketplace would have pushed ---------------------------------------------------


class World:
    """Set-up rows written straight into the served database (what the marketplace API and
    the user accounts would have produced), committed before the browser looks."""

    def __init__(self, app: Flask):
        self.app = app

    def user(self, email: str, name: str, *, staff: bool = False,
             locale: str | None = None, enrolled: bool = True) -> int:
        """An account; ``locale`` is the language its owner picked on an earlier visit. Staff
        have set up their authenticator app unless ``enrolled=False``."""
        from accounts import services as accounts
        from tests.factories import enrol

        with self.app.app_context():
            user = accounts.create_user(email, name, PASSWORD, roles=tuple(Role) if staff else ())
            user.locale = locale
            if staff and enrolled:
                enrol(user)  # their authenticator app is set up (tests.factories.enrol)
            db.session.commit()
            user_id = user.id
            db.session.remove()
        return user_id

    def order(self, *, buyer: str, seller: str, **fields) -> int:
        from orders.services import upsert_order
        from orders.states import PaymentMethod

        data = {
            "external_id": "ORD-2026-0001",
            "buyer_email": buyer,
            "seller_email": seller,
            "item_title": "Lampa biurkowa Ikar",
            "item_price": 19_900,
            "shipping_cost": 1_500,
            "currency": "PLN",
            "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
            "paid_at": datetime.now(UTC) - timedelta(days=3),
            "delivered_at": None,
        }
        data.update(fields)
        with self.app.app_context():
            order = upsert_order(data).order
            db.session.commit()
            order_id = order.id
            db.session.remove()
        return order_id

    def run(self, function, *args, **kwargs):
        """Run ``function`` in an app context of the served app and commit (the sweeper)."""
        with self.app.app_context():
            try:
                result = function(*args, **kwargs)
                db.session.commit()
                return result
            finally:
                db.session.remove()


@pytest.fixture
def world(live_server) -> World:
    return World(live_server.app)


# --- small files a user would upload ------------------------------------------------------------


def tiny_png(rgb: bytes = b"\xcc\x33\x33") -> bytes:
    """A real 2x2 PNG of one colour (a phone photo, only smaller)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\x00" + rgb * 2 for _ in range(2))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def tiny_pdf(line: str) -> bytes:
    """A real one-page PDF with one line of text (a scanned police acknowledgement)."""
    from io import BytesIO

    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(width=595, height=842)
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"),
                             NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica")})
    page[NameObject("/Resources")] = DictionaryObject({
        NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})})
    content = DecodedStreamObject()
    safe = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    content.set_data(f"BT /F1 14 Tf 72 770 Td ({safe}) Tj ET".encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(content)
    buffer = BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def pdf_text(data: bytes) -> str:
    from io import BytesIO

    from pypdf import PdfReader

    return "\n".join(page.extract_text() or "" for page in PdfReader(BytesIO(data)).pages)


def visible(text: str) -> str:
    """Babel formats with no-break spaces; the screen (and Playwright) shows spaces."""
    return text.replace("\u00a0", " ").replace("\u202f", " ")
