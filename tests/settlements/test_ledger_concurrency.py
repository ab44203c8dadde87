"""The ledger's invariant and the follow-through under real concurrency (PostgreSQL).

SQLite serialises writers, so it cannot show a lost update or a double action: these run
on PostgreSQL with real connections, threads released together by a barrier. CI repeats
them (the ``race`` marker).
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from sqlalchemy import func, select

from accounts import services as accounts
from accounts.models import User
from accounts.roles import Role
from arbiter import clock
from arbiter.audit import AuditEntry
from arbiter.errors import DomainError
from arbiter.extensions import db
from arbiter.notifications import Notification
from arbiter.sweeper import JOBS, run_job, run_sweep
from claims import services as claims
from claims.models import Claim
from claims.states import ClaimType
from disputes import services as disputes
from disputes.models import Discussion
from disputes.states import DiscussionState, ExpectedOutcome, OfferKind, Reason
from orders.models import Order
from orders.services import upsert_order
from orders.states import PaymentMethod
from settlements import services as ledger
from settlements.models import Settlement
from settlements.states import Party, SettlementState, Source
from tests.claims.helpers import IBAN
from tests.conftest import FreshContextClient
from tests.factories import PASSWORD, logged_in

pytestmark = [pytest.mark.postgres_only, pytest.mark.race]
REQUESTS = 50
PRICE, SHIPPING = 100_000, 500
TOTAL = PRICE + SHIPPING  # 1,005.00 zł: below the four-eyes threshold for claims
SUCCESS = {302, 303}


def _people(prefix: str = "race"):
    buyer = accounts.create_user(f"{prefix}-buyer@example.test", "Buyer", PASSWORD)
    seller = accounts.create_user(f"{prefix}-seller@example.test", "Seller", PASSWORD)
    judge = accounts.create_user(f"{prefix}-judge@example.test", "Judge", PASSWORD,
                                 roles=tuple(Role))
    reviewer = accounts.create_user(f"{prefix}-reviewer@example.test", "Reviewer", PASSWORD,
                                    roles=tuple(Role))
    db.session.flush()
    return buyer, seller, judge, reviewer


def _order(buyer, seller, number: int) -> Order:
    return upsert_order({
        "external_id": f"LEDGER-{number}", "buyer_email": buyer.email,
        "seller_email": seller.email, "item_title": "Bike", "item_price": PRICE,
        "shipping_cost": SHIPPING, "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
        "paid_at": clock.now() - timedelta(days=3)}).order


def _discussion(order, buyer) -> Discussion:
    discussion = disputes.open_discussion(
        order, buyer, reason=Reason.NOT_AS_DESCRIBED, expected_outcome=ExpectedOutcome.REFUND,
        description="A different frame size than listed.")
    db.session.flush()
    for name in ("opened_at", "respond_by", "escalation_available_at", "last_activity_at"):
        setattr(discussion, name, getattr(discussion, name) - timedelta(hours=25))
    db.session.flush()
    return discussion


def _cookie(app, user) -> str:
    login = app.test_client()
    assert logged_in(login, user).status_code == 302
    return login.get_cookie("session").value


def _counted(order_id: int) -> list[Settlement]:
    return list(db.session.scalars(select(Settlement).where(
        Settlement.order_id == order_id, Settlement.payee == Party.BUYER,
        Settlement.amount.is_not(None),
        Settlement.state.in_((SettlementState.OWED, SettlementState.CONFIRMED)))))


def test_fifty_mixed_attempts_on_one_order_never_exceed_its_total(committed):
    """One order of 1,005.00 zł, and everything on it that may pay its buyer at once.

    The schema allows one open discussion per order and one live claim per order, so the
    honest mix is: the open discussion is escalated and taken by an advisor, with the
    seller's partial-refund offer (400.00 zł) still pending, and a claim on the same order
    (filed once the discussion's window passed) under review by a second advisor. Each of
    the 50 requests is valid on its own against that state:

    - 16 acceptances of the offer by the buyer;
    - 17 verdicts by the discussion's advisor (buyer's favour = the whole total, or partial
      700.00 / 300.00 zł);
    - 17 claim decisions by the claim's advisor (approval of the claim's maximum, the whole
      total, or partial approvals of 700.00 / 500.00 / 200.00 zł).

    The discussion's row lock orders the offer, the verdict and the claim approval (which
    ends the discussion as settled by the platform); the order's row lock and its CHECK
    order the money. Whatever wins, what is owed or paid to the buyer stays within the
    total and equals ``orders.compensation_committed``; every success wrote exactly one
    ledger row, and every refusal is a clean 409 or 422, never a 500.
    """
    app = committed
    buyer, seller, judge, reviewer = _people()
    order = _order(buyer, seller, 1)
    discussion = _discussion(order, buyer)
    offer = disputes.make_offer(discussion, seller, kind=OfferKind.PARTIAL_REFUND,
                                amount=40_000)
    disputes.escalate(discussion, buyer, "The seller offers too little for a wrong frame.")
    disputes.take_case(discussion, judge)
    claim = claims.file_claim(order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                              description="A different frame size than listed.",
                              payout_account=IBAN)
    claims.take(claim, reviewer)
    db.session.commit()
    assert claim.max_total == TOTAL
    order_id, discussion_id, offer_id, claim_id = order.id, discussion.id, offer.id, claim.id
    cookies = {user.id: _cookie(app, user) for user in (buyer, judge, reviewer)}
    rationale = "The frame size in the listing differs from the one delivered."

    attempts = []
    for number in range(REQUESTS):
        if number % 3 == 0:
            attempts.append((buyer.id, f"/discussions/{discussion_id}/offers/{offer_id}/accept",
                             {"confirmed": "1"}))
        elif number % 3 == 1:
            verdict = [{"verdict": "buyer_favour"}, {"verdict": "partial", "amount": "700.00"},
                       {"verdict": "partial", "amount": "300.00"}][number % 9 // 3]
            # The confirmed post of the verdict form: the amount its confirmation states.
            confirm = verdict.get("amount") or f"{TOTAL // 100}.{TOTAL % 100:02d}"
            attempts.append((judge.id, f"/discussions/{discussion_id}/decide",
                             {**verdict, "rationale": rationale, "confirmed": "1",
                              "confirm_amount": confirm}))
        else:
            decision = [{"decision": "approved"},
                        {"decision": "partially_approved", "amount": "700.00"},
                        {"decision": "partially_approved", "amount": "500.00"},
                        {"decision": "partially_approved", "amount": "200.00"}][number % 4]
            # The confirmed post of the approval form: the amount its confirmation states.
            confirm = decision.get("amount") or f"{TOTAL // 100}.{TOTAL % 100:02d}"
            attempts.append((reviewer.id, f"/claims/{claim_id}/decide",
                             {**decision, "rationale": rationale, "confirmed": "1",
                              "confirm_amount": confirm}))
    assert len(attempts) == REQUESTS
    barrier = Barrier(REQUESTS)

    def attempt(index):
        user_id, url, data = attempts[index]
        browser = FreshContextClient(app, app.response_class, use_cookies=True)
        browser.set_cookie("session", cookies[user_id])
        barrier.wait()
        return browser.post(url, data=data, headers={"Accept-Language": "en"}).status_code

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        statuses = list(pool.map(attempt, range(REQUESTS)))

    assert set(statuses) <= SUCCESS | {409, 422}, statuses
    successes = sum(status in SUCCESS for status in statuses)
    assert successes >= 1, statuses
    db.session.remove()
    order = db.session.get(Order, order_id)
    counted = _counted(order_id)
    assert sum(row.amount for row in counted) <= order.total
    assert sum(row.amount for row in counted) == order.compensation_committed
    # every success is exactly one row; at most one per source (offer, verdict, claim)
    assert len(counted) == successes, (statuses, [(r.source, r.amount) for r in counted])
    assert len({row.source for row in counted}) == len(counted)
    # the offer and the verdict exclude each other: both need the discussion talking
    assert {Source.OFFER, Source.VERDICT} - {row.source for row in counted}
    claim = db.session.get(Claim, claim_id)
    assert (claim.approved_amount is not None) == any(r.source is Source.CLAIM for r in counted)
    if claim.approved_amount is not None:
        assert db.session.get(Discussion, discussion_id).state in (
            DiscussionState.SETTLED_BY_PLATFORM, DiscussionState.DECIDED)


def _promises(count: int, buyer, seller) -> list[int]:
    """``count`` orders, each with an accepted full refund: owed, due in 7 days."""
    ids = []
    for number in range(count):
        discussion = _discussion(_order(buyer, seller, 100 + number), buyer)
        offer = disputes.make_offer(discussion, seller, kind=OfferKind.REFUND)
        db.session.flush()
        ids.append(disputes.accept_offer(discussion, buyer, offer.id).id)
    db.session.commit()
    return ids


def _attempt(app, action, barrier):
    """Run ``action`` in a request-like context of its own: commit, or roll back and
    answer with the refusal's status (the mapping the views apply)."""

    def run():
        with app.app_context():
            barrier.wait()
            try:
                result = action()
                db.session.commit()
                return 200 if result is None or not isinstance(result, int) else result
            except DomainError as error:
                db.session.rollback()
                return error.status
            finally:
                db.session.remove()

    return run


def _job(name: str):
    run_sweep(now=clock.now() - timedelta(days=3650))  # registers every job; nothing is due
    return next(job for job in JOBS if job.name == name)


def test_confirm_report_and_the_deadline_job_at_once_one_wins(committed, time_machine):
    """Per settlement, the buyer's "it arrived", the buyer's "it did not arrive" and the
    sweeper's lapse (7 days of silence after the due date) race: exactly one changes the
    row; the buyer's losing action gets 409, and the sweeper skips a row it lost (its
    SKIP LOCKED selection, or the row no longer owed)."""
    app = committed
    buyer, seller, _, _ = _people("follow")
    rows = 8
    ids = _promises(rows, buyer, seller)
    due_at = db.session.get(Settlement, ids[0]).due_at
    buyer_id = buyer.id
    time_machine.move_to(due_at + timedelta(days=8), tick=True)
    db.session.remove()
    lapse = _job("settlement.lapse")
    barrier = Barrier(2 * rows + 1)
    actions = []
    for settlement_id in ids:
        actions.append(_attempt(app, lambda s=settlement_id: ledger.confirm(
            s, db.session.get(User, buyer_id)), barrier))
        actions.append(_attempt(app, lambda s=settlement_id: ledger.report_failed(
            s, db.session.get(User, buyer_id), "Nothing came."), barrier))
    actions.append(_attempt(app, lambda: run_job(lapse, batch_size=2), barrier))

    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        results = [future.result() for future in [pool.submit(a) for a in actions]]

    buyer_statuses, lapsed = results[:-1], results[-1]
    assert set(buyer_statuses) <= {200, 409}, buyer_statuses
    buyer_wins = buyer_statuses.count(200)
    assert buyer_wins + lapsed == rows, (buyer_statuses, lapsed)
    for confirm, report in zip(buyer_statuses[::2], buyer_statuses[1::2], strict=True):
        assert 200 not in (confirm, report) or {confirm, report} == {200, 409}
    db.session.remove()
    settled = db.session.scalars(select(Settlement).where(Settlement.id.in_(ids))).all()
    assert all(row.state is not SettlementState.OWED for row in settled)
    transitions = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action.in_(("settlement.confirm", "settlement.report_failed",
                               "settlement.lapse"))))
    assert transitions == rows
    for row in settled:
        order = db.session.get(Order, row.order_id)
        discussion = db.session.get(Discussion, row.discussion_id)
        if row.state is SettlementState.CONFIRMED:
            assert order.compensation_committed == row.amount
            assert discussion.state is DiscussionState.RESOLVED
        else:
            assert order.compensation_committed == 0
            assert discussion.state is DiscussionState.IN_PROGRESS
    # the sweeper afterwards finds nothing more to do
    with app.app_context():
        assert run_job(lapse, batch_size=2) == 0


def test_two_sweeps_at_once_do_nothing_twice(committed, time_machine):
    """Two sweepers over the same due rows, in batches of 3: every buyer asked once, then
    every silent promise lapsed once (notifications and audit entries counted)."""
    app = committed
    buyer, seller, _, _ = _people("sweep")
    rows = 13
    ids = _promises(rows, buyer, seller)
    due_at = db.session.get(Settlement, ids[0]).due_at
    db.session.remove()

    def two_sweeps(name):
        job = _job(name)
        db.session.remove()
        barrier = Barrier(2)
        with ThreadPoolExecutor(max_workers=2) as pool:
            futures = [pool.submit(_attempt(app, lambda: run_job(job, batch_size=3), barrier))
                       for _ in range(2)]
            return [future.result() for future in futures]

    def count(model, *where):
        db.session.remove()
        return db.session.scalar(select(func.count()).select_from(model).where(*where))

    time_machine.move_to(due_at + timedelta(days=1), tick=True)
    done = two_sweeps("settlement.ask_buyer")
    assert sum(done) == rows, done
    assert count(Notification, Notification.kind == "settlement.overdue") == rows
    assert count(AuditEntry, AuditEntry.action == "settlement.buyer_asked") == rows
    assert sum(two_sweeps("settlement.ask_buyer")) == 0

    time_machine.move_to(due_at + timedelta(days=8), tick=True)
    done = two_sweeps("settlement.lapse")
    assert sum(done) == rows, done
    assert count(AuditEntry, AuditEntry.action == "settlement.lapse") == rows
    # buyer and seller told once each, every discussion reopened once
    assert count(Notification, Notification.kind == "settlement.failed") == 2 * rows
    assert count(Notification, Notification.kind == "discussion.reopened") == 2 * rows
    assert count(Discussion, Discussion.state == DiscussionState.IN_PROGRESS) == rows
    assert count(Order, Order.compensation_committed != 0) == 0
    assert sum(two_sweeps("settlement.lapse")) == 0
