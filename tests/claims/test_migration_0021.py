"""Migration 0021 (four eyes, the per-buyer cap) moves data both ways, on both engines."""

from datetime import timedelta

from sqlalchemy import inspect

from arbiter import clock
from arbiter.extensions import db
from tests.arbiter.test_migrations import _case_file, _migrate, _one, empty_app  # noqa: F401


def _awaiting_claim(ids) -> int:
    """A claim of the case file's buyer approved by its advisor above the threshold."""
    from accounts.models import User
    from claims import services as claims
    from claims.states import ClaimState, ClaimType, Decision
    from disputes import services as disputes
    from disputes.states import ExpectedOutcome, Reason
    from orders.services import upsert_order
    from orders.states import PaymentMethod
    from tests.claims.helpers import IBAN
    from tests.factories import age

    buyer, seller, advisor = (db.session.get(User, ids[key])
                              for key in ("buyer", "seller", "advisor"))
    order = upsert_order({
        "external_id": "M-BIG", "buyer_email": buyer.email, "seller_email": seller.email,
        "item_title": "Bike", "item_price": 500_000, "shipping_cost": 0,
        "payment_method": PaymentMethod.BANK_TRANSFER,
        "paid_at": clock.now() - timedelta(days=2)}).order
    discussion = disputes.open_discussion(order, buyer, reason=Reason.DAMAGED,
                                          expected_outcome=ExpectedOutcome.REFUND,
                                          description="Bent frame.")
    db.session.commit()
    age(discussion, 25)
    claim = claims.file_claim(order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                              description="Bent frame.", payout_account=IBAN)
    claims.take(claim, advisor)
    claims.decide(claim, advisor, decision=Decision.APPROVED)
    db.session.commit()
    assert claim.state is ClaimState.AWAITING_SECOND_APPROVAL
    claim_id = claim.id
    db.session.remove()
    return claim_id


def test_0021_backfills_the_approvals_and_comes_back_down(empty_app):  # noqa: F811
    _migrate(empty_app, "head")
    ids = _case_file()
    awaiting = _awaiting_claim(ids)
    _migrate(empty_app, "0020", down=True)  # the revision before 0021
    assert "first_approver_id" not in {c["name"] for c in
                                       inspect(db.engine).get_columns("claims")}
    # Never final: back to review, without the amount; the paid claim is as it was.
    assert _one("SELECT state, approved_amount FROM claims WHERE id = :id",
                id=awaiting) == ("under_review", None)
    assert _one("SELECT state FROM claims WHERE id = :id", id=ids["claim"]) == ("paid",)
    db.session.remove()

    _migrate(empty_app, "head")  # again, now with decided claims and a payout to backfill
    advisor = ids["advisor"]
    first, required, second = _one(
        "SELECT first_approver_id, requires_second_approval, second_approver_id "
        "FROM claims WHERE id = :id", id=ids["claim"])
    assert (first, bool(required), second) == (advisor, False, None)
    first, required, second = _one(
        "SELECT first_approver_id, requires_second_approval, second_approver_id "
        "FROM payouts WHERE claim_id = :id", id=ids["claim"])
    assert (first, bool(required), second) == (advisor, False, None)
    assert _one("SELECT first_approver_id FROM claims WHERE id = :id",
                id=awaiting) == (None,)
    assert _one("SELECT per_buyer_cap_minor, per_buyer_window_days FROM policy_versions "
                "WHERE code = '2017-08'") == (None, None)
