"""Races on real PostgreSQL with real concurrent connections (SQLite cannot show them)."""

import csv
import io
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from sqlalchemy import func, select, text

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
from settlements.models import Settlement
from tests.claims import PLAIN_VERSION
from tests.claims.helpers import IBAN
from tests.conftest import FreshContextClient
from tests.database import empty_tables
from tests.factories import PASSWORD, logged_in

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
    assert logged_in(login, user).status_code == 302
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
        # The confirmed post of the approval form (its confirmation page states 105.00 zł).
        return client().post(f"/claims/{claim_id}/decide",
                             data={"decision": "approved", "confirmed": "1",
                                   "confirm_amount": "105.00"},
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


def test_twenty_concurrent_second_approvals_make_one_decision_and_one_payout(committed):
    """Four eyes under a race: 20 confirmations of one approval awaiting its second
    approval (another senior, 20 connections): one wins, one payout, one ledger row; the
    others are refused with 409."""
    app = committed
    seconds = 20
    staff, (claim_id,) = _committed_claims(1)
    senior = accounts.create_user("race-senior@example.test", "Race Senior", PASSWORD,
                                  roles=(Role.SENIOR,))
    claim = db.session.get(Claim, claim_id)
    app.config["CLAIM_SECOND_APPROVAL_ABOVE"] = 10_000  # the claim pays 105.00 zł
    try:
        services.decide(claim, staff, decision=Decision.APPROVED)
        db.session.commit()
        assert claim.state is ClaimState.AWAITING_SECOND_APPROVAL
        client = _clients(app, senior, seconds)

        def confirm(_):
            return client().post(f"/claims/{claim_id}/second-approval/confirm",
                                 data={"confirm_amount": "105.00"},
                                 headers={"Accept-Language": "en"}).status_code

        with ThreadPoolExecutor(max_workers=seconds) as pool:
            statuses = list(pool.map(confirm, range(seconds)))
    finally:
        app.config["CLAIM_SECOND_APPROVAL_ABOVE"] = 200_000

    assert statuses.count(302) == 1, statuses
    assert statuses.count(409) == seconds - 1, statuses
    db.session.remove()
    claim = db.session.get(Claim, claim_id)
    assert claim.state is ClaimState.APPROVED and claim.second_approver_id == senior.id
    (payout,) = db.session.scalars(select(Payout)).all()
    assert (payout.amount, payout.second_approver_id) == (10_500, senior.id)
    assert db.session.scalar(select(func.count()).select_from(Settlement).where(
        Settlement.claim_id == claim_id)) == 1
    assert claim.order.compensation_committed == 10_500
    assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "claim.confirm_approval")) == 1


def test_concurrent_approvals_for_one_buyer_never_exceed_the_per_buyer_cap(committed):
    """Five approvals of one buyer's claims at once, under a version whose per-buyer cap
    leaves room for 250.00 zł (claims of 105.00 zł): the buyer's row lock serialises them,
    so two are paid in full and the others are refused: the 40.00 zł left is not the
    105.00 zł their advisor confirmed (without the lock all five would pay 525.00 zł)."""
    from claims.models import PolicyVersion

    app = committed
    version = PolicyVersion(
        code="2019-CAP", effective_from=clock.now() - timedelta(days=30),
        covered_payment_methods=["platform_payments", "bank_transfer"],
        shipping_covered_for=["platform_payments"], shipping_cap_minor=10_000,
        total_cap_minor=1_000_000, filing_window_days=90, **PLAIN_VERSION,
        per_buyer_cap_minor=25_000, per_buyer_window_days=730)
    db.session.add(version)
    db.session.commit()
    try:
        staff, claim_ids = _committed_claims(5)
        client = _clients(app, staff, len(claim_ids))

        def approve(claim_id):
            # confirmed with the amount the confirmation page would state when it is alone
            return client().post(f"/claims/{claim_id}/decide",
                                 data={"decision": "approved", "confirmed": "1",
                                       "confirm_amount": "105.00"},
                                 headers={"Accept-Language": "en"}).status_code

        with ThreadPoolExecutor(max_workers=len(claim_ids)) as pool:
            statuses = list(pool.map(approve, claim_ids))
        db.session.remove()
        amounts = sorted(db.session.scalars(select(Claim.approved_amount).where(
            Claim.approved_amount.is_not(None))))
        # The one the cap lowered was refused: its confirmed amount (105.00) is not what it
        # would pay (40.00), so nothing changed; the others found no room at all.
        assert amounts == [10_500, 10_500], (statuses, amounts)
        assert statuses.count(302) == 2 and statuses.count(409) == 3, statuses
        assert db.session.scalar(select(func.count()).select_from(Payout)) == 2
    finally:
        db.session.remove()
        tables = ", ".join(table.name for table in db.metadata.sorted_tables
                           if table.name != "policy_versions")
        with db.engine.begin() as connection:
            empty_tables(connection, tables)
            connection.execute(text("DELETE FROM policy_versions WHERE code = '2019-CAP'"))
