"""Issue 20's money controls in a real browser, each person holding only their own role.

A buyer's claim on a 3,000.00 zł order (above the 2,000.00 zł second-approval threshold):
an advisor approves it through the confirmation page and it waits for a second approval,
which the advisor cannot give; a senior confirms it from the second-approvals queue.
Finance A reviews and exports the batch but cannot confirm it paid; finance B does. The
bank returns the transfer: finance B records it with the bank's reason, the buyer is
asked for a corrected account (the same one is refused), and the next export carries the
re-issued payout once.

Every step is photographed at 1280 px and at 375 px; at 375 px nothing may make the page
scroll sideways.
"""

import csv
import io
import re
from datetime import timedelta

import pytest

from accounts.roles import Role
from tests.e2e.conftest import PASSWORD, expect, tiny_pdf
from tests.e2e.test_case_journeys import follow, goto, refused, submit

pytestmark = pytest.mark.e2e

IBAN = "PL61 1090 1014 0000 0712 1981 2874"
NEW_IBAN = "PL27 1140 2004 0000 3002 0135 5387"
RETURN_REASON = "Rachunek odbiorcy zamknięty (kod AC04)."
SEEN = {
    "pl": {
        "total": "3 000,00 zł", "claim_type": "Przedmiot nie dotarł",
        "awaiting": "czeka na drugie zatwierdzenie", "approved": "uwzględniony",
        "paid": "wypłacono",
    },
    "en": {
        "total": "PLN 3,000.00", "claim_type": "Item not received",
        "awaiting": "awaiting second approval", "approved": "approved",
        "paid": "paid",
    },
}
BUYER, SELLER = "barbara@example.test", "stefan@example.test"
ADVISOR, SENIOR = "sylwia@example.test", "ryszard@example.test"
FINANCE_A, FINANCE_B = "franciszek@example.test", "fabiana@example.test"


def _person(world, email: str, name: str, lang: str, roles=()) -> None:
    """An account holding exactly ``roles`` (staff set up their authenticator app)."""
    from accounts import services as accounts
    from arbiter.extensions import db
    from tests.factories import enrol

    with world.app.app_context():
        user = accounts.create_user(email, name, PASSWORD, roles=tuple(roles))
        user.locale = lang
        if roles:
            enrol(user)
        db.session.commit()
        db.session.remove()


def _open_discussion(order_id: int) -> None:
    from arbiter.extensions import db
    from disputes import services
    from disputes.states import ExpectedOutcome, Reason
    from orders.models import Order

    order = db.session.get(Order, order_id)
    services.open_discussion(
        order, order.buyer, reason=Reason.NOT_RECEIVED,
        expected_outcome=ExpectedOutcome.REFUND,
        description="Rower nie dotarł, przesyłka stoi od tygodnia.")


def _csv_rows(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def test_money_controls(cast, world, clock, lang, text):
    t, seen = text, SEEN[lang]
    _person(world, BUYER, "Barbara Kowalska", lang)
    _person(world, SELLER, "Stefan Nowak", lang)
    _person(world, ADVISOR, "Sylwia Wiśniewska", lang, [Role.ADVISOR])
    _person(world, SENIOR, "Ryszard Mazur", lang, [Role.SENIOR])
    _person(world, FINANCE_A, "Franciszek Zieliński", lang, [Role.FINANCE])
    _person(world, FINANCE_B, "Fabiana Lis", lang, [Role.FINANCE])
    order_id = world.order(buyer=BUYER, seller=SELLER, item_title="Rower szosowy Aero",
                           item_price=298_500, shipping_cost=1_500)  # 3,000.00 zł
    world.run(_open_discussion, order_id)
    clock.shift(timedelta(hours=25))  # the seller stayed silent for more than 24 h

    # --- 1. the buyer files the claim ---------------------------------------------------------
    buyer = cast("buyer")
    buyer.login(BUYER)
    goto(buyer, f"/orders/{order_id}/claim", "claim-form")
    buyer.field(t("What happened?")).select_option(label=seen["claim_type"])
    buyer.field(t("Describe what happened")).fill("Rower nie dotarł; przewoźnik go zgubił.")
    buyer.field(t("Police report reference number")).fill("RSD-3000/26")
    buyer.field(t("Police acknowledgement")).set_input_files(files=[{
        "name": "policja.pdf", "mimeType": "application/pdf",
        "buffer": tiny_pdf("Potwierdzenie RSD-3000/26")}])
    buyer.field(t("Account for the payout (IBAN)")).fill(IBAN)
    submit(buyer, buyer.button(t("File the claim")), "filed")
    expect(buyer.page.locator("[data-max-total]")).to_have_text(seen["total"])
    claim = buyer.page.url.removeprefix(buyer.server.url)
    claim_id = int(claim.rsplit("/", 1)[1])

    # --- 2. the advisor: signals panel, approval, confirmation page ---------------------------
    advisor = cast("advisor")
    advisor.login(ADVISOR)
    goto(advisor, claim, "claim")
    submit(advisor, advisor.button(t("Take the claim")), "taken")
    expect(advisor.flash()).to_have_text(t("The claim is yours to review."))
    panel = advisor.page.locator("[data-signals-panel]")
    expect(panel).to_be_visible()
    expect(panel).to_contain_text("Barbara Kowalska")
    advisor.page.get_by_label(t("Approve: pay the claim's maximum"), exact=True).check()
    submit(advisor, advisor.button(t("Issue the decision")), "confirm-approval")
    confirmation = advisor.page.locator("[data-confirm-approval]")
    expect(confirmation).to_contain_text(seen["total"])
    expect(confirmation).to_contain_text("Barbara Kowalska")
    expect(confirmation.locator("[data-needs-second-approval]")).to_be_visible()
    expect(advisor.page.locator("[data-state]")).to_have_count(0)  # nothing decided yet
    submit(advisor, advisor.page.locator("form:has(input[name='confirmed']) button"),
           "first-approval")
    expect(advisor.flash()).to_contain_text(seen["total"])
    expect(advisor.page.locator("[data-state]")).to_have_text(seen["awaiting"])
    expect(advisor.page.locator("[data-awaiting-second-approval]")).to_be_visible()
    expect(advisor.page.locator("[data-awaiting-second-approval]").get_by_role(
        "link", name=t("Confirm or send back"))).to_have_count(0)

    # --- 3. the advisor cannot confirm; a senior does --------------------------------------------
    goto(advisor, f"/claims/{claim_id}/second-approval", "second-approval-refused")
    refused(advisor, 403)
    expect(advisor.page.get_by_role("button", name=re.compile(
        re.escape(seen["total"])))).to_have_count(0)
    goto(advisor, "/staff/claims/second-approvals", "second-approvals-refused")
    refused(advisor, 403)

    senior = cast("senior")
    senior.login(SENIOR)
    goto(senior, "/staff/claims/second-approvals", "second-approvals")
    row = senior.page.locator(f"[data-second-approvals] tr[data-claim-id='{claim_id}']")
    expect(row).to_contain_text(seen["total"])
    expect(row).to_contain_text("Barbara Kowalska")
    expect(row).to_contain_text("Sylwia Wiśniewska")
    follow(senior, row.get_by_role("link", name=t("Review")), "second-approval")
    review = senior.page.locator("[data-second-approval]")
    expect(review).to_contain_text(seen["total"])
    expect(review).to_contain_text("Barbara Kowalska")
    expect(review).to_contain_text(IBAN)
    expect(review).to_contain_text("Sylwia Wiśniewska")
    submit(senior, senior.button(t("Confirm: pay %(amount)s to %(name)s",
                                   amount=seen["total"], name="Barbara Kowalska")),
           "second-approved")
    expect(senior.flash()).to_have_text(t(
        "The approval is confirmed: %(amount)s will be paid to %(name)s.",
        amount=seen["total"], name="Barbara Kowalska"))
    expect(senior.page.locator("[data-state]")).to_have_text(seen["approved"])
    goto(senior, "/staff/claims/second-approvals", "second-approvals-empty")
    expect(senior.page.locator("main")).to_contain_text(
        t("No approval is waiting for a second approval."))

    # --- 4. finance A exports, finance B confirms it paid ----------------------------------------
    finance_a = cast("finance-a")
    finance_a.login(FINANCE_A)
    follow(finance_a, finance_a.nav(t("Payouts")), "payouts")
    follow(finance_a, finance_a.page.locator("[data-export-review]"), "export-confirm")
    summary = finance_a.page.locator("[data-export-summary]")
    expect(summary).to_contain_text(seen["total"])
    expect(summary).to_contain_text(t.n(
        "You are about to hand %(num)d payout of %(total)s in total to the bank transfer "
        "batch. Once exported, it is never exported again.",
        "You are about to hand %(num)d payouts of %(total)s in total to the bank transfer "
        "batch. Once exported, they are never exported again.", 1, total=seen["total"]))
    expect(finance_a.page.locator("main table")).to_contain_text("Barbara Kowalska")
    exported = _csv_rows(finance_a.download(finance_a.page.get_by_role(
        "button", name=re.compile(re.escape(seen["total"])))))
    assert [(r["claim_id"], r["beneficiary_name"], r["account"], r["amount"])
            for r in exported] == [
        (str(claim_id), "Barbara Kowalska", IBAN.replace(" ", ""), "3000.00")]
    goto(finance_a, "/staff/payouts", "exported")
    expect(finance_a.flash()).to_have_text(t.n(
        "Batch #%(id)s exported: %(num)d payout, %(total)s.",
        "Batch #%(id)s exported: %(num)d payouts, %(total)s.", 1, id=1, total=seen["total"]))
    follow(finance_a, finance_a.page.locator("[data-batch='1']").get_by_role(
        "link", name=t("Review and confirm as paid")), "batch-own")
    expect(finance_a.page.locator("[data-exporter-note]")).to_be_visible()
    expect(finance_a.page.locator("[data-confirm-paid]")).to_have_count(0)
    expect(finance_a.page.get_by_role("button", name=re.compile(
        re.escape(seen["total"])))).to_have_count(0)

    finance_b = cast("finance-b")
    finance_b.login(FINANCE_B)
    goto(finance_b, "/staff/payouts/batches/1", "batch")
    expect(finance_b.page.locator("main table")).to_contain_text("Barbara Kowalska")
    submit(finance_b, finance_b.page.locator("[data-confirm-paid]").get_by_role("button"),
           "batch-paid")
    expect(finance_b.flash()).to_have_text(t("Batch #%(id)s is marked as paid.", id=1))
    expect(finance_b.page.locator("[data-batch-paid]")).to_contain_text("Fabiana Lis")

    goto(buyer, claim, "claim-paid")
    expect(buyer.page.locator("[data-state]")).to_have_text(seen["paid"])

    # --- 5. the bank returns it; the buyer corrects the account; re-issued once --------------
    goto(finance_b, "/staff/payouts/batches/1", "batch-before-return")
    returned = finance_b.page.locator("tr[data-payout]").filter(has_text="Barbara Kowalska")
    returned.locator("summary").click()
    returned.get_by_label(t("The bank's reason")).fill(RETURN_REASON)
    submit(finance_b, returned.get_by_role("button", name=t("Record the return")), "returned")
    expect(finance_b.flash()).to_contain_text(
        t("Payout #%(id)s is recorded as returned by the bank; the buyer was asked for a "
          "corrected account.", id=1))
    expect(finance_b.page.locator("tr[data-payout]")).to_contain_text(RETURN_REASON)

    goto(buyer, claim, "claim-returned")
    alert = buyer.page.locator("[data-account-needed]")
    expect(alert).to_contain_text(t(
        "The bank returned the transfer. Give a corrected bank account and we will send the "
        "payout again."))
    follow(buyer, alert.get_by_role("link", name=t("Give a corrected account")),
           "payout-account")
    expect(buyer.page.locator("[data-returned]")).to_contain_text(RETURN_REASON)
    expect(buyer.page.locator("[data-returned]")).to_contain_text(seen["total"])
    account = buyer.page.locator("main form input[name=payout_account]")
    account.fill(IBAN)
    submit(buyer, buyer.page.locator("main form").get_by_role("button"), "same-account")
    refused(buyer, 422)
    expect(buyer.page.locator("main .invalid-feedback")).to_be_visible()
    expect(buyer.page.locator("[data-returned]")).to_be_visible()  # still waiting
    buyer.page.locator("main form input[name=payout_account]").fill(NEW_IBAN)
    submit(buyer, buyer.page.locator("main form").get_by_role("button"), "account-corrected")
    expect(buyer.flash()).to_have_text(t(
        "Thank you: the payout will be sent to the corrected account with the next transfer "
        "batch."))
    expect(buyer.page.locator("[data-account-needed]")).to_have_count(0)
    expect(buyer.page.locator("[data-timeline]")).to_contain_text(
        t("The buyer gave a corrected bank account"))

    goto(finance_a, "/staff/payouts", "payouts-reissue")
    follow(finance_a, finance_a.page.locator("[data-export-review]"), "reissue-confirm")
    expect(finance_a.page.locator("[data-export-summary]")).to_contain_text(seen["total"])
    rows = finance_a.page.locator("main table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text(NEW_IBAN)
    reissued = _csv_rows(finance_a.download(finance_a.page.get_by_role(
        "button", name=re.compile(re.escape(seen["total"])))))
    assert [(r["claim_id"], r["beneficiary_name"], r["account"], r["amount"])
            for r in reissued] == [
        (str(claim_id), "Barbara Kowalska", NEW_IBAN.replace(" ", ""), "3000.00")]
    goto(finance_a, "/staff/payouts", "reissue-exported")
    expect(finance_a.flash()).to_have_text(t.n(
        "Batch #%(id)s exported: %(num)d payout, %(total)s.",
        "Batch #%(id)s exported: %(num)d payouts, %(total)s.", 1, id=2, total=seen["total"]))
    expect(finance_a.page.locator("main")).to_contain_text(t("No payouts are waiting."))
    expect(finance_a.page.locator("[data-export-review]")).to_have_count(0)
    # Once: nothing is left to export, and the confirmation page says so.
    goto(finance_a, "/staff/payouts/export", "nothing-to-export")
    expect(finance_a.page.locator("main")).to_contain_text(
        t("There are no pending payouts to export."))
