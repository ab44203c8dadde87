"""The signals cost the same number of SQL statements however long the buyer's history
and however many accounts are ranked (the pattern of tests/performance)."""

from datetime import timedelta

from sqlalchemy import insert, select

from accounts.models import User
from arbiter import clock
from arbiter.extensions import db
from disputes.models import Discussion
from orders.models import Order
from signals import queries
from signals.models import AccountNote
from tests.performance.test_query_counts import _page_cost, counting_statements
from tests.signals.conftest import IBAN, file_claim

ANOTHER_IBAN = "PL91114020040000300201355399"


def _history(buyers, seller, discussions_each: int, tag: str) -> None:
    """Set-up only, in bulk: ``discussions_each`` escalated discussions on as many orders
    of each buyer (paid this year: a share of 100 %, a strong signal)."""
    now = clock.now()
    opened = now - timedelta(hours=30)
    rows = [{"external_id": f"{tag}-{b.id}-{n}", "buyer_id": b.id, "seller_id": seller.id,
             "item_title": "Item", "item_price": 1000, "shipping_cost": 0, "currency": "PLN",
             "payment_method": "bank_transfer", "paid_at": opened - timedelta(days=1),
             "created_at": now, "updated_at": now}
            for b in buyers for n in range(discussions_each)]
    db.session.execute(insert(Order), rows)
    orders = db.session.execute(select(Order.id, Order.buyer_id).where(
        Order.external_id.like(f"{tag}-%"))).all()
    db.session.execute(insert(Discussion), [
        {"version": 1, "order_id": order_id, "buyer_id": buyer_id, "seller_id": seller.id,
         "reason": "not_received", "expected_outcome": "refund", "description": "Nothing came",
         "state": "escalated", "opened_at": opened, "respond_by": opened + timedelta(hours=24),
         "escalation_available_at": opened + timedelta(hours=24), "last_activity_at": now,
         "escalated_at": now, "escalation_reason": "help", "created_at": now,
         "updated_at": now} for order_id, buyer_id in orders])
    db.session.commit()


def _notes(user, author, count: int) -> None:
    db.session.execute(insert(AccountNote), [
        {"user_id": user.id, "author_id": author.id, "body": f"note {n}",
         "created_at": clock.now()} for n in range(count)])
    db.session.commit()


def _buyers(count: int, tag: str) -> list[User]:
    now = clock.now()
    db.session.execute(insert(User), [
        {"email": f"{tag}-{n}@example.test", "name": f"Buyer {tag} {n}",
         "password_hash": "!", "created_at": now, "updated_at": now} for n in range(count)])
    db.session.commit()
    return list(db.session.scalars(select(User).where(User.email.like(f"{tag}-%"))))


def test_the_panel_is_three_statements_whatever_the_history(world, advisor, create_user,
                                                              case_on):
    quiet = create_user()
    busy = world.buyer
    _history([busy], world.seller, 200, "H")
    _notes(busy, advisor, 40)
    for _ in range(3):
        file_claim(case_on(create_user(), world.seller), account=IBAN)
    costs = []
    _notes(quiet, advisor, 1)
    for buyer_id in (quiet.id, busy.id):
        with counting_statements() as statements:
            signals = queries.buyer_signals(buyer_id, clock.now())
            assert [note.author.name for note in signals.notes]  # read with the notes
        costs.append(len(statements))
    assert costs == [3, 3]
    assert signals.figures.discussions == 205 and signals.figures.other_buyers == 5


def test_the_claim_page_costs_the_same_for_a_quiet_and_a_busy_buyer(
        client, auth, world, advisor, create_user, case_on):
    """Two claims alike, one of a buyer with no history, one of the world's buyer with
    every signal, 200 more discussions, 40 notes and two other buyers on the account."""
    quiet = file_claim(case_on(create_user(), world.seller), account=ANOTHER_IBAN)
    busy = file_claim(case_on(world.buyer, world.seller))
    _history([world.buyer], world.seller, 200, "H")
    _notes(world.buyer, advisor, 40)
    auth.login(advisor.email)
    assert _page_cost(client, f"/claims/{quiet.id}") == _page_cost(client, f"/claims/{busy.id}")
    assert _page_cost(client, f"/discussions/{quiet.discussion_id}") == \
        _page_cost(client, f"/discussions/{busy.discussion_id}")


def test_the_ranking_costs_the_same_with_3_and_60_accounts(client, auth, advisor, seller):
    few = _buyers(3, "few")
    _history(few, seller, 3, "F")
    auth.login(advisor.email)
    with_3 = _page_cost(client, "/staff/signals")
    many = _buyers(57, "many")
    _history(many, seller, 3, "M")
    for buyer in many:
        _notes(buyer, advisor, 2)
    page = client.get("/staff/signals").text
    assert page.count("data-ranked=") == 50
    assert _page_cost(client, "/staff/signals") == with_3
