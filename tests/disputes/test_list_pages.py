"""The staff queue and the seller inbox page through long lists by cursor, on both engines:
every row once, in order, ties on the sort key included; ended discussions stay out of the
inbox."""

import re
from datetime import timedelta
from html import unescape

from sqlalchemy import event, insert, select

from arbiter import clock
from arbiter.extensions import db
from disputes import queries
from disputes.models import Discussion
from orders.models import Order


def _discussions(buyer, seller, states: list[str], *, same_time_every: int = 3) -> list[int]:
    """Discussions in these states (set-up only); every ``same_time_every`` share their
    escalation time and answer deadline, so pages must break ties by id."""
    now = clock.now()
    db.session.execute(insert(Order), [
        {"external_id": f"L-{n}", "buyer_id": buyer.id, "seller_id": seller.id,
         "item_title": f"Item {n}", "item_price": 1000, "shipping_cost": 0, "currency": "PLN",
         "payment_method": "bank_transfer", "paid_at": now - timedelta(days=5),
         "created_at": now, "updated_at": now} for n in range(len(states))])
    order_ids = db.session.scalars(select(Order.id).where(Order.external_id.like("L-%"))
                                   .order_by(Order.id)).all()
    rows = []
    for n, (order_id, state) in enumerate(zip(order_ids, states, strict=True)):
        opened = now - timedelta(hours=40, minutes=n // same_time_every)
        rows.append({
            "version": 1, "order_id": order_id, "buyer_id": buyer.id, "seller_id": seller.id,
            "reason": "damaged", "expected_outcome": "refund", "description": "Broken",
            "state": state, "opened_at": opened, "respond_by": opened + timedelta(hours=24),
            "escalation_available_at": opened + timedelta(hours=24), "last_activity_at": now,
            "escalated_at": opened + timedelta(hours=25) if state == "escalated" else None,
            "escalation_reason": "help" if state == "escalated" else None,
            "closed_at": now if state == "closed" else None,
            "created_at": now, "updated_at": now})
    db.session.execute(insert(Discussion), rows)
    db.session.commit()
    return db.session.scalars(select(Discussion.id).where(Discussion.order_id.in_(order_ids))
                              .order_by(Discussion.id)).all()


def _walk(client, path: str) -> list[int]:
    """Follow the "More" links from ``path``; the discussion ids in the order shown."""
    shown = []
    while path:
        page = client.get(path)
        assert page.status_code == 200
        shown += [int(n) for n in re.findall(r'href="/discussions/(\d+)"', page.text)]
        more = re.search(r'href="(/(?:staff/escalations|seller/inbox)\?[^"]*after=[^"]+)"',
                         page.text)
        path = unescape(more.group(1)) if more else None
    return shown


def test_the_queue_pages_through_every_escalated_discussion_once(client, auth, buyer, seller,
                                                                 staff):
    ids = _discussions(buyer, seller, ["escalated"] * 45 + ["in_progress"] * 5)
    auth.login(staff.email)
    shown = _walk(client, "/staff/escalations")
    expected = db.session.scalars(
        select(Discussion.id).where(Discussion.state == "escalated")
        .order_by(Discussion.escalated_at, Discussion.id)).all()
    assert shown == expected
    assert len(shown) == 45 and set(shown) <= set(ids)


def test_the_inbox_pages_through_open_discussions_only(client, auth, buyer, seller):
    states = ["in_progress", "closed", "escalated", "in_progress", "closed"] * 9
    _discussions(buyer, seller, states)
    auth.login(seller.email)
    shown = _walk(client, "/seller/inbox")
    expected = db.session.scalars(
        select(Discussion.id).where(Discussion.seller_id == seller.id,
                                    Discussion.state != "closed")
        .order_by(Discussion.respond_by, Discussion.id)).all()
    assert shown == expected
    assert len(shown) == 27


def _sql_sent(run) -> list[str]:
    sent = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        sent.append(statement)

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    return [sql for sql in sent if "FROM discussions" in sql]


def test_the_inbox_names_the_open_states_in_its_sql(app, db_session, seller):
    """Literal states let PostgreSQL use the partial index of open discussions even in a
    prepared statement's generic plan (a parameter would hide which states are asked for)."""
    sent = _sql_sent(lambda: queries.seller_inbox(seller))
    states = "IN ('awaiting_fulfilment', 'awaiting_seller', 'escalated', 'in_progress')"
    assert any(states in sql for sql in sent)


def test_the_lists_write_their_page_size_and_state_into_the_sql(app, db_session, seller,
                                                                  staff):
    """psycopg keeps statements prepared on a connection, so PostgreSQL may
    run them with a generic plan, made without the parameters' values. With ``LIMIT $1`` and
    ``state = $2`` that plan sorted every escalated discussion (68 ms at 1,000,000
    discussions against 0.35 ms, docs/performance.md); with both in the SQL it is the index
    scan, first page and deep pages alike."""
    cursor = "1795428411.18017"
    for run in (lambda: queries.escalation_queue(staff),
                lambda: queries.escalation_queue(staff, cursor=cursor),
                lambda: queries.seller_inbox(seller),
                lambda: queries.seller_inbox(seller, cursor=cursor)):
        (sql,) = _sql_sent(run)
        assert "LIMIT 21" in sql
    (queue_sql,) = _sql_sent(lambda: queries.escalation_queue(staff))
    assert "discussions.state = 'escalated'" in queue_sql
