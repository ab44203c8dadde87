"""Migration 0015 moves what existed into the ledger, on SQLite and PostgreSQL.

Before 0015 nothing stopped an order from being compensated twice: the story of issue 18
(a full refund accepted, then a second discussion and a paid claim on the same order).
The upgrade keeps the invariant: the earlier outcome counts, the later one is recorded
``cancelled`` with a note for review, and ``compensation_committed`` is the sum of the
rows that count.
"""

from datetime import timedelta

from sqlalchemy import select, text

from accounts.roles import Role
from arbiter import clock
from arbiter.extensions import db
from tests.arbiter.test_migrations import _migrate, _one, empty_app  # noqa: F401 - fixture

PRICE, SHIPPING = 10_000, 1_000
TOTAL = PRICE + SHIPPING


def _stories():
    """Through the services at head, on three orders of one buyer and one seller: a full
    refund accepted and confirmed (order 1), a claim approved and paid (order 2), and a
    partial verdict of 30.00 zł (order 3)."""
    from accounts.services import create_user
    from claims import services as claims
    from claims.states import ClaimType, Decision
    from disputes import services as disputes
    from disputes.states import ExpectedOutcome, OfferKind, Reason, Verdict
    from orders.services import upsert_order
    from orders.states import PaymentMethod
    from settlements import services as ledger
    from tests.claims.helpers import IBAN
    from tests.conftest import give_sellers_no_time
    from tests.factories import PASSWORD, age

    give_sellers_no_time(db.session)  # staff decide the claim at once
    buyer, seller = (create_user(f"{name}@example.test", name, PASSWORD)
                     for name in ("buyer", "seller"))
    advisor, finance = (create_user(f"{name}@example.test", name, PASSWORD, roles=tuple(Role))
                        for name in ("advisor", "finance"))
    db.session.commit()

    def discussion(number):
        order = upsert_order({
            "external_id": f"M-{number}", "buyer_email": buyer.email,
            "seller_email": seller.email, "item_title": "Lamp", "item_price": PRICE,
            "shipping_cost": SHIPPING, "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
            "paid_at": clock.now() - timedelta(days=2)}).order
        opened = disputes.open_discussion(
            order, buyer, reason=Reason.DAMAGED, expected_outcome=ExpectedOutcome.REFUND,
            description="Broken.")
        db.session.commit()
        age(opened, 25)
        return opened

    refunded = discussion(1)
    offer = disputes.make_offer(refunded, seller, kind=OfferKind.REFUND)
    db.session.flush()
    promise = disputes.accept_offer(refunded, buyer, offer.id)
    ledger.confirm(promise.id, buyer)

    paid = discussion(2)
    claim = claims.file_claim(paid.order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                              description="Broken lamp.", payout_account=IBAN)
    claims.take(claim, advisor)
    claims.decide(claim, advisor, decision=Decision.APPROVED)
    batch = claims.export_payouts(finance)
    claims.mark_batch_paid(batch.id, advisor)  # never the exporter (issue 20)

    decided = discussion(3)
    disputes.escalate(decided, buyer, "No answer.")
    disputes.take_case(decided, advisor)
    disputes.decide(decided, advisor, verdict=Verdict.PARTIAL, amount=3_000,
                    rationale="Half of the shade is cracked, as the photos show.")
    db.session.commit()
    ids = {"refunded_order": refunded.order_id, "paid_order": paid.order_id,
           "claim": claim.id, "claim_discussion": paid.id, "offer": offer.id,
           "decided": decided.id, "decided_order": decided.order_id,
           "decided_at": decided.decided_at}
    db.session.remove()
    return ids


def _rows(order_id: int):
    return db.session.execute(text(
        "SELECT kind, payee, amount, state, note FROM settlements WHERE order_id = :id "
        "ORDER BY id"), {"id": order_id}).all()


def test_0015_cancels_the_second_compensation_and_keeps_the_invariant(empty_app):  # noqa: F811
    _migrate(empty_app, "head")
    ids = _stories()
    _migrate(empty_app, "0014", down=True)
    # As it could happen before 0015: after the accepted full refund, the buyer opened a
    # second discussion on the same order and the claim on it was approved and paid.
    db.session.execute(text("UPDATE discussions SET order_id = :order WHERE id = :id"),
                       {"order": ids["refunded_order"], "id": ids["claim_discussion"]})
    db.session.execute(text("UPDATE claims SET order_id = :order WHERE id = :id"),
                       {"order": ids["refunded_order"], "id": ids["claim"]})
    db.session.commit()
    assert _one("SELECT state FROM discussions WHERE id = :id",
                id=ids["claim_discussion"]) == ("closed",)  # settled_by_platform, downgraded
    db.session.remove()

    _migrate(empty_app, "head")

    refund, payout, recovery = _rows(ids["refunded_order"])
    assert refund[:4] == ("refund", "buyer", TOTAL, "confirmed")
    assert payout[:4] == ("payout", "buyer", TOTAL, "cancelled")
    assert "exceeded the order total" in payout.note
    assert recovery[:4] == ("recovery", "platform", TOTAL, "owed")
    assert _rows(ids["paid_order"]) == []
    (verdict,) = _rows(ids["decided_order"])
    assert verdict[:4] == ("verdict", "buyer", 3_000, "owed")
    from settlements.models import Settlement

    due_at, created_at = db.session.execute(
        select(Settlement.due_at, Settlement.created_at)
        .where(Settlement.discussion_id == ids["decided"])).one()
    assert due_at - created_at == timedelta(days=14)
    committed = dict(db.session.execute(text(
        "SELECT id, compensation_committed FROM orders")).all())
    assert committed == {ids["refunded_order"]: TOTAL, ids["paid_order"]: 0,
                         ids["decided_order"]: 3_000}
    # every order's committed compensation is the sum of its counted rows
    assert db.session.execute(text("""
        SELECT count(*) FROM orders o WHERE o.compensation_committed <> COALESCE((
            SELECT SUM(s.amount) FROM settlements s WHERE s.order_id = o.id
              AND s.payee = 'buyer' AND s.amount IS NOT NULL
              AND s.state IN ('owed', 'confirmed')), 0)""")).scalar_one() == 0


def test_0015_keeps_a_later_outcome_that_fits_after_a_cancelled_one(empty_app):  # noqa: F811
    """Greedy in time order: a full payout that no longer fits is cancelled, and a later
    30.00 zł verdict that fits within what is left is kept (a running sum over every row
    would have cancelled it too)."""
    _migrate(empty_app, "head")
    ids = _stories()
    _migrate(empty_app, "0014", down=True)
    # order 1: a partial refund of 50.00 zł accepted (instead of the full one), then the
    # paid claim of the whole total, then the 30.00 zł verdict, in this order of time
    db.session.execute(text("UPDATE offers SET kind = 'partial_refund', amount = 5000 "
                            "WHERE id = :id"), {"id": ids["offer"]})
    for table, key in (("discussions", "claim_discussion"), ("claims", "claim"),
                       ("discussions", "decided")):
        db.session.execute(text(f"UPDATE {table} SET order_id = :order WHERE id = :id"),
                           {"order": ids["refunded_order"], "id": ids[key]})
    db.session.commit()
    db.session.remove()

    _migrate(empty_app, "head")

    rows = {row.kind: row for row in _rows(ids["refunded_order"])}
    assert rows["partial_refund"].state == "confirmed"
    assert rows["payout"].state == "cancelled"
    assert rows["verdict"].state == "owed"
    assert _one("SELECT compensation_committed FROM orders WHERE id = :id",
                id=ids["refunded_order"]) == (5_000 + 3_000,)
