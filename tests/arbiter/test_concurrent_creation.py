"""The losing request of two that create the same thing at once (issue 25 item 10): a
second discussion or claim on one order is refused by a unique index; the loser answers
409, never 500. Real PostgreSQL, real concurrent connections (SQLite serialises writers)."""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from sqlalchemy import func, select

from accounts import services as accounts
from arbiter import clock
from arbiter.extensions import db
from claims.models import Claim
from disputes import services as disputes
from disputes.models import Discussion
from disputes.states import ExpectedOutcome, Reason
from integrations import tokens
from orders.services import upsert_order
from orders.states import PaymentMethod
from tests.claims.helpers import IBAN
from tests.conftest import FreshContextClient
from tests.factories import PASSWORD

REQUESTS = 8


def _order(with_discussion: bool):
    buyer = accounts.create_user("race-buyer@example.test", "Race Buyer", PASSWORD)
    seller = accounts.create_user("race-seller@example.test", "Race Seller", PASSWORD)
    db.session.flush()
    order = upsert_order({
        "external_id": "RACE-1", "buyer_email": buyer.email, "seller_email": seller.email,
        "item_title": "Race", "item_price": 10_000, "shipping_cost": 0,
        "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
        "paid_at": clock.now() - timedelta(days=3)}).order
    if with_discussion:
        discussion = disputes.open_discussion(
            order, buyer, reason=Reason.NOT_AS_DESCRIBED,
            expected_outcome=ExpectedOutcome.REFUND, description="Wrong model.")
        db.session.flush()
        discussion.escalation_available_at -= timedelta(hours=25)
    token = tokens.issue_user_token(buyer, "race").token
    db.session.commit()
    return order.id, token


def _all_at_once(app, request) -> list[int]:
    barrier = Barrier(REQUESTS)

    def run(_):
        client = FreshContextClient(app, app.response_class)
        barrier.wait()
        return request(client).status_code

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        return list(pool.map(run, range(REQUESTS)))


def _count(model) -> int:
    db.session.remove()
    return db.session.scalar(select(func.count()).select_from(model))


DISCUSSION = {"json": {"order_external_id": "RACE-1", "reason": "not_received",
                       "expected_outcome": "refund", "description": "Nothing came."}}
CLAIM = {"data": {"order_external_id": "RACE-1", "claim_type": "not_as_described",
                  "description": "Wrong model.", "payout_account": IBAN},
         "content_type": "multipart/form-data"}


@pytest.mark.postgres_only
@pytest.mark.race
@pytest.mark.parametrize("path, body, model, with_discussion", [
    ("/api/v1/discussions", DISCUSSION, Discussion, False),
    ("/api/v1/claims", CLAIM, Claim, True),
], ids=["discussions", "claims"])
def test_concurrent_creations_on_one_order_make_one_and_409s(committed, path, body, model,
                                                             with_discussion):
    _order_id, token = _order(with_discussion=with_discussion)
    statuses = _all_at_once(committed, lambda client: client.post(
        path, headers={"Authorization": f"Bearer {token}"}, **body))
    assert sorted(statuses) == [201] + [409] * (REQUESTS - 1), statuses
    assert _count(model) == 1


@pytest.mark.parametrize("path", ["/unique", "/api/v1/unique"])
def test_any_unique_violation_that_escapes_is_a_409(fresh_app, path):
    """Every creation that can race goes through arbiter.db.add_unless_taken; should one
    not, the unique index's refusal is still a conflict (409), not a server error."""
    import sqlite3

    from sqlalchemy.exc import IntegrityError

    app = fresh_app()

    def unique():
        raise IntegrityError("INSERT", {}, sqlite3.IntegrityError(
            "UNIQUE constraint failed: claims.order_id"))

    def other():
        raise IntegrityError("INSERT", {}, sqlite3.IntegrityError(
            "CHECK constraint failed: ck_claims_amount"))

    app.add_url_rule(path, "unique", unique)
    app.add_url_rule(path + "/other", "other", other)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    client = app.test_client()
    response = client.get(path)
    assert response.status_code == 409
    if path.startswith("/api/"):
        assert response.get_json()["error"]["code"] == "already_exists"
    assert client.get(path + "/other").status_code == 500
