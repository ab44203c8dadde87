"""GET /api/v1/orders/{external_id}/claim-quote: the quote of one purchase with the same
refusal reasons as the order page and the form (claims.services.filing_refusal, #18 §3)."""

import pytest

from arbiter.extensions import db
from disputes import services as disputes
from disputes.states import OfferKind
from settlements import services as ledger


@pytest.fixture
def tokens(token_for, buyer, seller):
    return {"buyer": token_for(buyer), "seller": token_for(seller)}


def _quote(api, token, order, **query):
    return api.get(f"/api/v1/orders/{order.external_id}/claim-quote", token=token,
                   query_string=query)


def _agreed_refund(create_order, create_discussion, buyer, seller, amount=None):
    order = create_order(buyer=buyer, seller=seller)
    discussion = create_discussion(order, age_hours=25)
    kind = OfferKind.PARTIAL_REFUND if amount else OfferKind.REFUND
    offer = disputes.make_offer(discussion, seller, kind=kind, amount=amount)
    db.session.flush()
    promise = disputes.accept_offer(discussion, buyer, offer.id)
    db.session.commit()
    return order, promise


def test_an_order_open_for_a_claim_is_eligible(api, tokens, ready_order):
    order = ready_order()
    response = _quote(api, tokens["buyer"], order)
    assert response.status_code == 200, response.json
    body = response.json
    assert (body["eligible"], body["reasons"], body["refusal"]) == (True, [], None)
    assert (body["total"], body["max_total"]) == ("138.45", "138.45")  # 123.45 + 15.00


def test_an_agreed_refund_within_its_due_date_is_settlement_pending(
        api, tokens, create_order, create_discussion, buyer, seller):
    order, promise = _agreed_refund(create_order, create_discussion, buyer, seller,
                                    amount=5_000)
    body = _quote(api, tokens["buyer"], order).json
    assert body["eligible"] is False
    assert body["reasons"][0] == "settlement_pending"
    assert body["refusal"]["code"] == "settlement_pending"
    assert body["refusal"]["due_at"] == promise.due_at.isoformat()


def test_an_agreed_full_refund_still_running_names_the_promise_first(
        api, tokens, create_order, create_discussion, buyer, seller):
    # Owed, not yet confirmed: the buyer hears of the promise and its due date (it may still
    # fail and give the room back), as on the order page; nothing is left meanwhile.
    order, promise = _agreed_refund(create_order, create_discussion, buyer, seller)
    body = _quote(api, tokens["buyer"], order, claim_type="not_received").json
    assert (body["eligible"], body["reasons"][0]) == (False, "settlement_pending")
    assert body["refusal"]["due_at"] == promise.due_at.isoformat()
    assert body["max_total"] == "0.00"


def test_a_confirmed_full_refund_is_already_compensated(
        api, tokens, create_order, create_discussion, buyer, seller):
    # The whole order total was paid to the buyer: nothing is left for a claim.
    order, promise = _agreed_refund(create_order, create_discussion, buyer, seller)
    ledger.confirm(promise.id, buyer)
    db.session.commit()
    body = _quote(api, tokens["buyer"], order, claim_type="not_received").json
    assert (body["eligible"], body["reasons"][0]) == (False, "already_compensated")
    assert body["refusal"]["code"] == "already_compensated"
    assert body["max_total"] == "0.00"


def test_someone_elses_order_is_404(api, tokens, ready_order):
    order = ready_order()
    assert _quote(api, tokens["seller"], order).status_code == 404
    assert api.get("/api/v1/orders/NO-SUCH/claim-quote",
                   token=tokens["buyer"]).status_code == 404
