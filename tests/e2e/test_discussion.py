"""Path 1, in a real browser: a discussion from the buyer's report to the staff verdict.

The buyer reports a damaged lamp with a photo; the seller answers and offers a partial
refund; the buyer declines; 25 hours later the buyer asks the platform for help; an
advisor takes the case, asks the seller for information, the seller answers, the advisor
decides "partly in the buyer's favour"; both parties download the decision PDF, and the
buyer checks it on the verify page with the fingerprint copied from the PDF.
"""

import re
from datetime import timedelta

import pytest

from arbiter.sweeper import run_sweep
from tests.e2e.conftest import expect, pdf_text, tiny_png

pytestmark = pytest.mark.e2e

SEEN = {
    "pl": {
        "reason": "Przedmiot uszkodzony",
        "awaiting": "czeka na sprzedającego",
        "in_progress": "w toku",
        "escalated": "u platformy",
        "decided": "rozstrzygnięta przez platformę",
        "offer": "Częściowy zwrot: 50,00 zł",
        "offer_entry": "Propozycja: Częściowy zwrot — 50,00 zł",
        "total": "214,00 zł",
        "verdict": "Częściowo na korzyść kupującego: 80,00 zł",
    },
    "en": {
        "reason": "Item damaged",
        "awaiting": "awaiting the seller",
        "in_progress": "in progress",
        "escalated": "with the platform",
        "decided": "decided by the platform",
        "offer": "Partial refund: PLN 50.00",
        "offer_entry": "Offer: Partial refund — PLN 50.00",
        "total": "PLN 214.00",
        "verdict": "Partly in the buyer's favour: PLN 80.00",
    },
}


def test_discussion(cast, world, clock, lang, text):
    t, seen = text, SEEN[lang]
    world.user("barbara@example.test", "Barbara Kowalska")  # picks her language below
    world.user("stefan@example.test", "Stefan Nowak", locale=lang)
    world.user("sylwia@example.test", "Sylwia Wiśniewska", staff=True, locale=lang)
    world.order(buyer="barbara@example.test", seller="stefan@example.test")

    # --- the buyer reports the problem with a photo ---------------------------------------
    buyer = cast("buyer")
    buyer.login("barbara@example.test", switch_language=True)
    page = buyer.page
    buyer.follow_link(buyer.nav(t("My purchases")), "purchases")
    buyer.follow_link(buyer.link("ORD-2026-0001"), "order")
    buyer.follow_link(buyer.link(t("Report a problem")), "report-form")
    expect(page.locator("main")).to_contain_text(seen["total"])
    buyer.field(t("What is the problem?")).select_option(label=seen["reason"])
    buyer.field(t("What do you expect?")).select_option(label=t("Partial refund"))
    buyer.field(t("Describe the problem")).fill(
        "Klosz lampy przyszedł pęknięty, zdjęcie w załączniku.")
    buyer.field(t("Evidence (optional)")).set_input_files(
        files=[{"name": "pekniety-klosz.png", "mimeType": "image/png", "buffer": tiny_png()}])
    buyer.submit(buyer.button(t("Report the problem")), "reported")
    expect(buyer.flash()).to_have_text(t("Your report was sent to the seller."))
    expect(page.locator("[data-state]")).to_have_text(seen["awaiting"])
    expect(page.locator("h1")).to_contain_text(seen["reason"])
    expect(buyer.link("pekniety-klosz.png")).to_be_visible()
    thread = page.url.removeprefix(buyer.server.url)
    discussion_id = int(thread.rsplit("/", 1)[1])
    # Not yet: the platform can be asked 24 h after the report.
    expect(buyer.button(t("Ask the platform for help"))).to_be_disabled()

    # --- the seller answers and offers a partial refund ------------------------------------
    seller = cast("seller")
    seller.login("stefan@example.test")
    expect(seller.nav(t("Notifications")).locator("[data-unread]")).to_contain_text("1")
    seller.follow_link(seller.nav(t("Seller inbox")), "inbox")
    seller.follow_link(seller.link(f"#{discussion_id}"), "thread")
    expect(seller.link("pekniety-klosz.png")).to_be_visible()
    expect(seller.page.locator("[data-expected-outcome]")).to_have_text(t("Partial refund"))
    seller.field(t("Your message")).fill("Przepraszam, klosz musiał pęknąć w transporcie.")
    seller.submit(seller.button(t("Send")), "answered")
    expect(seller.flash()).to_have_text(t("Message sent."))
    expect(seller.page.locator("[data-state]")).to_have_text(seen["in_progress"])
    seller.field(t("Offer")).select_option(label=t("Partial refund"))
    seller.field(t("Amount for a partial refund (PLN)")).fill("50.00")
    seller.submit(seller.button(t("Make the offer")), "offered")
    expect(seller.flash()).to_have_text(t("Your offer was sent to the buyer."))
    expect(seller.page.locator("main")).to_contain_text(seen["offer_entry"])

    # --- the buyer declines --------------------------------------------------------------
    buyer.goto(thread, "offer-received")
    offer = page.locator(".card", has=page.get_by_role("heading", name=t("The seller's offer")))
    expect(offer).to_contain_text(seen["offer"])
    buyer.submit(offer.get_by_role("button", name=t("Decline"), exact=True), "declined")
    expect(buyer.flash()).to_have_text(t("You declined the offer."))
    expect(page.get_by_text(t("The buyer declined the offer."))).to_be_visible()
    expect(buyer.button(t("Ask the platform for help"))).to_be_disabled()

    # --- 25 hours later the buyer asks the platform for help --------------------------------
    clock.shift(timedelta(hours=25))
    world.run(run_sweep)  # what the scheduler does every minute: tells the buyer
    buyer.goto(thread, "a-day-later")
    expect(buyer.nav(t("Notifications")).locator("[data-unread]")).to_be_visible()
    buyer.follow_link(buyer.nav(t("Notifications")), "notifications")
    escalation_available = t(
        "You can now ask the platform for help in discussion #%(id)s.", id=discussion_id)
    buyer.follow_link(buyer.link(escalation_available), "thread-from-notification")
    buyer.field(t("Why do you need the platform's help?")).fill(
        "Sprzedający proponuje tylko 50 zł za pęknięty klosz lampy.")
    buyer.submit(buyer.button(t("Ask the platform for help")), "escalated")
    expect(buyer.flash()).to_have_text(t("The platform will look at your case."))
    expect(page.locator("[data-state]")).to_have_text(seen["escalated"])

    # --- an advisor takes the case and asks the seller for information ------------------------
    staff = cast("staff")
    staff.login("sylwia@example.test")
    staff.follow_link(staff.nav(t("Escalations")), "queue")
    staff.follow_link(staff.link(f"#{discussion_id}"), "case")
    staff.submit(staff.button(t("Take the case")), "taken")
    expect(staff.flash()).to_have_text(t("The case is yours."))
    staff.page.get_by_label(t("the seller"), exact=True).check()
    staff.field(t("Question")).fill("Proszę przesłać zdjęcie paczki przed wysyłką.")
    staff.submit(staff.button(t("Request information (72 h)")), "information-requested")
    expect(staff.flash()).to_have_text(t("Information requested."))

    # --- the seller answers the request -------------------------------------------------------
    seller.goto(thread, "information-request")
    expect(seller.page.locator("main")).to_contain_text(t("Please answer in the thread."))
    seller.field(t("Your message")).fill("Paczka była zabezpieczona folią, zdjęcie w załączniku.")
    seller.field(t("Evidence (optional)")).set_input_files(
        files=[{"name": "paczka.png", "mimeType": "image/png",
                "buffer": tiny_png(b"\x33\x66\xcc")}])
    seller.submit(seller.button(t("Send")), "information-sent")
    expect(seller.page.locator("main")).not_to_contain_text(t("Please answer in the thread."))

    # --- the advisor decides: partly in the buyer's favour ---------------------------------------
    staff.goto(thread, "case-answered")
    expect(staff.link("paczka.png")).to_be_visible()
    staff.page.get_by_label(t("Partly in the buyer's favour"), exact=True).check()
    staff.field(t("Refund amount (PLN)")).fill("80.00")
    staff.field(t("Rationale")).fill(
        "Klosz pękł w transporcie; kupujący zatrzymuje lampę, sprzedający zwraca 80 zł.")
    staff.submit(staff.button(t("Issue the final verdict")), "confirm-verdict")
    # How much the seller pays and to whom, before anything changes (issue 20).
    expect(staff.page.locator("[data-confirm-verdict]")).to_contain_text("80")
    staff.submit(staff.page.locator("form:has(input[name='confirmed']) button"), "decided")
    expect(staff.flash()).to_have_text(t("The verdict was issued."))
    expect(staff.page.locator("[data-state]")).to_have_text(seen["decided"])
    verdict = staff.page.locator(".card", has=staff.page.get_by_role("heading", name=t("Verdict")))
    expect(verdict).to_contain_text(seen["verdict"])

    # --- both parties download the decision document ---------------------------------------------
    for person in (buyer, seller):
        person.goto(thread, "verdict")
        card = person.page.locator(
            ".card", has=person.page.get_by_role("heading", name=t("Verdict")))
        expect(card).to_contain_text(seen["verdict"])
        link = card.get_by_role("link").filter(has_text=f"({lang.upper()}, PDF)")
        number = re.search(r"ARB/\d{4}/\d{6}", link.inner_text()).group(0)
        document = person.download(link)
        assert document.startswith(b"%PDF-")
        content = pdf_text(document)
        assert number in content
        assert "80,00" in content if lang == "pl" else "80.00" in content

    # --- the buyer checks the document: the fingerprint as the PDF prints it (#22 item 2) --
    fingerprint = re.search(r"\(SHA-256[^)]*\):?\s*((?:[0-9a-fA-F]{16}\s*){4})", content)
    pasted = fingerprint.group(1)
    assert len(pasted) > 64  # four groups with their spaces or line breaks
    buyer.goto(f"/decisions/{number}/verify", "verify")
    buyer.field(t("or its SHA-256 (or the content fingerprint printed on it)")).fill(pasted)
    buyer.submit(buyer.button(t("Check")), "verified")
    expect(buyer.page.locator("[data-verified]")).to_have_attribute("data-verified", "valid")
    # --- and finds it in the public audit log, proven against a signed checkpoint (#24) ---
    from arbiter.transparency_log import sequence

    world.run(sequence)
    buyer.field(t("or its SHA-256 (or the content fingerprint printed on it)")).fill(pasted)
    buyer.submit(buyer.button(t("Check")), "verified-in-log")
    inclusion = buyer.page.locator("[data-log-inclusion]")
    expect(inclusion).to_have_attribute("data-log-inclusion", "proven")
    expect(inclusion).to_contain_text(t("In the public audit log"))
    buyer.page.get_by_role("link", name=t("How to check it yourself")).click()
    expect(buyer.page.locator("[data-checkpoint]")).to_contain_text("/audit-log")
    buyer.shot("transparency-log")
