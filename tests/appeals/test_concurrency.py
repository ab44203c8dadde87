"""Appeals under real concurrency (PostgreSQL): one reviewer, one decision, one change of
money, and the order's total never exceeded.

SQLite serialises writers, so it cannot show a lost update or a double decision: these run
on PostgreSQL with real connections, each thread with a session of its own, released
together by a barrier. CI repeats them (the ``race`` marker).
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from threading import Barrier

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from accounts import services as accounts
from accounts.models import User
from accounts.roles import Role
from appeals import services as appeals
from appeals.models import Appeal
from appeals.queries import evidence
from appeals.states import AppealState, Outcome
from arbiter import clock
from arbiter.audit import AuditEntry
from arbiter.documents import DecisionDocument
from arbiter.errors import DomainError
from arbiter.extensions import db
from claims import services as claims
from claims.models import Claim
from claims.states import ClaimType, Decision
from disputes import services as disputes
from disputes.models import Discussion
from disputes.states import ExpectedOutcome, OfferKind, Reason, Verdict
from orders.models import Order
from orders.services import upsert_order
from orders.states import PaymentMethod
from settlements import services as ledger
from settlements.models import Settlement
from settlements.states import Party, SettlementState
from tests.appeals.conftest import RATIONALE, STATEMENT
from tests.claims.helpers import IBAN
from tests.factories import PASSWORD

pytestmark = [pytest.mark.postgres_only, pytest.mark.race]
THREADS = 20
PRICE, SHIPPING = 100_000, 500
TOTAL = PRICE + SHIPPING  # 1,005.00 zł: below the four-eyes threshold for claims
ANSWER = "The buyer was refunded what the photos show; nothing else was damaged."


def _people():
    buyer = accounts.create_user("appeal-buyer@example.test", "Buyer", PASSWORD)
    seller = accounts.create_user("appeal-seller@example.test", "Seller", PASSWORD)
    judge = accounts.create_user("appeal-judge@example.test", "Judge", PASSWORD,
                                 roles=tuple(Role))
    db.session.flush()
    return buyer, seller, judge


def _discussion(order, buyer, hours_ago: int = 25) -> Discussion:
    discussion = disputes.open_discussion(
        order, buyer, reason=Reason.NOT_AS_DESCRIBED, expected_outcome=ExpectedOutcome.REFUND,
        description="A different frame size than listed.")
    db.session.flush()
    for name in ("opened_at", "respond_by", "escalation_available_at", "last_activity_at"):
        setattr(discussion, name, getattr(discussion, name) - timedelta(hours=hours_ago))
    db.session.flush()
    return discussion


def _appealed_verdict(amount: int = 30_000):
    """A committed partial verdict by the judge, appealed by the buyer and answered by the
    seller (so it can be decided at once)."""
    buyer, seller, judge = _people()
    order = upsert_order({
        "external_id": "APPEAL-RACE", "buyer_email": buyer.email,
        "seller_email": seller.email, "item_title": "Bike", "item_price": PRICE,
        "shipping_cost": SHIPPING, "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
        "paid_at": clock.now() - timedelta(days=3)}).order
    discussion = _discussion(order, buyer)
    disputes.escalate(discussion, buyer, "The seller does not answer about the frame.")
    disputes.take_case(discussion, judge)
    disputes.decide(discussion, judge, verdict=Verdict.PARTIAL, amount=amount,
                    rationale=RATIONALE)
    appeal = appeals.file_appeal(discussion, buyer, STATEMENT)
    appeals.answer(appeal, seller, ANSWER)
    db.session.commit()
    return buyer, seller, judge, order, discussion, appeal


def _staff(count: int, prefix: str = "reviewer") -> list[int]:
    ids = [accounts.create_user(f"{prefix}-{n}@example.test", f"Reviewer {n}", PASSWORD,
                                roles=tuple(Role)) for n in range(count)]
    db.session.commit()
    return [user.id for user in ids]


def _ready(appeal_id: int, reviewer_id: int) -> None:
    appeal = db.session.get(Appeal, appeal_id)
    reviewer = db.session.get(User, reviewer_id)
    appeals.take(appeal, reviewer)
    for item in evidence(appeal):
        appeals.mark_read(appeal, reviewer, item.key)
    db.session.commit()


def _attempt(app, barrier, action):
    """Run ``action`` as one request would, on a connection of its own (taken after the
    barrier: the pool has fewer connections than threads): commit and answer
    200, or roll back and answer with the status the views give the refusal (a concurrent
    change caught by the version column is a 409 too, see arbiter.errors). Anything else
    propagates and fails the test: that would be a 500."""

    def run():
        with app.app_context():
            barrier.wait()
            try:
                action()
                db.session.commit()
                return 200, None
            except DomainError as error:
                db.session.rollback()
                return error.status, error.code
            except StaleDataError:
                db.session.rollback()
                return 409, "concurrent_change"
            finally:
                db.session.remove()

    return run


def _race(app, actions):
    barrier = Barrier(len(actions))
    with ThreadPoolExecutor(max_workers=len(actions)) as pool:
        futures = [pool.submit(_attempt(app, barrier, action)) for action in actions]
        results = [future.result() for future in futures]
    db.session.remove()
    return results


def _counted(order_id: int) -> list[Settlement]:
    return list(db.session.scalars(select(Settlement).where(
        Settlement.order_id == order_id, Settlement.payee == Party.BUYER,
        Settlement.amount.is_not(None),
        Settlement.state.in_((SettlementState.OWED, SettlementState.CONFIRMED)))))


def _audited(*actions: str) -> int:
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action.in_(actions)))


def test_twenty_reviewers_take_one_appeal_one_wins(committed):
    """Twenty different staff members, none of them the decider nor a party, take the same
    appeal at once: exactly one becomes its reviewer, the others hear 409 (who has it),
    nobody gets a 500, and the take is audited and told to the parties once."""
    app = committed
    *_, appeal = _appealed_verdict()
    appeal_id = appeal.id
    staff_ids = _staff(THREADS)

    def take(staff_id):
        return lambda: appeals.take(db.session.get(Appeal, appeal_id),
                                    db.session.get(User, staff_id))

    results = _race(app, [take(staff_id) for staff_id in staff_ids])

    statuses = [status for status, _ in results]
    assert statuses.count(200) == 1, results
    assert all(result in ((200, None), (409, "appeal_taken"), (409, "concurrent_change"))
               for result in results), results
    appeal = db.session.get(Appeal, appeal_id)
    winner = staff_ids[statuses.index(200)]
    assert appeal.state is AppealState.UNDER_REVIEW and appeal.reviewer_id == winner
    assert appeal.version == 3  # filed, answered, taken: once
    assert _audited("appeal.take") == 1


def test_twenty_decisions_on_one_appeal_make_one_decision(committed):
    """The reviewer sends twenty different decisions at once (upheld, varied to several
    amounts, overturned): one is recorded, with one decision document number, and the
    ledger changes once; the rest are 409, never a 500."""
    app = committed
    _, _, _, order, discussion, appeal = _appealed_verdict()
    order_id, discussion_id, appeal_id = order.id, discussion.id, appeal.id
    (reviewer_id,) = _staff(1)
    _ready(appeal_id, reviewer_id)
    choices = [(Outcome.UPHELD, None), (Outcome.OVERTURNED, None),
               (Outcome.VARIED, 50_000), (Outcome.VARIED, 70_000), (Outcome.VARIED, TOTAL),
               (Outcome.VARIED, 10_000)]

    def decide(number):
        outcome, amount = choices[number % len(choices)]
        return lambda: appeals.decide(
            db.session.get(Appeal, appeal_id), db.session.get(User, reviewer_id),
            outcome=outcome, amount=amount, rationale=RATIONALE)

    results = _race(app, [decide(number) for number in range(THREADS)])

    statuses = [status for status, _ in results]
    assert statuses.count(200) == 1, results
    assert set(statuses) == {200, 409}, results
    appeal = db.session.get(Appeal, appeal_id)
    outcome, amount = choices[statuses.index(200) % len(choices)]
    assert appeal.state.value == outcome.value
    assert _audited("appeal.uphold", "appeal.vary", "appeal.overturn") == 1
    numbers = set(db.session.scalars(select(DecisionDocument.number).where(
        DecisionDocument.object_type == "appeals", DecisionDocument.object_id == appeal_id)))
    assert len(numbers) == 1
    # the ledger: the verdict's row stands (upheld) or is replaced once
    rows = db.session.scalars(select(Settlement).where(
        Settlement.discussion_id == discussion_id).order_by(Settlement.id)).all()
    if outcome is Outcome.UPHELD:
        assert [(r.amount, r.state) for r in rows] == [(30_000, SettlementState.OWED)]
    elif outcome is Outcome.OVERTURNED:
        assert [(r.amount, r.state) for r in rows] == [(30_000, SettlementState.CANCELLED)]
    else:
        assert [(r.amount, r.state, r.appeal_id) for r in rows] == [
            (30_000, SettlementState.CANCELLED, None),
            (amount, SettlementState.OWED, appeal_id)]
    order = db.session.get(Order, order_id)
    assert order.compensation_committed == sum(r.amount for r in _counted(order_id))
    assert order.compensation_committed == appeal.new_amount <= order.total


def test_a_varied_appeal_racing_an_offer_and_a_claim_never_exceeds_the_total(committed):
    """One order of 1,005.00 zł. The first discussion's partial verdict (300.00 zł) was
    paid and is appealed by the buyer, ready to decide; on a second discussion of the same
    order the seller's partial refund (400.00 zł) waits for the buyer, and a claim on the
    order is under review by another advisor. Twenty requests at once, each valid on its
    own: the reviewer varies the verdict (to 600.00, 800.00 or 1,005.00 zł), the buyer
    accepts the offer, the claim's advisor approves (the claim's maximum, or 500.00 or
    200.00 zł). Whatever wins, what is owed or paid to the buyer equals
    ``orders.compensation_committed`` and stays within the total; every refusal is a clean
    409 or 422."""
    app = committed
    buyer, seller, _judge, order, first, appeal = _appealed_verdict(30_000)
    (verdict_row,) = db.session.scalars(select(Settlement).where(
        Settlement.discussion_id == first.id)).all()
    ledger.confirm(verdict_row.id, buyer)  # the seller paid the verdict's 300.00 zł
    second = _discussion(order, buyer)
    offer = disputes.make_offer(second, seller, kind=OfferKind.PARTIAL_REFUND, amount=40_000)
    claims_advisor = accounts.create_user("claims-advisor@example.test", "Claims Advisor",
                                          PASSWORD, roles=tuple(Role))
    claim = claims.file_claim(order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                              description="A different frame size than listed.",
                              payout_account=IBAN)
    claims.take(claim, claims_advisor)
    db.session.commit()
    assert claim.max_total == TOTAL - 30_000
    (reviewer_id,) = _staff(1)
    _ready(appeal.id, reviewer_id)
    ids = {"order": order.id, "appeal": appeal.id, "second": second.id, "offer": offer.id,
           "claim": claim.id, "buyer": buyer.id, "advisor": claims_advisor.id,
           "reviewer": reviewer_id}

    def vary(amount):
        return lambda: appeals.decide(
            db.session.get(Appeal, ids["appeal"]), db.session.get(User, ids["reviewer"]),
            outcome=Outcome.VARIED, amount=amount, rationale=RATIONALE)

    def accept():
        disputes.accept_offer(db.session.get(Discussion, ids["second"]),
                              db.session.get(User, ids["buyer"]), ids["offer"])

    def approve(decision, amount):
        return lambda: claims.decide(
            db.session.get(Claim, ids["claim"]), db.session.get(User, ids["advisor"]),
            decision=decision, amount=amount, rationale=RATIONALE)

    varied = [vary(60_000), vary(80_000), vary(TOTAL)]
    approvals = [approve(Decision.APPROVED, None),
                 approve(Decision.PARTIALLY_APPROVED, 50_000),
                 approve(Decision.PARTIALLY_APPROVED, 20_000)]
    actions = []
    for number in range(THREADS):
        kind = number % 3
        actions.append(varied[number // 3 % 3] if kind == 0 else accept if kind == 1
                       else approvals[number // 3 % 3])

    results = _race(app, actions)

    statuses = [status for status, _ in results]
    assert set(statuses) <= {200, 409, 422}, results
    assert 200 in statuses, results
    order = db.session.get(Order, ids["order"])
    counted = _counted(ids["order"])
    assert sum(row.amount for row in counted) == order.compensation_committed <= order.total
    # at most one success per kind of request: one decision of the appeal, one acceptance
    # of the offer, one decision of the claim
    for kind in range(3):
        assert [s for n, s in enumerate(statuses) if n % 3 == kind].count(200) <= 1, results
    appeal = db.session.get(Appeal, ids["appeal"])
    assert (appeal.state is AppealState.VARIED) == (statuses[0::3].count(200) == 1)
