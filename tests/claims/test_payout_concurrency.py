"""Returned transfers under real concurrency on PostgreSQL: nothing is paid twice."""

from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from accounts import services as accounts
from accounts.roles import Role
from arbiter.extensions import db
from claims import services
from claims.models import Claim, Payout, PayoutBatch
from claims.states import Decision, PayoutState
from orders.models import Order
from settlements.models import Settlement
from settlements.states import SettlementKind, SettlementState
from tests.claims.test_concurrency import _clients, _committed_claims
from tests.factories import PASSWORD, enrol

pytestmark = [pytest.mark.postgres_only, pytest.mark.race]
REQUESTS = 10
CORRECTED = "PL60102010260000042270201111"


def _paid_claim():
    """A committed claim, approved, exported by one finance person and confirmed by another."""
    staff, (claim_id,) = _committed_claims(1)
    colleague = accounts.create_user("race-colleague@example.test", "Race Colleague", PASSWORD,
                                     roles=[Role.FINANCE])
    db.session.flush()
    for person in (staff, colleague):
        enrol(person)  # staff sign in with their authenticator app
    services.decide(db.session.get(Claim, claim_id), staff, decision=Decision.APPROVED)
    batch = services.export_payouts(staff)
    services.mark_batch_paid(batch.id, colleague)
    db.session.commit()
    return staff, colleague, db.session.get(Claim, claim_id)


def _run(call):
    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        return list(pool.map(call, range(REQUESTS)))


def test_a_returned_payout_is_recorded_once_when_finance_clicks_many_times(committed):
    app = committed
    staff, _colleague, claim = _paid_claim()
    payout_id, order_id = claim.payout.id, claim.order_id
    committed_before = db.session.get(Order, order_id).compensation_committed
    client = _clients(app, staff, REQUESTS)

    statuses = _run(lambda _: client().post(f"/staff/payouts/{payout_id}/failed",
                                            data={"reason": "AC04 account closed"},
                                            headers={"Accept-Language": "en"}).status_code)

    assert statuses.count(302) == 1, statuses
    assert statuses.count(409) == REQUESTS - 1, statuses
    db.session.remove()
    rows = db.session.scalars(select(Settlement).where(
        Settlement.order_id == order_id, Settlement.kind == SettlementKind.PAYOUT)
        .order_by(Settlement.id)).all()
    assert [r.state for r in rows] == [SettlementState.FAILED, SettlementState.OWED]
    assert db.session.get(Order, order_id).compensation_committed == committed_before


def test_concurrent_corrections_and_exports_pay_the_returned_payout_exactly_once(committed):
    app = committed
    staff, colleague, claim = _paid_claim()
    payout_id, claim_id, buyer = claim.payout.id, claim.id, claim.buyer
    services.fail_payout(payout_id, staff, "AC04 account closed")
    db.session.commit()
    # The requests below end this session: keep who logs in as plain values.
    buyer, staff, colleague = (SimpleNamespace(id=user.id, email=user.email,
                                               is_staff=user.is_staff)
                               for user in (buyer, staff, colleague))

    # The buyer sends the corrected account from several tabs at once: one re-issue.
    buyer_client = _clients(app, buyer, REQUESTS)
    statuses = _run(lambda _: buyer_client().post(
        f"/claims/{claim_id}/payout-account", data={"payout_account": CORRECTED},
        headers={"Accept-Language": "en"}).status_code)
    assert statuses.count(302) == 1, statuses
    assert statuses.count(409) == REQUESTS - 1, statuses
    db.session.remove()
    (reissue,) = db.session.scalars(select(Payout).where(Payout.reissue_of_id == payout_id))
    assert reissue.state is PayoutState.PENDING and reissue.account == CORRECTED

    # Two finance people export at once, each having confirmed the same list.
    first, second = _clients(app, staff, REQUESTS // 2), _clients(app, colleague, REQUESTS // 2)

    def export(number):
        browser = (first if number % 2 else second)()
        return browser.post("/staff/payouts/export", data={"payout_id": [reissue.id]},
                            headers={"Accept-Language": "en"}).status_code

    # Each barrier waits for its half: run the halves in one pool so both fill.
    statuses = _run(export)
    assert statuses.count(303) == 1, statuses
    assert statuses.count(409) == REQUESTS - 1, statuses
    db.session.remove()
    batches = db.session.scalars(select(PayoutBatch).order_by(PayoutBatch.id)).all()
    assert len(batches) == 2  # the first (paid) batch and the re-issue's
    assert [p.id for p in batches[1].payouts] == [reissue.id]
    assert db.session.scalar(select(func.count()).select_from(Payout).where(
        Payout.batch_id.is_not(None), Payout.id == reissue.id)) == 1
