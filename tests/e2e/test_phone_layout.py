"""Issue 22 item 8: every page of the buyer, the seller and staff (advisor, finance, admin)
and the public pages on a phone (375 x 812) and a desktop (1280 px), in Polish and English.

At 375 px no page scrolls sideways (``document.documentElement.scrollWidth <= 375``), the
navigation is one line until "Menu" opens it (also for staff holding every role), and on
a thread the deadline and the buyer's next action come before the reply form. Every page is
photographed at both widths (tests/e2e/screenshots/<lang>/phone-layout/).
"""

from datetime import timedelta

import pytest

from tests.e2e.conftest import expect

pytestmark = pytest.mark.e2e

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
BUYER, SELLER, STAFF = "barbara@example.test", "stefan@example.test", "sylwia@example.test"
# The header of a phone before "Menu" opens: the brand and the button, one line.
HEADER_MAX_PX = 70


def _setting(world) -> dict:
    """Orders in every state a page shows: a discussion with the seller's pending offer, an
    escalated one, a claim approved and paid out in an exported batch, a claim waiting, an
    order a claim can be filed on and one without any discussion yet."""
    from arbiter.extensions import db
    from disputes import services as discussions
    from disputes.states import ExpectedOutcome, OfferKind, Reason
    from orders.models import Order

    def opened(order_id: int, reason=Reason.NOT_RECEIVED):
        order = db.session.get(Order, order_id)
        found = discussions.open_discussion(
            order, order.buyer, reason=reason, expected_outcome=ExpectedOutcome.REFUND,
            description="Paczka nie dotarła, status przesyłki od tygodnia bez zmian.")
        db.session.flush()
        return found

    ids = {name: world.order(buyer=BUYER, seller=SELLER, external_id=f"ORD-2026-000{n}",
                             item_title=f"Lampa biurkowa Ikar, model {n}")
           for n, name in enumerate(
               ["offer", "escalated", "paid", "waiting", "eligible", "fresh"], 1)}

    def first_day():
        offer_on = opened(ids["offer"], Reason.DAMAGED)
        for name in ("escalated", "paid", "waiting", "eligible"):
            opened(ids[name])
        discussions.make_offer(offer_on, offer_on.seller, kind=OfferKind.PARTIAL_REFUND,
                               amount=5_000, note="Proponuję zwrot części ceny za pęknięty klosz.")
        return offer_on.id

    ids["offer_discussion"] = world.run(first_day)
    return ids


def _day_two(world, ids: dict) -> dict:
    """25 h later: one discussion escalated, two claims filed."""
    from arbiter.extensions import db
    from claims import services as claims
    from claims.states import ClaimType
    from disputes import services as discussions
    from orders.models import Order

    def run():
        escalated = discussions.open_discussion_for(db.session.get(Order, ids["escalated"]))
        discussions.escalate(escalated, escalated.buyer, "Sprzedawca nie odpowiada od doby.")
        filed = {}
        for name in ("paid", "waiting"):
            order = db.session.get(Order, ids[name])
            filed[name] = claims.file_claim(
                order, order.buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                description="Lampa ma inny kolor i brak w niej żarówki z opisu aukcji.",
                payout_account="PL61 1090 1014 0000 0712 1981 2874")
        db.session.flush()
        return {"escalated_discussion": escalated.id, "paid_claim": filed["paid"].id,
                "waiting_claim": filed["waiting"].id}

    return world.run(run)


def _approve_and_export(world, claim_id: int, staff_email: str) -> int:
    """The advisor approves one claim (after the seller's 48 h) and finance exports it."""
    from sqlalchemy import select

    from accounts.models import User
    from arbiter.extensions import db
    from claims import services as claims
    from claims.models import Claim
    from claims.states import Decision

    def run():
        staff = db.session.scalar(select(User).where(User.email == staff_email))
        claim = db.session.get(Claim, claim_id)
        claims.take(claim, staff)
        claims.decide(db.session.get(Claim, claim_id), staff, decision=Decision.APPROVED)
        return claims.export_payouts(staff).id

    return world.run(run)


def _look(actor, path: str, name: str) -> None:
    """The page at 375 px (nothing sideways, the header one line) and at 1280 px."""
    page = actor.page
    page.set_viewport_size(PHONE)
    actor.goto(path, f"{name}-375")
    width = page.evaluate("document.documentElement.scrollWidth")
    if width > PHONE["width"]:
        actor.problems.append(f"{name} ({path}) is {width} px wide at 375 px")
    header = page.evaluate("document.querySelector('header').getBoundingClientRect().height")
    if header > HEADER_MAX_PX:
        actor.problems.append(f"{name} ({path}): the header takes {header} px at 375 px")
    page.set_viewport_size(DESKTOP)
    actor.shot(f"{name}-1280")


def test_phone_layout(cast, world, clock, lang, text):
    t = text
    world.user(BUYER, "Barbara Kowalska", locale=lang)
    world.user(SELLER, "Stefan Nowak", locale=lang)
    world.user(STAFF, "Sylwia Wiśniewska-Grzybowska", staff=True, locale=lang)  # every role
    world.user("fabiana@example.test", "Fabiana Lis", staff=True, locale=lang)
    ids = _setting(world)
    clock.shift(timedelta(hours=25))
    ids |= _day_two(world, ids)
    clock.shift(timedelta(hours=49))  # the seller's 48 h to answer the claims passed
    batch_id = _approve_and_export(world, ids["paid_claim"], "fabiana@example.test")

    # --- the public pages ----------------------------------------------------------------
    visitor = cast("visitor")
    for path, name in [("/", "home"), ("/login", "login"), ("/register", "register"),
                       ("/protection-rules", "rules"), ("/status", "status"),
                       ("/transparency", "transparency"), ("/privacy", "privacy")]:
        _look(visitor, path, name)

    # --- the buyer -----------------------------------------------------------------------
    buyer = cast("buyer")
    buyer.login(BUYER)
    thread = f"/discussions/{ids['offer_discussion']}"
    for path, name in [
            ("/", "home"), ("/purchases", "purchases"),
            (f"/orders/{ids['offer']}", "order-offer"),
            (f"/orders/{ids['waiting']}", "order-claimed"),
            (f"/orders/{ids['eligible']}", "order-quote"),
            (f"/orders/{ids['eligible']}/claim", "claim-form"),
            (f"/orders/{ids['fresh']}/report", "report-form"),
            (f"/orders/{ids['offer']}/case", "case-file"),
            (thread, "thread"), ("/discussions", "discussions"),
            (f"/discussions/{ids['escalated_discussion']}", "thread-escalated"),
            ("/claims", "claims"), (f"/claims/{ids['paid_claim']}", "claim-paid"),
            (f"/claims/{ids['waiting_claim']}", "claim-waiting"),
            ("/notifications", "notifications"), ("/account", "account"),
            ("/report-problem", "report-problem")]:
        _look(buyer, path, name)

    # On the thread the deadline and the seller's offer come before the thread and the
    # reply form; the title has the whole width above the state.
    buyer.page.set_viewport_size(PHONE)
    buyer.goto(thread, "thread-order-375")
    order = buyer.page.evaluate("""() => {
      const top = s => document.querySelector(s).getBoundingClientRect().top;
      const h1 = document.querySelector('h1').getBoundingClientRect();
      return {offer: top('[data-pending-offer]'), thread: top('#thread-heading'),
              reply: top('#reply-heading'), title: h1.width};
    }""")
    assert order["offer"] < order["thread"] < order["reply"], order
    assert order["title"] > 300, order

    # The menu opens and closes without a page load; it holds the sections.
    menu = buyer.page.locator("label[for=site-menu-toggle]")
    purchases = buyer.nav(t("My purchases"))
    expect(purchases).to_be_hidden()
    menu.click()
    expect(purchases).to_be_visible()
    buyer.follow_link(purchases, "menu-purchases-375")
    buyer.page.set_viewport_size(DESKTOP)
    expect(buyer.nav(t("My purchases"))).to_be_visible()
    expect(menu).to_be_hidden()

    # --- the seller ----------------------------------------------------------------------
    seller = cast("seller")
    seller.login(SELLER)
    for path, name in [("/sales", "sales"), ("/seller/inbox", "inbox"), (thread, "thread"),
                       ("/sales/claims", "claims-on-sales"),
                       (f"/claims/{ids['waiting_claim']}", "claim")]:
        _look(seller, path, name)

    # --- staff with every role: advisor, senior, finance, admin ---------------------------
    staff = cast("staff")
    staff.login(STAFF)
    for path, name in [
            ("/staff/escalations", "escalations"),
            (f"/discussions/{ids['escalated_discussion']}", "thread-escalated"),
            ("/staff/claims", "claims"), (f"/claims/{ids['waiting_claim']}", "claim"),
            ("/staff/claims/second-approvals", "second-approvals"),
            ("/staff/claims/dashboard", "claims-dashboard"),
            ("/staff/appeals", "appeals"), ("/staff/signals", "signals"),
            ("/staff/payouts", "payouts"), ("/staff/payouts/export", "payouts-export"),
            (f"/staff/payouts/batches/{batch_id}", "batch"),
            ("/staff/payouts/held", "held-payouts"), ("/staff/recoveries", "recoveries"),
            ("/staff/dashboard", "dashboard"), ("/staff/dashboard/charts", "charts"),
            ("/staff/outbox", "outbox"), ("/staff/incidents", "incidents"),
            ("/staff/incidents/new", "declare-incident"),
            ("/staff/problem-reports", "problem-reports"), ("/staff/webhooks", "webhooks"),
            ("/staff/people", "people"), (f"/orders/{ids['paid']}/case", "case-file")]:
        _look(staff, path, name)
    # The outbox names each e-mail by its template folder ("claim_filed"): a technical page
    # for admins, where the page check's "raw value" is the point.
    staff.problems = [p for p in staff.problems
                      if not (p.startswith("staff-outbox") and "raw values" in p)]
    # The staff links open with the rest of the menu on a phone and stay out of the way.
    staff.page.set_viewport_size(PHONE)
    staff.goto("/staff/escalations", "menu-closed-375")
    expect(staff.nav(t("Payouts"))).to_be_hidden()
    staff.open_menu()
    expect(staff.nav(t("Payouts"))).to_be_visible()
    staff.shot("menu-open-375")
