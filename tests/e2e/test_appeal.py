"""Appeals in a real browser (#19): the buyer appeals a partial verdict of 80.00 zł from the
discussion page with a statement; the seller adds a statement; a DIFFERENT advisor takes
the appeal from the queue (the one who decided sees it marked, without a take button),
marks every piece of evidence read (the decision stays disabled until then) and varies the
amount to 150.00 zł; the buyer sees the outcome and downloads the appeal decision's PDF.
The buyer's and the reviewer's pages are photographed at 1280 px and 375 px.
"""

from datetime import timedelta

import pytest

from tests.e2e.conftest import expect, pdf_text, visible

pytestmark = pytest.mark.e2e

SEEN = {
    "pl": {"verdict": "Częściowo na korzyść kupującego", "new": "150,00 zł",
           "old": "80,00 zł", "varied": "zmieniona"},
    "en": {"verdict": "Partly in the buyer's favour", "new": "PLN 150.00",
           "old": "PLN 80.00", "varied": "varied"},
}
STATEMENT = ("Doradca nie obejrzał zdjęć: pęknięty jest cały klosz, a nie tylko jego brzeg, "
             "więc lampa nie nadaje się do użytku.")
ANSWER = "Lampa świeci, a klosz można wymienić za 40 zł; zwrot 80 zł jest uczciwy."
RATIONALE = ("Zdjęcia kupującego pokazują pęknięcie przez cały klosz; lampa nie nadaje się "
             "do użytku, więc zwrot rośnie do 150 zł.")


def _decided_verdict(order_id: int, decider_email: str) -> int:
    """The discussion as the advisor decided it: partly in the buyer's favour, 80.00 zł."""
    from sqlalchemy import select

    from accounts.models import User
    from arbiter.extensions import db
    from arbiter.files import Upload
    from arbiter.tasks import run_ready_tasks
    from disputes import services
    from disputes.states import ExpectedOutcome, Reason, Verdict
    from orders.models import Order
    from tests.e2e.conftest import tiny_png

    order = db.session.get(Order, order_id)
    staff = db.session.scalar(select(User).where(User.email == decider_email))
    discussion = services.open_discussion(
        order, order.buyer, reason=Reason.DAMAGED, expected_outcome=ExpectedOutcome.REFUND,
        description="Klosz lampy przyszedł pęknięty.", uploads=[Upload("klosz.png", tiny_png())])
    for name in ("opened_at", "respond_by", "escalation_available_at", "last_activity_at"):
        setattr(discussion, name, getattr(discussion, name) - timedelta(hours=25))
    services.escalate(discussion, order.buyer, "Sprzedający nie odpowiada.")
    services.take_case(discussion, staff)
    services.decide(discussion, staff, verdict=Verdict.PARTIAL, amount=8_000,
                    rationale="Klosz pękł w transporcie; sprzedający zwraca 80 zł.")
    db.session.commit()
    run_ready_tasks()
    return discussion.id


def _narrow(actor, name: str) -> None:
    actor.page.set_viewport_size({"width": 375, "height": 800})
    actor.page.reload()
    actor.shot(name)
    width = actor.page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{name}: the page is {width} px wide at 375 px"
    actor.page.set_viewport_size({"width": 1280, "height": 900})


def test_appeal(cast, world, clock, lang, text):
    t, seen = text, SEEN[lang]
    world.user("barbara@example.test", "Barbara Kowalska", locale=lang)
    world.user("stefan@example.test", "Stefan Nowak", locale=lang)
    world.user("sylwia@example.test", "Sylwia Wiśniewska", staff=True, locale=lang)
    world.user("renata@example.test", "Renata Zielińska", staff=True, locale=lang)
    order_id = world.order(buyer="barbara@example.test", seller="stefan@example.test")
    discussion_id = world.run(_decided_verdict, order_id, "sylwia@example.test")
    thread = f"/discussions/{discussion_id}"

    # --- the buyer appeals from the discussion page --------------------------------------------
    buyer = cast("buyer")
    buyer.login("barbara@example.test")
    buyer.goto(thread, "verdict")
    section = buyer.page.locator("[data-appeal-section]")
    expect(section).to_be_visible()
    buyer.follow_link(section.get_by_role("link", name=t("Appeal this decision")), "appeal-form")
    expect(buyer.page.locator("[data-appealed]")).to_contain_text(seen["verdict"])
    expect(buyer.page.locator("[data-original-amount]")).to_have_text(seen["old"])
    _narrow(buyer, "appeal-form-375")
    buyer.field(t("Why the decision should change")).fill(STATEMENT)
    buyer.submit(buyer.button(t("Send the appeal")), "appealed")
    expect(buyer.flash()).to_have_text(t(
        "Your appeal was sent. A staff member who did not make the decision will review it; "
        "the other party may add a statement first."))
    expect(buyer.page.locator("[data-statement]")).to_have_text(STATEMENT)
    expect(buyer.page.locator("[data-reviewer]")).to_have_text(t("not taken yet"))
    appeal_url = buyer.page.url.removeprefix(world.app.config["BASE_URL"])

    # --- the seller adds a statement within 72 h ---------------------------------------------
    seller = cast("seller")
    seller.login("stefan@example.test")
    seller.goto(thread, "verdict-appealed")
    their = seller.page.locator("[data-their-appeal]")
    expect(their).to_contain_text(t("The other party appealed this decision."))
    seller.follow_link(their.get_by_role("link"), "appeal")
    seller.field(t("Your statement on the appeal")).fill(ANSWER)
    seller.submit(seller.button(t("Send the statement")), "answered")
    expect(seller.page.locator("[data-answer]")).to_have_text(ANSWER)

    # --- the advisor who decided sees it marked, without a take button -----------------------
    decider = cast("decider")
    decider.login("sylwia@example.test")
    decider.follow_link(decider.nav(t("Appeals")), "queue")
    row = decider.page.locator("[data-appeals-queue] tbody tr")
    expect(row).to_have_attribute("data-reviewable", "no")
    expect(row.get_by_role("button")).to_have_count(0)

    # --- a different advisor takes it, reads everything, varies the amount -----------------
    reviewer = cast("reviewer")
    reviewer.login("renata@example.test")
    reviewer.follow_link(reviewer.nav(t("Appeals")), "queue")
    row = reviewer.page.locator("[data-appeals-queue] tbody tr")
    expect(row).to_have_attribute("data-reviewable", "yes")
    expect(row.locator("[data-countdown-to]")).to_be_visible()
    _narrow(reviewer, "queue-375")
    reviewer.submit(row.get_by_role("button"), "taken")
    expect(reviewer.flash()).to_have_text(t(
        "The appeal is yours to review. Read every piece of evidence, then decide."))
    expect(reviewer.page.locator("[data-case-summary]")).to_be_visible()
    decide = reviewer.page.locator("[data-decide]")
    expect(decide.locator("[data-decide-fields]")).to_be_disabled()
    expect(decide.locator("[data-decide-closed]")).to_be_visible()
    _narrow(reviewer, "evidence-unread-375")
    items = reviewer.page.locator("[data-item]")
    count = items.count()
    assert count >= 4  # the decision, both statements, the photo
    for number in range(count):
        reviewer.submit(reviewer.page.locator("form[data-mark-read] button").first,
                        f"read-{number + 1}")
        expect(reviewer.flash()).to_have_text(t("Marked as read."))
    expect(reviewer.page.locator("[data-item][data-read=yes]")).to_have_count(count)
    expect(decide.locator("[data-decide-fields]")).to_be_enabled()
    reviewer.page.get_by_label(t("Vary: a different amount"), exact=True).check()
    reviewer.field(t("New amount for the buyer (PLN)")).fill("150.00")
    reviewer.field(t("Rationale")).fill(RATIONALE)
    reviewer.submit(reviewer.button(t("Issue the appeal decision")), "confirm-decision")
    # How the amount changes and who pays, before anything changes (issue 20).
    expect(reviewer.page.locator("[data-confirm-appeal-decision]")).to_contain_text("150")
    _narrow(reviewer, "confirm-decision-375")
    reviewer.submit(reviewer.page.locator("form:has(input[name='confirmed']) button"),
                    "decided")
    expect(reviewer.flash()).to_have_text(t("The appeal decision was issued."))
    expect(reviewer.page.locator("[data-state]")).to_have_text(seen["varied"])
    _narrow(reviewer, "decided-375")

    # --- the buyer sees the outcome and downloads its decision document ---------------------------
    buyer.goto(appeal_url, "outcome")
    outcome = buyer.page.locator("[data-outcome]")
    expect(outcome).to_contain_text(t("Varied: the amount was changed"))
    expect(outcome.locator("[data-new-amount]")).to_have_text(seen["new"])
    expect(outcome.locator("[data-rationale]")).to_have_text(RATIONALE)
    expect(buyer.page.locator("[data-reviewer]")).to_have_text("Renata Zielińska")
    _narrow(buyer, "outcome-375")
    link = outcome.get_by_role("link").filter(has_text=f"({lang.upper()}, PDF)")
    document = pdf_text(buyer.download(link))
    assert visible(seen["new"]) in visible(document).replace("\n", " ")
