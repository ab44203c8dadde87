"""The database connection dies in the middle of a request (PostgreSQL)."""

from datetime import timedelta

import pytest
from sqlalchemy import create_engine, event, func, select, text

from accounts import services as accounts
from arbiter import audit, clock
from arbiter.extensions import db
from disputes import services
from disputes.models import Entry
from disputes.states import ExpectedOutcome, Reason
from orders.services import upsert_order
from orders.states import PaymentMethod
from tests.database import audit_log_problem
from tests.factories import PASSWORD


@pytest.mark.postgres_only
def test_a_killed_connection_answers_503_writes_nothing_and_the_next_request_works(
        committed, database_url):
    app = committed
    buyer = accounts.create_user("fault-buyer@example.test", "B", PASSWORD)
    seller = accounts.create_user("fault-seller@example.test", "S", PASSWORD)
    order = upsert_order({
        "external_id": "FAULT-1", "buyer_email": buyer.email, "seller_email": seller.email,
        "item_title": "x", "item_price": 1000, "shipping_cost": 0,
        "payment_method": PaymentMethod.BANK_TRANSFER,
        "paid_at": clock.now() - timedelta(days=2)}).order
    discussion = services.open_discussion(order, buyer, reason=Reason.DAMAGED,
                                          expected_outcome=ExpectedOutcome.REFUND,
                                          description="Broken")
    db.session.commit()
    discussion_id = discussion.id
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    assert client.post("/login", data={"email": buyer.email, "password": PASSWORD}
                       ).status_code == 302
    entries_before = db.session.scalar(select(func.count()).select_from(Entry))
    audit_before = audit.count()
    db.session.remove()

    killer = create_engine(database_url)
    killed = []

    def kill_on_write(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT INTO discussion_entries") and not killed:
            pid = conn.connection.dbapi_connection.info.backend_pid
            with killer.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            killed.append(pid)

    event.listen(db.engine, "before_cursor_execute", kill_on_write)
    try:
        response = client.post(f"/discussions/{discussion_id}/messages",
                               data={"body": "this write dies half-way"})
    finally:
        event.remove(db.engine, "before_cursor_execute", kill_on_write)
        killer.dispose()

    assert killed, "the connection was not killed"
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "briefly unavailable" in response.text
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Entry)) == entries_before
    assert audit.count() == audit_before
    assert audit_log_problem() is None

    page = client.get(f"/discussions/{discussion_id}")
    assert page.status_code == 200
    again = client.post(f"/discussions/{discussion_id}/messages",
                        data={"body": "and this one arrives"})
    assert again.status_code == 302
    db.session.remove()
    assert db.session.scalar(select(func.count()).select_from(Entry)) == entries_before + 1


@pytest.mark.postgres_only
def test_the_api_answers_503_in_its_json_shape(committed, database_url):
    app = committed
    killer = create_engine(database_url)

    killed = []

    def kill_first(conn, cursor, statement, parameters, context, executemany):
        if not killed:
            killed.append(conn.connection.dbapi_connection.info.backend_pid)
            with killer.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": killed[0]})

    event.listen(db.engine, "before_cursor_execute", kill_first)
    try:
        response = app.test_client().get("/api/v1/status")
    finally:
        event.remove(db.engine, "before_cursor_execute", kill_first)
        killer.dispose()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.json["error"]["code"] == "database_unavailable"
    assert app.test_client().get("/api/v1/status").status_code == 200


def test_a_broken_schema_is_a_bug_not_a_503(fresh_app):
    """Only a lost connection means "try again"; a missing table must surface as an error."""
    from sqlalchemy.exc import OperationalError

    app = fresh_app()  # never migrated: no tables at all
    with pytest.raises(OperationalError, match="no such table"):
        app.test_client().get("/status")
