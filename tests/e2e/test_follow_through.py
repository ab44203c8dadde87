"""Follow-through, in a real browser (issue #18, section 2): the seller offers a full refund,
the buyer reads what accepting means (with the due date) and accepts, the seller marks it
done with a transfer reference, the buyer says it did not arrive; the discussion is open
again and the buyer can ask the platform for help at once. The thread is photographed at
1280 px and 375 px as buyer and as seller in that state.
"""

from datetime import timedelta

import pytest
from flask_babel import force_locale, format_datetime

from tests.e2e.conftest import expect, visible

pytestmark = pytest.mark.e2e

SEEN = {
    "pl": {"total": "214,00 zł", "refund": "Sprzedający musi zwrócić 214,00 zł do",
           "in_progress": "w toku", "awaiting": "czeka na realizację",
           "failed": "niezrealizowane"},
    "en": {"total": "PLN 214.00", "refund": "The seller must refund PLN 214.00 by",
           "in_progress": "in progress", "awaiting": "awaiting fulfilment",
           "failed": "not fulfilled"},
}
REFERENCE = "PRZELEW 2026/03/0042"


def _open_discussion(order_id: int) -> int:
    from arbiter.extensions import db
    from disputes import services
    from disputes.states import ExpectedOutcome, Reason
    from orders.models import Order

    order = db.session.get(Order, order_id)
    discussion = services.open_discussion(
        order, order.buyer, reason=Reason.DAMAGED, expected_outcome=ExpectedOutcome.REFUND,
        description="Klosz lampy przyszedł pęknięty.")
    db.session.flush()
    return discussion.id


def _day(app, when, lang: str) -> str:
    """The date part of a deadline as the page shows it ("9.03.2026" / "9 Mar 2026")."""
    with app.test_request_context(), force_locale(lang):
        return visible(format_datetime(when, "short")).rsplit(",", 1)[0]


def _narrow(actor, name: str) -> None:
    actor.page.set_viewport_size({"width": 375, "height": 800})
    actor.page.reload()
    actor.shot(name)
    actor.page.set_viewport_size({"width": 1280, "height": 900})


def test_follow_through(cast, world, clock, lang, text):
    t, seen = text, SEEN[lang]
    world.user("barbara@example.test", "Barbara Kowalska", locale=lang)
    world.user("stefan@example.test", "Stefan Nowak", locale=lang)
    order_id = world.order(buyer="barbara@example.test", seller="stefan@example.test")
    discussion_id = world.run(_open_discussion, order_id)
    thread = f"/discussions/{discussion_id}"

    # --- the seller offers a full refund ---------------------------------------------------
    seller = cast("seller")
    seller.login("stefan@example.test")
    seller.goto(thread, "thread")
    seller.field(t("Offer")).select_option(label=t("Full refund"))
    seller.submit(seller.button(t("Make the offer")), "offered")
    expect(seller.flash()).to_have_text(t("Your offer was sent to the buyer."))

    # --- the buyer reads what accepting means, then accepts ---------------------------------
    buyer = cast("buyer")
    buyer.login("barbara@example.test")
    buyer.goto(thread, "offer-received")
    buyer.open_dialog(buyer.link(t("Accept")), "accept-confirmation")
    due = _day(world.app, clock.now() + timedelta(days=7), lang)
    promise = buyer.page.locator("[data-promise]")
    expect(promise).to_contain_text(f"{seen['refund']} {due}")
    expect(buyer.page.locator("main")).to_contain_text(t(
        "If the money does not arrive, you can report it here and your buyer protection "
        "continues: the discussion opens again and you can ask the platform for help at "
        "once."))
    buyer.submit(buyer.button(t("Yes, accept the offer")), "accepted")
    expect(buyer.page.locator("[data-state]")).to_have_text(seen["awaiting"])
    expect(buyer.button(t("I received it"))).to_be_visible()
    expect(buyer.button(t("It did not arrive"))).to_have_count(0)  # not before the due date

    # --- the seller marks it done with the transfer reference --------------------------------
    seller.goto(thread, "awaiting-fulfilment")
    expect(seller.page.get_by_role("heading", name=t("Make an offer"))).to_have_count(0)
    seller.field(t("Transfer confirmation or tracking number")).fill(REFERENCE)
    seller.submit(seller.button(t("Mark as done")), "marked-done")
    expect(seller.page.locator("[data-proof]")).to_have_text(REFERENCE)

    # --- the buyer says it did not arrive (contests the proof) --------------------------------
    clock.shift(timedelta(hours=2))
    buyer.goto(thread, "proof-shown")
    expect(buyer.page.locator("[data-proof]")).to_have_text(REFERENCE)
    buyer.field(t("What happened? (optional)")).fill("Na koncie nie ma żadnego przelewu.")
    buyer.submit(buyer.button(t("It did not arrive")), "reported")
    expect(buyer.flash()).to_have_text(t(
        "You reported that it did not arrive. The discussion is open again and you can ask "
        "the platform for help now."))
    expect(buyer.page.locator("[data-state]")).to_have_text(seen["in_progress"])
    expect(buyer.page.locator("[data-settlement-status]")).to_have_text(seen["failed"])
    # Escalation is available at once: the form, not the disabled button.
    expect(buyer.field(t("Why do you need the platform's help?"))).to_be_visible()
    expect(buyer.button(t("Ask the platform for help"))).to_be_enabled()
    _narrow(buyer, "reopened-375")

    seller.goto(thread, "reopened")
    expect(seller.page.locator("[data-state]")).to_have_text(seen["in_progress"])
    expect(seller.page.get_by_role("heading", name=t("Make an offer"))).to_be_visible()
    _narrow(seller, "reopened-375")
