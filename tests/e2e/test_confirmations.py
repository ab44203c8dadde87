"""Issue 22 item 9 in a real browser, in Polish and English: "Accept", "Close as solved",
"Withdraw" and "Withdraw the claim" open a dialog stating the consequence; cancelling it
changes nothing; confirming in it acts. Without JavaScript the same buttons reach a
confirmation page instead. The dialogs are photographed at 1280 px and 375 px (where they
fit the screen).
"""

from datetime import timedelta

import pytest

from tests.e2e.conftest import expect

pytestmark = pytest.mark.e2e

BUYER, SELLER = "barbara@example.test", "stefan@example.test"
STATE = {"pl": {"in_progress": "w toku", "closed": "zamknięta", "resolved": "rozwiązana",
                "submitted": "złożony", "withdrawn": "wycofany"},
         "en": {"in_progress": "in progress", "closed": "closed", "resolved": "resolved",
                "submitted": "submitted", "withdrawn": "withdrawn"}}


def _offered(world) -> tuple[int, int]:
    """Two discussions where the seller offered a partial refund of 50.00 zł."""
    from arbiter.extensions import db
    from disputes import services
    from disputes.states import ExpectedOutcome, OfferKind, Reason
    from orders.models import Order

    order_ids = [world.order(buyer=BUYER, seller=SELLER, external_id=f"ORD-2026-000{n}")
                 for n in (1, 2)]

    def run():
        ids = []
        for order_id in order_ids:
            order = db.session.get(Order, order_id)
            discussion = services.open_discussion(
                order, order.buyer, reason=Reason.DAMAGED,
                expected_outcome=ExpectedOutcome.REFUND,
                description="Klosz lampy przyszedł pęknięty.")
            db.session.flush()
            services.make_offer(discussion, discussion.seller, kind=OfferKind.PARTIAL_REFUND,
                                amount=5_000)
            ids.append(discussion.id)
        return ids

    return tuple(world.run(run))


def _claimed(world) -> int:
    """A claim on a third order, whose discussion the seller left unanswered for 25 h."""
    from arbiter.extensions import db
    from claims import services as claims
    from claims.states import ClaimType
    from disputes import services
    from disputes.states import ExpectedOutcome, Reason
    from orders.models import Order

    order_id = world.order(buyer=BUYER, seller=SELLER, external_id="ORD-2026-0003")
    world.run(lambda: services.open_discussion(
        db.session.get(Order, order_id), db.session.get(Order, order_id).buyer,
        reason=Reason.NOT_AS_DESCRIBED, expected_outcome=ExpectedOutcome.REFUND,
        description="Lampa ma inny kolor niż na zdjęciach."))
    return order_id, lambda: world.run(lambda: claims.file_claim(
        db.session.get(Order, order_id), db.session.get(Order, order_id).buyer,
        claim_type=ClaimType.NOT_AS_DESCRIBED,
        description="Lampa ma inny kolor i brak w niej żarówki z opisu aukcji.",
        payout_account="PL61 1090 1014 0000 0712 1981 2874").id)


def _cancel(actor, trigger, name: str, consequence: str, state: str) -> None:
    """Open the dialog (at 1280 and 375 px), read the consequence, cancel: nothing changed."""
    page = actor.page
    dialog = actor.open_dialog(trigger, name)
    expect(dialog).to_contain_text(consequence)
    page.set_viewport_size({"width": 375, "height": 812})
    actor.shot(f"{name}-375")
    box = dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375, box
    page.set_viewport_size({"width": 1280, "height": 900})
    dialog.get_by_role("button", name=actor.t("Cancel"), exact=True).click()
    expect(page.locator("dialog[open]")).to_have_count(0)
    page.reload()
    actor.shot(f"{name}-cancelled")
    expect(page.locator("[data-state]")).to_have_text(state)


def test_confirmations(cast, world, clock, lang, text):
    t, seen = text, STATE[lang]
    world.user(BUYER, "Barbara Kowalska", locale=lang)
    world.user(SELLER, "Stefan Nowak", locale=lang)
    first, second = _offered(world)
    _order_id, file_claim = _claimed(world)
    clock.shift(timedelta(hours=25))
    claim_id = file_claim()

    buyer = cast("buyer")
    buyer.login(BUYER)
    buyer.goto(f"/discussions/{first}", "thread")
    _cancel(buyer, buyer.link(t("Accept")), "accept-dialog",
            t("Until then the discussion waits for fulfilment and no new offers can be made. "
              "When it arrives, confirm it here."), seen["in_progress"])
    solved = t("The discussion ends as resolved and the seller is told. Nobody can write in "
               "it any more, you cannot ask the platform for help in it, and it no longer "
               "counts for a protection claim on this order.")
    _cancel(buyer, buyer.button(t("Close as solved")), "solve-dialog", solved,
            seen["in_progress"])
    withdrawn = t("The discussion ends as withdrawn and the seller is told. Nobody can write "
                  "in it any more, the seller no longer has to answer and you cannot ask the "
                  "platform for help in it.")
    _cancel(buyer, buyer.button(t("Withdraw")), "withdraw-dialog", withdrawn,
            seen["in_progress"])

    # Confirmed in the dialog, it acts.
    dialog = buyer.open_dialog(buyer.button(t("Withdraw")), "withdraw-dialog-again")
    buyer.submit(dialog.get_by_role("button", name=t("Yes, withdraw it")), "withdrawn")
    expect(buyer.flash()).to_have_text(t("You withdrew the discussion."))
    expect(buyer.page.locator("[data-state]")).to_have_text(seen["closed"])

    # Withdrawing a protection claim asks the same way.
    buyer.goto(f"/claims/{claim_id}", "claim")
    _cancel(buyer, buyer.button(t("Withdraw the claim")), "withdraw-claim-dialog",
            t("The claim ends as withdrawn: nobody reviews it any more and the platform pays "
              "nothing for it."), seen["submitted"])
    dialog = buyer.open_dialog(buyer.button(t("Withdraw the claim")), "withdraw-claim-again")
    buyer.submit(dialog.get_by_role("button", name=t("Yes, withdraw the claim")),
                 "claim-withdrawn")
    expect(buyer.page.locator("[data-state]")).to_have_text(seen["withdrawn"])

    # --- without JavaScript: the confirmation page, then the confirmed post ------------------
    plain = cast("buyer-no-js", javascript=False)
    plain.login(BUYER)
    plain.goto(f"/discussions/{second}", "thread")
    expect(plain.page.locator("dialog[open]")).to_have_count(0)
    plain.submit(plain.button(t("Close as solved")), "solve-page")
    expect(plain.page.get_by_role("heading", level=1)).to_have_text(
        t("Close the discussion as solved?"))
    expect(plain.page.locator("main")).to_contain_text(solved)
    plain.follow_link(plain.link(t("Back to the discussion")), "back")
    expect(plain.page.locator("[data-state]")).to_have_text(seen["in_progress"])
    plain.follow_link(plain.link(t("Accept")), "accept-page")
    expect(plain.page.get_by_role("heading", level=1)).to_have_text(t("Accept the offer?"))
    plain.follow_link(plain.link(t("Back to the discussion")), "back-again")
    plain.submit(plain.button(t("Close as solved")), "solve-page-again")
    plain.submit(plain.button(t("Yes, close it as solved")), "solved")
    expect(plain.page.locator("[data-state]")).to_have_text(seen["resolved"])
