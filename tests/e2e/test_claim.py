"""Path 2, in a real browser: a protection claim from filing to the payouts CSV.

The parcel never arrived; the seller did not help within 24 hours. The buyer files a
"not received" claim with the police acknowledgement; an advisor takes it and asks for
the proof of payment; the buyer uploads it; the advisor approves; finance's CSV of the
payout is exported and downloaded.
"""

import csv
import io
import re
from datetime import timedelta

import pytest

from disputes import services as discussions
from disputes.states import ExpectedOutcome, Reason
from orders.models import Order
from tests.e2e.conftest import expect, pdf_text, tiny_pdf, tiny_png

pytestmark = pytest.mark.e2e

IBAN = "PL61 1090 1014 0000 0712 1981 2874"
SEEN = {
    "pl": {
        "max": "214,00 zł",
        "claim_type": "Przedmiot nie dotarł",
        "submitted": "złożony",
        "under_review": "w rozpatrzeniu",
        "awaiting_documents": "czeka na dokumenty",
        "approved": "uwzględniony",
        "compensation": "Rekompensata: 214,00 zł",
        "pending_payout": "214,00 zł — czeka na najbliższe zestawienie wypłat",
    },
    "en": {
        "max": "PLN 214.00",
        "claim_type": "Item not received",
        "submitted": "submitted",
        "under_review": "under review",
        "awaiting_documents": "awaiting documents",
        "approved": "approved",
        "compensation": "Compensation: PLN 214.00",
        "pending_payout": "PLN 214.00 — waiting for the next payout batch",
    },
}


def _open_discussion(order_id: int) -> None:
    """The buyer reported the missing parcel to the seller a day ago (path 1 shows how)."""
    from arbiter.extensions import db

    order = db.session.get(Order, order_id)
    discussions.open_discussion(
        order, order.buyer, reason=Reason.NOT_RECEIVED,
        expected_outcome=ExpectedOutcome.REFUND,
        description="Paczka nie dotarła, status przesyłki od tygodnia bez zmian.")


def test_claim(cast, world, clock, lang, text):
    t, seen = text, SEEN[lang]
    world.user("barbara@example.test", "Barbara Kowalska")  # picks her language below
    world.user("stefan@example.test", "Stefan Nowak", locale=lang)
    world.user("sylwia@example.test", "Sylwia Wiśniewska", staff=True, locale=lang)
    order_id = world.order(buyer="barbara@example.test", seller="stefan@example.test")
    world.run(_open_discussion, order_id)
    clock.shift(timedelta(hours=25))  # the seller stayed silent for more than 24 h

    # --- the buyer files the claim with the police acknowledgement ----------------------------
    buyer = cast("buyer")
    buyer.login("barbara@example.test", switch_language=True)
    page = buyer.page
    buyer.follow_link(buyer.nav(t("My purchases")), "purchases")
    buyer.follow_link(buyer.link("ORD-2026-0001"), "order")
    buyer.follow_link(buyer.link(t("File a protection claim")), "claim-form")
    quote = page.locator("[data-quote] tr[data-claim-type=not_received]")
    expect(quote).to_contain_text(seen["claim_type"])
    expect(quote.locator("[data-total]")).to_have_text(seen["max"])
    buyer.field(t("What happened?")).select_option(label=seen["claim_type"])
    buyer.field(t("Describe what happened")).fill(
        "Paczka nie dotarła; przewoźnik nie wie, gdzie jest. Zgłosiłam to na policji.")
    buyer.field(t("Police report reference number")).fill("RSD-1234/26")
    buyer.field(t("Police acknowledgement")).set_input_files(files=[{
        "name": "potwierdzenie-policja.pdf", "mimeType": "application/pdf",
        "buffer": tiny_pdf("Potwierdzenie przyjecia zawiadomienia RSD-1234/26")}])
    buyer.field(t("Account for the payout (IBAN)")).fill(IBAN)
    buyer.submit(buyer.button(t("File the claim")), "filed")
    expect(buyer.flash()).to_contain_text(t(
        "Your claim was filed. We will let you know when an advisor starts the review."))
    expect(page.locator("[data-state]")).to_have_text(seen["submitted"])
    expect(page.locator("[data-max-total]")).to_have_text(seen["max"])
    expect(buyer.link("potwierdzenie-policja.pdf")).to_be_visible()
    expect(page.locator("main")).to_contain_text("RSD-1234/26")
    claim = page.url.removeprefix(buyer.server.url)
    claim_id = int(claim.rsplit("/", 1)[1])

    # --- an advisor takes it and asks for a document -----------------------------------------
    staff = cast("staff")
    staff.login("sylwia@example.test")
    # Exactly "Claims": the staff queue, not the seller's "Claims on my sales" next to it.
    staff.follow_link(staff.page.get_by_role("navigation").get_by_role(
        "link", name=t("Claims"), exact=True), "queue")
    staff.follow_link(staff.link(f"#{claim_id}"), "claim")
    expect(staff.page.locator("[data-max-total]")).to_have_text(seen["max"])
    staff.submit(staff.button(t("Take the claim")), "taken")
    expect(staff.flash()).to_have_text(t("The claim is yours to review."))
    expect(staff.page.locator("[data-state]")).to_have_text(seen["under_review"])
    staff.field(t("Which documents do you need?")).fill(
        "Proszę o potwierdzenie zapłaty za zamówienie (wyciąg z konta).")
    staff.submit(staff.button(t("Request documents (7 days)")), "documents-requested")
    expect(staff.flash()).to_have_text(t("Documents requested. The buyer has 7 days."))
    expect(staff.page.locator("[data-state]")).to_have_text(seen["awaiting_documents"])

    # --- the buyer uploads it ---------------------------------------------------------------
    buyer.follow_link(buyer.nav(t("My claims")), "my-claims")
    buyer.follow_link(buyer.link(f"#{claim_id}"), "claim-documents-requested")
    request = page.locator("[data-document-request]")
    expect(request).to_contain_text("Proszę o potwierdzenie zapłaty")
    buyer.field(t("Add documents")).set_input_files(files=[
        {"name": "wyciag.png", "mimeType": "image/png", "buffer": tiny_png()}])
    buyer.submit(buyer.button(t("Upload")), "documents-sent")
    expect(buyer.flash()).to_have_text(t("Your documents were added to the claim."))
    expect(page.locator("[data-state]")).to_have_text(seen["under_review"])
    expect(buyer.link("wyciag.png")).to_be_visible()

    # --- the advisor approves ---------------------------------------------------------------
    staff.goto(claim, "claim-documents-arrived")
    expect(staff.link("wyciag.png")).to_be_visible()
    staff.page.get_by_label(t("Approve: pay the claim's maximum"), exact=True).check()
    staff.submit(staff.button(t("Issue the decision")), "confirm-approval")
    # What it pays and to whom, before anything changes (issue 20).
    expect(staff.page.locator("[data-confirm-approval]")).to_contain_text("Barbara Kowalska")
    staff.submit(staff.page.locator("form:has(input[name='confirmed']) button"),
                 "approved")
    expect(staff.flash()).to_have_text(t("The decision was issued."))
    expect(staff.page.locator("[data-state]")).to_have_text(seen["approved"])
    decision = staff.page.locator("[data-decision]")
    expect(decision).to_contain_text(seen["compensation"])
    number = re.search(r"POK/\d{4}/\d{6}", decision.inner_text()).group(0)

    # --- the buyer sees the decision and downloads it ------------------------------------------
    buyer.goto(claim, "claim-approved")
    expect(page.locator("[data-decision]")).to_contain_text(seen["compensation"])
    expect(page.locator("[data-payout-state]")).to_have_text(seen["pending_payout"])
    document = buyer.download(page.locator("[data-decision]").get_by_role("link").filter(
        has_text=f"({lang.upper()}, PDF)"))
    assert document.startswith(b"%PDF-")
    assert number in pdf_text(document)

    # --- staff export the payouts: the CSV for the bank --------------------------------------
    staff.follow_link(staff.nav(t("Payouts")), "payouts")
    row = staff.page.locator("main table tbody tr").filter(has_text=f"#{claim_id}")
    expect(row).to_contain_text("Barbara Kowalska")
    expect(row).to_contain_text(seen["max"])
    # The export asks first: the total, the number of payouts and to whom.
    staff.follow_link(staff.page.get_by_role("link", name=re.compile(re.escape(seen["max"]))),
                      "payouts-confirm")
    expect(staff.page.locator("main table")).to_contain_text("Barbara Kowalska")
    export = staff.page.get_by_role("button", name=re.compile(re.escape(seen["max"])))
    exported = staff.download(export).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(exported, newline="")))
    assert [(r["claim_id"], r["beneficiary_name"], r["account"], r["amount"],
             r["currency"], r["title"], r["decision_number"]) for r in rows] == [
        (str(claim_id), "Barbara Kowalska", IBAN.replace(" ", ""), "214.00", "PLN",
         f"Arbiter {number} claim {claim_id}", number)]
    staff.goto("/staff/payouts", "payouts-exported")
    expect(staff.flash()).to_have_text(t.n("Batch #%(id)s exported: %(num)d payout, %(total)s.",
                                           "Batch #%(id)s exported: %(num)d payouts, %(total)s.",
                                           1, id=1, total=seen["max"]))
    expect(staff.page.locator("main")).to_contain_text(t("No payouts are waiting."))
    expect(staff.page.locator("[data-batch]")).to_contain_text(seen["max"])
