"""Path 3, in a real browser: a platform incident moves a running deadline by 24 hours.

A buyer reported a problem two hours ago; the seller's 24 h to answer are running. Staff
declare an incident that began an hour ago (discussions were down); the banner and the
public status page show it; staff resolve it; the seller's deadline shown on the
discussion is now 24 hours later, with a note saying why, and the status page lists the
incident as resolved with its timeline.
"""

from datetime import datetime, timedelta

import pytest
from flask import render_template_string
from flask_babel import force_locale

from arbiter.clock import WARSAW
from disputes import services as discussions
from disputes.states import ExpectedOutcome, Reason
from orders.models import Order
from tests.e2e.conftest import expect, visible

pytestmark = pytest.mark.e2e

TITLES = {"pl": "Wiadomości w dyskusjach nie zapisują się",
          "en": "Messages in discussions are not saved"}
SEEN = {
    "pl": {"in_progress": "w toku", "resolved": "rozwiązana"},
    "en": {"in_progress": "in progress", "resolved": "resolved"},
}


def _open_discussion(order_id: int) -> datetime:
    """The buyer reported the problem (path 1 shows how); the seller's deadline."""
    from arbiter.extensions import db

    order = db.session.get(Order, order_id)
    discussion = discussions.open_discussion(
        order, order.buyer, reason=Reason.DAMAGED, expected_outcome=ExpectedOutcome.REPAIR,
        description="Lampa nie świeci po podłączeniu.")
    return discussion.respond_by


def _shown(app, lang: str, when: datetime) -> str:
    """How the app writes this instant on a page in ``lang`` (Warsaw time, short)."""
    with app.test_request_context(), force_locale(lang):
        return visible(render_template_string("{{ when|local_dt('short') }}", when=when))


def test_incident(cast, world, clock, lang, text, live_server):
    t, seen = text, SEEN[lang]
    title = TITLES[lang]  # what readers of this run's language see
    other = {"pl": "en", "en": "pl"}[lang]
    world.user("barbara@example.test", "Barbara Kowalska", locale=lang)
    world.user("stefan@example.test", "Stefan Nowak", locale=lang)
    world.user("sylwia@example.test", "Sylwia Wiśniewska", staff=True)  # switches below
    order_id = world.order(buyer="barbara@example.test", seller="stefan@example.test")
    respond_by = world.run(_open_discussion, order_id)
    clock.shift(timedelta(hours=2))

    # --- the seller's deadline before the incident ----------------------------------------
    seller = cast("seller")
    seller.login("stefan@example.test")
    seller.follow_link(seller.nav(t("Seller inbox")), "inbox")
    seller.follow_link(seller.link("#1"), "thread")
    thread = seller.page.url.removeprefix(seller.server.url)
    due = seller.page.locator(".card", has=seller.page.get_by_role(
        "heading", name=t("Seller's answer due"))).locator("time")
    before_text = visible(due.inner_text())
    before = datetime.fromisoformat(due.get_attribute("datetime"))
    assert before == respond_by
    assert before_text == _shown(live_server.app, lang, respond_by)

    # --- staff declare the incident (their browser speaks the other language) --------------
    staff = cast("staff", browser_lang=other)
    staff.login("sylwia@example.test")  # the language switch brings back this run's language
    staff.follow_link(staff.nav(t("Incidents")), "incidents")
    staff.follow_link(staff.link(t("Declare an incident")), "declare-form")
    staff.field(t("Title in Polish (public)")).fill(TITLES["pl"])
    staff.field(t("Title in English (public)")).fill(TITLES["en"])
    staff.field(t("Impact in Polish (public)")).fill(
        "Odpowiedzi sprzedających w dyskusjach nie zapisują się. Pracujemy nad tym.")
    staff.field(t("Impact in English (public)")).fill(
        "Sellers' answers in discussions are not saved. We are working on it.")
    staff.page.get_by_label(t("Discussions"), exact=True).check()
    started = (clock.now() - timedelta(hours=1)).astimezone(WARSAW)
    staff.field(t("Started")).fill(started.strftime("%Y-%m-%dT%H:%M"))
    staff.submit(staff.button(t("Declare the incident")), "declared")
    expect(staff.flash()).to_have_text(
        t("The incident is declared and shown on the status page."))
    expect(staff.page.locator("main [data-state]")).to_have_text(seen["in_progress"])
    incident = staff.page.url.removeprefix(staff.server.url)

    # --- everyone sees it: the banner on every page, the public status page -----------------
    seller.goto(thread, "thread-banner")
    banner = seller.page.locator("[data-incident-banner]")
    expect(banner).to_contain_text(t("Platform incident in progress:"))
    expect(banner).to_contain_text(title)
    visitor = cast("visitor")
    visitor.goto("/", "home-banner")
    expect(visitor.page.locator("[data-incident-banner]")).to_contain_text(title)
    visitor.follow_link(visitor.page.locator("[data-incident-banner]").get_by_role(
        "link", name=t("Platform status")), "status-open")
    expect(visitor.page.locator("[data-status]")).to_contain_text(
        t("We are dealing with a platform incident."))
    in_progress = visitor.page.get_by_role("region", name=t("Incidents in progress"))
    expect(in_progress).to_contain_text(title)
    expect(in_progress).to_contain_text(t("Discussions"))
    expect(in_progress).not_to_contain_text("Sylwia")  # never who posted

    # --- staff post an update, then resolve it --------------------------------------------
    staff.field(t("Kind of update")).select_option(label=t("Confirmed"))
    # The update is written in Polish only: readers of English get it with a note.
    staff.field(t("Update in Polish (public)")).fill(
        "Potwierdzamy problem z zapisywaniem odpowiedzi.")
    staff.submit(staff.button(t("Post the update")), "update-posted")
    expect(staff.flash()).to_have_text(t("The update is on the status page."))
    staff.field(t("Resolution in Polish (public)")).fill(
        "Naprawione. Terminy, które biegły w czasie awarii, przedłużyliśmy o 24 godziny.")
    staff.field(t("Resolution in English (public)")).fill(
        "Fixed. Deadlines that ran during the outage are extended by 24 hours.")
    staff.submit(staff.button(t("Resolve the incident")), "resolved")
    expect(staff.flash()).to_have_text(t(
        "The incident is resolved. Deadlines that ran during it are extended by 24 hours."))
    expect(staff.page.locator("main [data-state]")).to_have_text(seen["resolved"])
    expect(staff.page.locator("[data-extensions]")).to_contain_text(t("Seller's answer"))

    # --- the seller's deadline is 24 hours later, and the page says why ---------------------
    seller.goto(thread, "thread-extended")
    expect(seller.page.locator("[data-incident-banner]")).to_have_count(0)
    expect(seller.page.locator("[data-deadline-extended]")).to_contain_text(title)
    after_text = visible(due.inner_text())
    after = datetime.fromisoformat(due.get_attribute("datetime"))
    assert after - before == timedelta(hours=24)
    assert after_text != before_text
    assert after_text == _shown(live_server.app, lang, respond_by + timedelta(hours=24))
    seller.follow_link(seller.nav(t("Seller inbox")), "inbox-extended")
    expect(seller.page.locator("main table")).to_contain_text(after_text)

    # --- the status page: all working again, the incident with its timeline ---------------
    visitor.goto("/status", "status-resolved")
    expect(visitor.page.locator("[data-status]")).to_have_text(t("All systems are working."))
    recent = visitor.page.get_by_role("region", name=t("Incidents of the last 90 days"))
    expect(recent).to_contain_text(title)
    expect(recent.locator("[data-update-kind]")).to_have_count(2)
    expect(recent).to_contain_text(t("Resolved"))
    fallback = recent.locator("[data-fallback-note]")
    expect(fallback).to_have_count(1 if lang == "en" else 0)
    expect(recent.locator('[lang="pl"]')).to_have_count(1 if lang == "en" else 0)
    expect(recent).not_to_contain_text(TITLES[other])
    assert incident.startswith("/staff/incidents/")
