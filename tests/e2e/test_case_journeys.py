"""The acceptance walk of issue #18 in a real browser, as each person meets it.

(a) A partial refund kept: offered, accepted after the confirmation page, marked done with
    proof, confirmed by the buyer; the case file (buyer, seller, staff) shows it.
(b) A promise not kept: reported after the due date, the discussion reopens, the buyer
    escalates at once, the advisor's verdict is bounded by what remains and its amount is
    owed on the case file.
(c) A claim netted by an earlier refund: the form's maximum, the seller's side (no IBAN,
    no police documents) answered within the window, the decision only after it, the
    discussion "settled by the platform", finance's export and confirmation, the recovery
    on the case file and in the recoveries CSV.
(d) What a user is refused, in their language: a new discussion on a fully compensated
    order, a claim while a promise runs.

Every step is photographed at 1280 px and at 375 px (a phone): at 375 px nothing may make
the page scroll sideways.
"""

import csv
import io
import re
from datetime import timedelta

import pytest
from flask_babel import force_locale, format_datetime

from tests.e2e.conftest import expect, tiny_pdf, visible

pytestmark = pytest.mark.e2e

IBAN = "PL61 1090 1014 0000 0712 1981 2874"
POLICE = "RSD-7781/26"
SEEN = {
    "pl": {
        "total": "214,00 zł", "partial": "50,00 zł", "remaining": "164,00 zł",
        "verdict": "120,00 zł", "too_much": "250,00 zł",
        "awaiting": "czeka na realizację", "resolved": "rozwiązana",
        "in_progress": "w toku", "escalated": "u platformy",
        "decided": "rozstrzygnięta przez platformę",
        "settled": "rozliczona przez platformę",
        "confirmed": "potwierdzone", "failed": "niezrealizowane",
        "claim_type": "Przedmiot nie dotarł", "approved": "uwzględniony",
        "partial_refund": "Częściowy zwrot",
    },
    "en": {
        "total": "PLN 214.00", "partial": "PLN 50.00", "remaining": "PLN 164.00",
        "verdict": "PLN 120.00", "too_much": "PLN 250.00",
        "awaiting": "awaiting fulfilment", "resolved": "resolved",
        "in_progress": "in progress", "escalated": "with the platform",
        "decided": "decided by the platform",
        "settled": "settled by the platform",
        "confirmed": "confirmed", "failed": "not fulfilled",
        "claim_type": "Item not received", "approved": "approved",
        "partial_refund": "Partial refund",
    },
}
BUYER, SELLER = "barbara@example.test", "stefan@example.test"
ADVISOR, FINANCE, FINANCE_2 = ("sylwia@example.test", "franciszek@example.test",
                               "fabiana@example.test")


# --- set-up the marketplace and earlier visits would have produced ----------------------------


def _open_discussion(order_id: int, reason: str = "damaged") -> int:
    from arbiter.extensions import db
    from disputes import services
    from disputes.states import ExpectedOutcome, Reason
    from orders.models import Order

    order = db.session.get(Order, order_id)
    description = {"damaged": "Klosz lampy przyszedł pęknięty.",
                   "not_received": "Druga paczka nie dotarła, przesyłka stoi od tygodnia."}
    discussion = services.open_discussion(
        order, order.buyer, reason=Reason(reason), expected_outcome=ExpectedOutcome.REFUND,
        description=description[reason])
    db.session.flush()
    return discussion.id


def _seller_window(hours: int) -> None:
    """The seeded versions give sellers ``hours`` to answer a claim (this test's database)."""
    from sqlalchemy import update

    from arbiter.extensions import db
    from claims.models import PolicyVersion

    db.session.execute(update(PolicyVersion).values(seller_answer_hours=hours))


def _agreed_refund(order_id: int, amount: int | None, *, confirm: bool) -> int:
    """An earlier discussion: the seller offered a (partial) refund, the buyer accepted it
    and (with ``confirm``) confirmed it arrived."""
    from arbiter.extensions import db
    from disputes import services
    from disputes.models import Discussion
    from disputes.states import OfferKind
    from settlements import services as ledger

    discussion_id = _open_discussion(order_id)
    discussion = db.session.get(Discussion, discussion_id)
    kind = OfferKind.PARTIAL_REFUND if amount else OfferKind.REFUND
    offer = services.make_offer(discussion, discussion.seller, kind=kind, amount=amount)
    db.session.flush()
    promise = services.accept_offer(discussion, discussion.buyer, offer.id)
    db.session.flush()
    if confirm:
        ledger.confirm(promise.id, discussion.buyer)
    return discussion_id


def _people(world, lang: str) -> None:
    world.user(BUYER, "Barbara Kowalska", locale=lang)
    world.user(SELLER, "Stefan Nowak", locale=lang)
    world.user(ADVISOR, "Sylwia Wiśniewska", staff=True, locale=lang)
    world.user(FINANCE, "Franciszek Zieliński", staff=True, locale=lang)
    world.user(FINANCE_2, "Fabiana Lis", staff=True, locale=lang)


def _day(app, when, lang: str) -> str:
    """The date part of a deadline as the page shows it ("9.03.2026" / "9 Mar 2026")."""
    with app.test_request_context(), force_locale(lang):
        return visible(format_datetime(when, "short")).rsplit(",", 1)[0]


# --- looking at pages at both widths ---------------------------------------------------------


OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const wide = [...document.querySelectorAll('main *')].filter(e => {
    const r = e.getBoundingClientRect();
    return r.width > 0 && r.right > width + 1 && !e.closest('.table-responsive');
  }).map(e => e.tagName.toLowerCase()
           + (e.className ? '.' + String(e.className).split(' ')[0] : ''));
  return {scroll: document.documentElement.scrollWidth - width, wide: wide.slice(0, 5)};
}"""


def both(actor, name: str) -> None:
    """Photograph the page at 1280 px and at 375 px; at 375 px nothing sticks out."""
    actor.shot(name)
    actor.page.set_viewport_size({"width": 375, "height": 800})
    try:
        actor.shot(f"{name}-375")
        found = actor.page.evaluate(OVERFLOW)
        if found["scroll"] > 0 or found["wide"]:
            actor.problems.append(f"{actor.role}-{name}: wider than a phone at 375 px: "
                                  f"{found}")
    finally:
        actor.page.set_viewport_size({"width": 1280, "height": 900})


def goto(actor, path: str, name: str) -> None:
    actor.page.goto(actor.server.url + path)
    both(actor, name)


def submit(actor, button, name: str) -> None:
    with actor.page.expect_navigation():
        button.click()
    both(actor, name)


def follow(actor, link, name: str) -> None:
    with actor.page.expect_navigation():
        link.click()
    both(actor, name)


def ask(actor, trigger, name: str) -> None:
    """Click what opens a confirmation dialog; photograph it at both widths."""
    trigger.click()
    expect(actor.page.locator("dialog[open]")).to_be_visible()
    both(actor, name)


def refused(actor, status: int) -> None:
    """The page just shown answered ``status`` on purpose (a form error, a refusal): the
    harness would otherwise count it as a problem."""
    actor.problems[:] = [p for p in actor.problems
                         if f"HTTP {status} for " not in p and f"status of {status}" not in p]


# --- (a) a partial refund kept -------------------------------------------------------------------


def test_partial_refund_kept(cast, world, clock, lang, text):
    t, seen = text, SEEN[lang]
    _people(world, lang)
    order_id = world.order(buyer=BUYER, seller=SELLER)
    discussion_id = world.run(_open_discussion, order_id)
    thread, case = f"/discussions/{discussion_id}", f"/orders/{order_id}/case"

    seller = cast("seller")
    seller.login(SELLER)
    goto(seller, thread, "a-thread")
    seller.field(t("Offer")).select_option(label=t("Partial refund"))
    seller.field(t("Amount for a partial refund (PLN)")).fill("50.00")
    submit(seller, seller.button(t("Make the offer")), "a-offered")
    expect(seller.flash()).to_have_text(t("Your offer was sent to the buyer."))

    buyer = cast("buyer")
    buyer.login(BUYER)
    goto(buyer, thread, "a-offer-received")
    expect(buyer.page.locator("main")).to_contain_text(seen["partial"])
    ask(buyer, buyer.link(t("Accept")), "a-accept-confirmation")
    due = _day(world.app, clock.now() + timedelta(days=7), lang)
    expect(buyer.page.locator("[data-promise]")).to_contain_text(seen["partial"])
    expect(buyer.page.locator("[data-promise]")).to_contain_text(due)
    submit(buyer, buyer.button(t("Yes, accept the offer")), "a-accepted")
    expect(buyer.page.locator("[data-state]")).to_have_text(seen["awaiting"])

    # The case file says the seller owes 50 zł by the due date, for every party.
    goto(buyer, case, "a-case-owed")
    expect(buyer.page.locator("[data-case-committed]")).to_have_text(seen["partial"])
    expect(buyer.page.locator("[data-case-remaining]")).to_have_text(seen["remaining"])
    expect(buyer.page.locator("[data-case-owed]")).to_contain_text(seen["partial"])
    expect(buyer.page.locator("[data-case-owed]")).to_contain_text(due)

    goto(seller, thread, "a-awaiting-fulfilment")
    expect(seller.page.get_by_role("heading", name=t("Make an offer"))).to_have_count(0)
    seller.field(t("Transfer confirmation or tracking number")).fill("PRZELEW 2026/0007")
    submit(seller, seller.button(t("Mark as done")), "a-marked-done")
    expect(seller.page.locator("[data-proof]")).to_have_text("PRZELEW 2026/0007")

    goto(buyer, thread, "a-proof-shown")
    expect(buyer.page.locator("[data-proof]")).to_have_text("PRZELEW 2026/0007")
    submit(buyer, buyer.button(t("I received it")), "a-confirmed")
    expect(buyer.page.locator("[data-state]")).to_have_text(seen["resolved"])
    expect(buyer.page.locator("[data-settlement-status]")).to_have_text(seen["confirmed"])

    # The case file, as each party sees it: confirmed, nothing owed.
    for actor in (buyer, seller):
        goto(actor, case, "a-case-resolved")
        expect(actor.page.locator("[data-case-owed]")).to_have_text(
            t("Nothing is owed on this order."))
        expect(actor.page.locator("[data-case-committed]")).to_have_text(seen["partial"])
        timeline = actor.page.locator("[data-case-timeline]")
        expect(timeline.locator("[data-event='settlement.confirmed']")).to_contain_text(
            seen["partial"])
        expect(timeline.locator("[data-event='discussion.resolved']")).to_have_count(1)
        expect(timeline).not_to_contain_text(IBAN)

    staff = cast("staff")
    staff.login(ADVISOR)
    goto(staff, case, "a-case-staff")
    expect(staff.page.locator("[data-viewer]")).to_have_text(
        t("Staff view: everything in the case."))
    expect(staff.page.locator("[data-case-committed]")).to_have_text(seen["partial"])


# --- (b) a promise not kept -------------------------------------------------------------------


def test_promise_broken(cast, world, clock, lang, text):
    t, seen = text, SEEN[lang]
    _people(world, lang)
    order_id = world.order(buyer=BUYER, seller=SELLER)
    discussion_id = world.run(_open_discussion, order_id)
    thread, case = f"/discussions/{discussion_id}", f"/orders/{order_id}/case"

    seller = cast("seller")
    seller.login(SELLER)
    goto(seller, thread, "b-thread")
    seller.field(t("Offer")).select_option(label=t("Partial refund"))
    seller.field(t("Amount for a partial refund (PLN)")).fill("50.00")
    submit(seller, seller.button(t("Make the offer")), "b-offered")

    buyer = cast("buyer")
    buyer.login(BUYER)
    goto(buyer, thread, "b-offer-received")
    ask(buyer, buyer.link(t("Accept")), "b-accept-confirmation")
    submit(buyer, buyer.button(t("Yes, accept the offer")), "b-accepted")

    # Eight days later the money has not arrived; the sweeper asks the buyer, who reads
    # the due date as people write it (not "2026-03-09T10:00:00+00:00").
    due_promise = _day(world.app, clock.now() + timedelta(days=7), lang)
    clock.shift(timedelta(days=8))
    from arbiter.sweeper import run_sweep
    world.run(run_sweep)
    follow(buyer, buyer.nav(t("Notifications")), "b-notifications")
    notifications = buyer.page.locator("main")
    expect(notifications).to_contain_text(due_promise)
    expect(notifications).not_to_contain_text(re.compile(r"\d{4}-\d\d-\d\dT"))
    goto(buyer, thread, "b-overdue")
    buyer.field(t("What happened? (optional)")).fill("Przelew nie dotarł.")
    submit(buyer, buyer.button(t("It did not arrive")), "b-reported")
    expect(buyer.page.locator("[data-state]")).to_have_text(seen["in_progress"])
    expect(buyer.page.locator("[data-settlement-status]")).to_have_text(seen["failed"])
    buyer.field(t("Why do you need the platform's help?")).fill(
        "Sprzedający obiecał zwrot i go nie wysłał.")
    submit(buyer, buyer.button(t("Ask the platform for help")), "b-escalated")
    expect(buyer.page.locator("[data-state]")).to_have_text(seen["escalated"])

    # The advisor: the case summary beside the escalation, a verdict bounded by what remains.
    staff = cast("staff")
    staff.login(ADVISOR)
    follow(staff, staff.nav(t("Escalations")), "b-queue")
    goto(staff, thread, "b-escalation")
    summary = staff.page.locator("[data-case-summary]")
    expect(summary).to_be_visible()
    expect(summary.locator("[data-case-remaining]")).to_have_text(seen["total"])
    submit(staff, staff.button(t("Take the case")), "b-taken")
    expect(staff.page.locator("main")).to_contain_text(visible(t(
        "Buyer's favour: defaults to what the order may still refund, %(room)s. "
        "Partial: between 0.01 and %(room)s.", room=seen["total"])))
    staff.page.get_by_label(t("Partly in the buyer's favour"), exact=True).check()
    staff.field(t("Refund amount (PLN)")).fill("250.00")
    staff.field(t("Rationale")).fill(
        "Sprzedający nie zwrócił obiecanej kwoty; klosz był pęknięty, lampa działa.")
    submit(staff, staff.button(t("Issue the final verdict")), "b-too-much")
    refused(staff, 422)
    expect(staff.page.locator("main")).to_contain_text(seen["total"])
    staff.page.get_by_label(t("Partly in the buyer's favour"), exact=True).check()
    staff.field(t("Refund amount (PLN)")).fill("120.00")
    submit(staff, staff.button(t("Issue the final verdict")), "b-confirm-verdict")
    # How much the seller pays and to whom, before anything changes (issue 20).
    expect(staff.page.locator("[data-confirm-verdict]")).to_contain_text("120")
    submit(staff, staff.page.locator("form:has(input[name='confirmed']) button"), "b-decided")
    expect(staff.flash()).to_have_text(t("The verdict was issued."))

    due = _day(world.app, clock.now() + timedelta(days=14), lang)
    for actor in (buyer, seller, staff):
        goto(actor, case, "b-case-verdict-owed")
        owed = actor.page.locator("[data-case-owed]")
        expect(owed).to_contain_text(seen["verdict"])
        expect(owed).to_contain_text(due)
        expect(actor.page.locator("[data-case-committed]")).to_have_text(seen["verdict"])
        expect(actor.page.locator("[data-case-timeline] [data-event='settlement.failed']")
               ).to_have_count(1)
    goto(buyer, thread, "b-thread-decided")
    expect(buyer.page.locator("[data-state]")).to_have_text(seen["decided"])
    expect(buyer.page.get_by_role("heading", name=t("Payment ordered by the platform"))
           ).to_be_visible()


# --- (c) a claim netted by an earlier refund ---------------------------------------------


def test_claim_netted(cast, world, clock, lang, text):
    t, seen = text, SEEN[lang]
    _people(world, lang)
    world.run(_seller_window, 48)  # the real window, not the tests' 0
    order_id = world.order(buyer=BUYER, seller=SELLER)
    world.run(_agreed_refund, order_id, 5_000, confirm=True)  # 50 zł refunded already
    discussion_id = world.run(_open_discussion, order_id, "not_received")
    thread, case = f"/discussions/{discussion_id}", f"/orders/{order_id}/case"
    clock.shift(timedelta(hours=25))

    buyer = cast("buyer")
    buyer.login(BUYER)
    goto(buyer, f"/orders/{order_id}", "c-order")
    follow(buyer, buyer.link(t("File a protection claim")), "c-claim-form")
    quote = buyer.page.locator("[data-quote] tr[data-claim-type=not_received]")
    expect(quote.locator("[data-total]")).to_have_text(seen["remaining"])
    buyer.field(t("What happened?")).select_option(label=seen["claim_type"])
    buyer.field(t("Describe what happened")).fill("Druga paczka nie dotarła w ogóle.")
    buyer.field(t("Police report reference number")).fill(POLICE)
    buyer.field(t("Police acknowledgement")).set_input_files(files=[{
        "name": "policja.pdf", "mimeType": "application/pdf",
        "buffer": tiny_pdf(f"Potwierdzenie {POLICE}")}])
    buyer.field(t("Account for the payout (IBAN)")).fill(IBAN)
    submit(buyer, buyer.button(t("File the claim")), "c-filed")
    expect(buyer.page.locator("[data-max-total]")).to_have_text(seen["remaining"])
    claim = buyer.page.url.removeprefix(buyer.server.url)
    claim_id = int(claim.rsplit("/", 1)[1])

    # The advisor takes it, but cannot decide before the seller answered.
    staff = cast("staff")
    staff.login(ADVISOR)
    goto(staff, claim, "c-claim-staff")
    expect(staff.page.locator("[data-case-summary] [data-case-committed]")).to_have_text(
        seen["partial"])
    submit(staff, staff.button(t("Take the claim")), "c-taken")
    expect(staff.page.locator("[data-decision-opens]")).to_be_visible()
    expect(staff.button(t("Issue the decision"))).to_have_count(0)

    # The seller finds it on "Claims on my sales": no IBAN, no police number or documents.
    seller = cast("seller")
    seller.login(SELLER)
    follow(seller, seller.nav(t("Claims on my sales")), "c-on-my-sales")
    follow(seller, seller.link(f"#{claim_id}"), "c-claim-seller")
    main = seller.page.locator("main")
    for secret in (IBAN, IBAN.replace(" ", ""), POLICE, "policja.pdf"):
        expect(main).not_to_contain_text(secret)
    seller.field(t("Your answer to the claim")).fill(
        "Paczkę nadałem, numer przesyłki w załączniku; przewoźnik jej nie doręczył.")
    submit(seller, seller.button(t("Send the answer")), "c-answered")
    for secret in (IBAN, IBAN.replace(" ", ""), POLICE, "policja.pdf"):
        expect(seller.page.locator("main")).not_to_contain_text(secret)

    # Now the advisor decides: approve what remains.
    goto(staff, claim, "c-claim-answered")
    expect(staff.page.locator("[data-seller-answer]")).to_contain_text("Paczkę nadałem")
    staff.page.get_by_label(t("Approve: pay the claim's maximum"), exact=True).check()
    submit(staff, staff.button(t("Issue the decision")), "c-confirm-approval")
    # What it pays and to whom, before anything changes (issue 20).
    expect(staff.page.locator("[data-confirm-approval]")).to_contain_text(seen["remaining"])
    submit(staff, staff.page.locator("form:has(input[name='confirmed']) button"),
           "c-approved")
    expect(staff.page.locator("[data-state]")).to_have_text(seen["approved"])
    expect(staff.page.locator("[data-decision]")).to_contain_text(seen["remaining"])

    # The discussion ended: settled by the platform, no offer form, no deadline.
    for actor in (seller, buyer):
        goto(actor, thread, "c-thread-settled")
        expect(actor.page.locator("[data-state]")).to_have_text(seen["settled"])
        expect(actor.page.get_by_role("heading", name=t("Make an offer"))).to_have_count(0)
        expect(actor.page.get_by_role("heading", name=t("Seller's answer due"))
               ).to_have_count(0)

    # Finance: one exports, another confirms it paid.
    follow(staff, staff.nav(t("Payouts")), "c-payouts")
    follow(staff, staff.page.get_by_role("link", name=re.compile(re.escape(seen["remaining"]))),
           "c-payouts-confirm")  # the total, the count and to whom, before anything moves
    export = staff.page.get_by_role("button", name=re.compile(re.escape(seen["remaining"])))
    staff.download(export)
    goto(staff, "/staff/payouts", "c-exported")
    finance = cast("finance")
    finance.login(FINANCE_2)
    follow(finance, finance.nav(t("Payouts")), "c-payouts")
    follow(finance, finance.page.locator("[data-batch]").get_by_role(
        "link", name=t("Review and confirm as paid")), "c-batch")
    submit(finance, finance.page.locator("[data-confirm-paid]").get_by_role("button"), "c-paid")
    expect(finance.page.locator("[data-batch-paid]")).to_be_visible()

    # The recovery: on the case file and in the recoveries CSV.
    goto(finance, case, "c-case-recovery")
    expect(finance.page.locator("[data-case-timeline]")).to_contain_text(
        t("Recovery of the payout from the seller"))
    expect(finance.page.locator("[data-case-owed]")).to_contain_text(seen["remaining"])
    goto(finance, "/staff/payouts", "c-payouts-after")
    data = finance.download(finance.page.locator("[data-recoveries] a")).decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(data, newline="")))
    assert len(rows) == 1, rows
    assert "164.00" in rows[0].values(), rows[0]
    for actor in (buyer, seller):
        goto(actor, case, "c-case-party")
        expect(actor.page.locator("[data-case-committed]")).to_have_text(seen["total"])
    expect(seller.page.locator("main")).not_to_contain_text(POLICE)
    expect(seller.page.locator("main")).not_to_contain_text(IBAN)


# --- (d) refusals -------------------------------------------------------------------------------


def test_refusals(cast, world, clock, lang, text):
    t = text
    _people(world, lang)
    compensated = world.order(buyer=BUYER, seller=SELLER)
    world.run(_agreed_refund, compensated, None, confirm=True)  # fully refunded
    running = world.order(buyer=BUYER, seller=SELLER, external_id="ORD-2026-0002",
                          item_title="Krzesło Tulipan")
    world.run(_agreed_refund, running, 5_000, confirm=False)  # a promise runs
    clock.shift(timedelta(hours=25))
    due = _day(world.app, clock.now() - timedelta(hours=25) + timedelta(days=7), lang)

    buyer = cast("buyer")
    buyer.login(BUYER)
    fully = visible(t(
        "This order is already fully compensated (%(total)s): nothing more can be promised "
        "or paid to the buyer.", total=SEEN[lang]["total"]))
    # The order page says why instead of offering a button that leads nowhere, once.
    goto(buyer, f"/orders/{compensated}", "d-compensated-order")
    expect(buyer.link(t("Report a problem"))).to_have_count(0)
    expect(buyer.page.locator("[data-refusal=already_compensated]")).to_have_text(fully)
    expect(buyer.page.get_by_text(fully)).to_have_count(1)
    # Nothing left for a claim either: the quote's totals are netted to nothing.
    expect(buyer.page.locator("[data-order-quote] tr[data-claim-type=not_received] "
                              "[data-total]")).to_have_text(visible(
        SEEN[lang]["total"].replace("214", "0")))
    # An old bookmark to the form: the same reason, no form.
    goto(buyer, f"/orders/{compensated}/report", "d-report-refused")
    refused(buyer, 409)
    expect(buyer.page.get_by_role("heading", level=1)).to_have_text(
        t("You cannot report a new problem with this order"))
    expect(buyer.page.locator("[data-refusal=already_compensated]")).to_have_text(fully)
    expect(buyer.button(t("Report the problem"))).to_have_count(0)

    goto(buyer, f"/orders/{running}", "d-running-order")
    expect(buyer.page.locator("[data-pending-settlements]")).to_contain_text(due)
    goto(buyer, f"/orders/{running}/claim", "d-claim-refused")
    refused(buyer, 409)
    refusal = buyer.page.locator("[data-refusal=settlement_pending]")
    expect(refusal).to_contain_text(due)
    message = visible(t(
        "The seller agreed to settle this order by %(when)s. If it has not arrived by then, "
        "report it in the discussion: your protection continues.", when="\0"))
    for part in message.split("\0"):
        expect(refusal).to_contain_text(part)
    follow(buyer, buyer.link(t("Go to the discussion")), "d-promise-thread")
    expect(buyer.page.locator("[data-state]")).to_have_text(SEEN[lang]["awaiting"])
