"""Pages cost the same number of SQL statements however much data they show."""

import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, insert

from arbiter import clock
from arbiter.extensions import db
from disputes.models import Discussion, Entry
from disputes.states import DiscussionState, EntryKind, Role


@contextmanager
def counting_statements():
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _messages(discussion, author, count: int) -> None:
    now = clock.now()
    db.session.execute(insert(Entry), [
        {"discussion_id": discussion.id, "kind": EntryKind.MESSAGE, "author_id": author.id,
         "author_role": Role.BUYER, "body": f"message {n}", "created_at": now}
        for n in range(count)])
    db.session.commit()


def _page_cost(client, path: str) -> int:
    client.get(path)  # warm caches (locale, templates) outside the count
    with counting_statements() as statements:
        assert client.get(path).status_code == 200
    return len(statements)


def test_the_discussion_page_costs_the_same_with_2_and_200_messages(
        client, auth, buyer, create_discussion):
    small = create_discussion(buyer=buyer)
    large = create_discussion(buyer=buyer)
    _messages(small, buyer, 2)
    _messages(large, buyer, 200)
    auth.login(buyer.email)
    assert _page_cost(client, f"/discussions/{small.id}") == \
        _page_cost(client, f"/discussions/{large.id}")


def _with_offer_and_request(discussion, buyer, seller, staff):
    """An offer, an escalation, a taken case and an open information request."""
    from disputes import services
    from disputes.states import OfferKind, Party

    services.make_offer(discussion, seller, kind=OfferKind.REPLACEMENT)
    db.session.commit()
    services.escalate(discussion, buyer, "The replacement never came.")
    db.session.commit()
    services.take_case(discussion, staff)
    db.session.commit()
    services.request_information(discussion, staff, party=Party.SELLER,
                                 question="Proof of shipping, please.")
    db.session.commit()


@pytest.mark.parametrize("viewer", ["buyer", "staff"])
def test_a_busy_discussion_page_costs_the_same_with_2_and_200_messages(
        client, auth, buyer, seller, staff, create_discussion, viewer):
    """Offers and information requests cost a statement each when there are some,
    whatever the length of the thread."""
    small = create_discussion(buyer=buyer, seller=seller, age_hours=25)
    large = create_discussion(buyer=buyer, seller=seller, age_hours=25)
    for discussion in (small, large):
        _with_offer_and_request(discussion, buyer, seller, staff)
    _messages(small, buyer, 2)
    _messages(large, buyer, 200)
    auth.login((buyer if viewer == "buyer" else staff).email)
    assert _page_cost(client, f"/discussions/{small.id}") == \
        _page_cost(client, f"/discussions/{large.id}")


@pytest.mark.parametrize("viewer", ["buyer", "seller", "handler", "other advisor"])
def test_the_discussion_page_reads_its_people_and_order_with_the_discussion(
        client, auth, buyer, seller, staff, create_user, create_discussion, viewer):
    """The discussion's statement reads only the columns of the order and the people that
    the page shows; the page never goes back for one (a statement of its own per row)."""
    discussion = create_discussion(buyer=buyer, seller=seller, age_hours=25)
    _with_offer_and_request(discussion, buyer, seller, staff)
    other = create_user(name="Olga Other", is_staff=True)
    auth.login({"buyer": buyer, "seller": seller, "handler": staff,
                "other advisor": other}[viewer].email)
    path = f"/discussions/{discussion.id}"
    client.get(path)
    with counting_statements() as statements:
        page = client.get(path)
    assert page.status_code == 200
    assert buyer.name in page.text and seller.name in page.text
    assert discussion.order.external_id in page.text
    if viewer == "other advisor":
        assert f"Handled by {staff.name}" in page.text
    went_back = [s for s in statements
                 if re.search(r"FROM (users|orders)\s+WHERE (users|orders)\.id =", s)]
    assert went_back == []


def test_posting_a_message_costs_the_same_with_2_and_200_messages(
        client, auth, buyer, seller, create_discussion):
    """Posting reads and writes what it changes, never the thread."""
    small = create_discussion(buyer=buyer, seller=seller)
    large = create_discussion(buyer=buyer, seller=seller)
    _messages(small, buyer, 2)
    _messages(large, buyer, 200)
    auth.login(buyer.email)
    costs = []
    for discussion in (small, large, small):
        path = f"/discussions/{discussion.id}/messages"
        with counting_statements() as statements:
            assert client.post(path, data={"body": "Any news?"}).status_code == 302
        costs.append(len(statements))
        assert not [s for s in statements if "FROM discussion_entries" in s], \
            "posting read the thread"
    assert costs[1] == costs[2]


def _escalated(buyer, seller, count: int, start: int = 0) -> None:
    """``count`` escalated discussions, inserted in bulk (set-up only)."""
    from orders.models import Order

    now = clock.now()
    opened = now - timedelta(hours=30)
    db.session.execute(insert(Order), [
        {"external_id": f"Q-{n}", "buyer_id": buyer.id, "seller_id": seller.id,
         "item_title": f"Item {n}", "item_price": 1000, "shipping_cost": 0, "currency": "PLN",
         "payment_method": "bank_transfer", "paid_at": opened - timedelta(days=1),
         "created_at": now, "updated_at": now} for n in range(start, start + count)])
    order_ids = db.session.scalars(
        db.select(Order.id).where(Order.external_id.like("Q-%")).order_by(Order.id)
    ).all()[start:start + count]
    db.session.execute(insert(Discussion), [
        {"version": 1, "order_id": order_id, "buyer_id": buyer.id, "seller_id": seller.id,
         "reason": "damaged", "expected_outcome": "refund", "description": "Broken",
         "state": "escalated", "opened_at": opened, "respond_by": opened + timedelta(hours=24),
         "escalation_available_at": opened + timedelta(hours=24), "last_activity_at": now,
         "escalated_at": now - timedelta(minutes=n), "escalation_reason": "help",
         "created_at": now, "updated_at": now} for n, order_id in enumerate(order_ids)])
    db.session.commit()


@pytest.mark.parametrize(("path", "viewer"), [
    ("/staff/escalations", "staff"),
    ("/seller/inbox", "seller"),
])
def test_queues_cost_the_same_with_10_and_1000_cases(client, auth, staff, buyer, seller, path,
                                                     viewer):
    _escalated(buyer, seller, 10)
    auth.login((staff if viewer == "staff" else seller).email)
    with_10 = _page_cost(client, path)
    _escalated(buyer, seller, 990, start=10)
    assert db.session.scalar(db.select(db.func.count()).select_from(Discussion).where(
        Discussion.state == DiscussionState.ESCALATED)) == 1000
    assert _page_cost(client, path) == with_10


@pytest.mark.parametrize(("path", "viewer"), [
    ("/staff/dashboard/charts", "staff"),
    ("/staff/dashboard/charts/opened_per_day.csv", "staff"),
    ("/staff/dashboard/charts/no_intervention.svg", "staff"),
    ("/sellers/{seller_id}", None),
])
def test_dashboard_and_seller_profile_cost_the_same_with_10_and_1000_discussions(
        client, auth, staff, buyer, seller, path, viewer):
    """One statement per chart, whatever the number of discussions behind it."""
    path = path.format(seller_id=seller.id)
    _escalated(buyer, seller, 10)
    if viewer:
        auth.login(staff.email)
    with_10 = _page_cost(client, path)
    _escalated(buyer, seller, 990, start=10)
    assert _page_cost(client, path) == with_10
