"""Races on real PostgreSQL with real concurrent connections (SQLite cannot show them)."""

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from sqlalchemy import func, select

from accounts import services as accounts
from accounts.roles import Role
from arbiter import clock
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from arbiter.storage import storage
from claims import services
from claims.models import Claim, Payout, PayoutBatch
from claims.states import ClaimState, ClaimType, Decision, PayoutState
from disputes import services as disputes
from disputes.states import ExpectedOutcome, Reason
from orders.services import upsert_order
from orders.states import PaymentMethod
from tests.claims.helpers import IBAN
from tests.conftest import FreshContextClient
from tests.factories import PASSWORD

pytestmark = [pytest.mark.postgres_only, pytest.mark.race]
REQUESTS = 50


def _committed_claims(count: int):
    """Committed users, orders with discussions past their window, and claims under review."""
    buyer = accounts.create_user("race-buyer@example.test", "Race Buyer", PASSWORD)
    seller = accounts.create_user("race-seller@example.test", "Race Seller", PASSWORD)
    staff = accounts.create_user("race-staff@example.test", "Race Staff", PASSWORD,
                                 roles=tuple(Role))
    db.session.flush()
    claims = []
    for number in range(count):
        order = upsert_order({
            "external_id": f"RACE-{number}", "buyer_email": buyer.email,
            "seller_email": seller.email, "item_title": "Race", "item_price": 10_000,
            "shipping_cost": 500, "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
            "paid_at": clock.now() - timedelta(days=3)}).order
        discussion = disputes.open_discussion(
            order, buyer, reason=Reason.NOT_AS_DESCRIBED,
            expected_outcome=ExpectedOutcome.REFUND, description="Wrong model.")
        db.session.flush()
        discussion.escalation_available_at -= timedelta(hours=25)
        db.session.flush()
        claim = services.file_claim(order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                                    description="Wrong model.", payout_account=IBAN)
        services.take(claim, staff)
        claims.append(claim.id)
    db.session.commit()
    return staff, claims


def _clients(app, user, count: int):
    login = app.test_client()
    assert login.post("/login", data={"email": user.email, "password": PASSWORD}
                      ).status_code == 302
    cookie = login.get_cookie("session").value
    barrier = Barrier(count)

    def client():
        browser = FreshContextClient(app, app.response_class, use_cookies=True)
        browser.set_cookie("session", cookie)
        barrier.wait()
        return browser

    return client


def test_fifty_concurrent_approvals_make_one_decision_and_one_payout(committed):
    app = committed
    staff, (claim_id,) = _committed_claims(1)
    client = _clients(app, staff, REQUESTS)

    def approve(_):
        return client().post(f"/claims/{claim_id}/decide", data={"decision": "approved"},
                             headers={"Accept-Language": "en"}).status_code

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        statuses = list(pool.map(approve, range(REQUESTS)))

    assert statuses.count(302) == 1, statuses
    assert statuses.count(409) == REQUESTS - 1, statuses
    db.session.remove()
    claim = db.session.get(Claim, claim_id)
    assert claim.state is ClaimState.APPROVED and claim.approved_amount == 10_500
    assert db.session.scalar(select(func.count()).select_from(Payout)) == 1
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "claim.approve")) == 1


def test_concurrent_exports_put_every_payout_in_exactly_one_batch(committed):
    app = committed
    staff, claim_ids = _committed_claims(5)
    for claim_id in claim_ids:
        services.decide(db.session.get(Claim, claim_id), staff, decision=Decision.APPROVED)
    db.session.commit()
    exports = 10
    client = _clients(app, staff, exports)

    payout_ids = list(db.session.scalars(select(Payout.id)))

    def export(_):  # each confirmed the same list on the export page (issue 20)
        return client().post("/staff/payouts/export", data={"payout_id": payout_ids},
                             headers={"Accept-Language": "en"}).status_code

    with ThreadPoolExecutor(max_workers=exports) as pool:
        statuses = list(pool.map(export, range(exports)))

    assert statuses.count(303) == 1, statuses
    assert statuses.count(409) == exports - 1, statuses
    db.session.remove()
    (batch,) = db.session.scalars(select(PayoutBatch)).all()
    rows = list(csv.DictReader(io.StringIO(storage().get(batch.csv_storage_key).decode())))
    assert sorted(int(row["claim_id"]) for row in rows) == sorted(claim_ids)
    assert set(db.session.scalars(select(Payout.state))) == {PayoutState.EXPORTED}
