"""A case with a bit of everything: a promise that failed, a claim paid, a recovery owed."""

from dataclasses import dataclass

import pytest

from arbiter.extensions import db
from arbiter.files import Upload
from claims import services as claims
from claims.models import Claim
from claims.states import ClaimType, Decision
from disputes import services as disputes
from disputes.models import Discussion
from disputes.states import OfferKind
from orders.models import Order
from settlements import services as ledger
from settlements.models import Settlement
from settlements.states import SettlementKind
from tests.claims.helpers import IBAN, PARTIAL_RATIONALE
from tests.files import PDF

POLICE_REFERENCE = "RSD-777/26"


@dataclass
class Story:
    order: Order                # 1,000.00 + 10.00 zł, paid through the platform
    discussion: Discussion      # a partial refund accepted, then failed; settled by platform
    promise: Settlement         # the partial refund of 300.00 zł: failed
    claim: Claim                # not received, partially approved (500.00 zł) and paid
    payout: Settlement          # the claim's payout: confirmed by finance
    recovery: Settlement        # seller -> platform, 500.00 zł: owed


@pytest.fixture
def second_staff(create_user):
    return create_user("finance@example.test", name="Feliks Finance", is_staff=True)


@pytest.fixture
def story(create_order, create_discussion, buyer, seller, staff, second_staff) -> Story:
    order = create_order(buyer=buyer, seller=seller, item_price=100_000, shipping_cost=1_000)
    discussion = create_discussion(order, age_hours=25)
    offer = disputes.make_offer(discussion, seller, kind=OfferKind.PARTIAL_REFUND,
                                amount=30_000)
    db.session.commit()
    promise = disputes.accept_offer(discussion, buyer, offer.id)
    db.session.commit()
    ledger.marketplace_settles(promise.id, confirmed=False, note="No transfer arrived.")
    db.session.commit()
    claim = claims.file_claim(
        order, buyer, claim_type=ClaimType.NOT_RECEIVED,
        description="The parcel never came and the seller's refund never arrived.",
        payout_account=IBAN, police_report_reference=POLICE_REFERENCE,
        police_report=Upload("acknowledgement.pdf", PDF))
    db.session.commit()
    claims.take(claim, staff)
    claims.decide(claim, staff, decision=Decision.PARTIALLY_APPROVED, amount=50_000,
                  rationale=PARTIAL_RATIONALE)
    db.session.commit()
    batch = claims.export_payouts(staff)
    db.session.commit()
    claims.mark_batch_paid(batch.id, second_staff)
    db.session.commit()
    rows = {row.kind: row for row in ledger.for_order(order.id)}
    return Story(order=order, discussion=discussion, promise=rows[SettlementKind.PARTIAL_REFUND],
                 claim=claim, payout=rows[SettlementKind.PAYOUT],
                 recovery=rows[SettlementKind.RECOVERY])


@pytest.fixture
def owed_refund(create_order, create_discussion, buyer, seller):
    """An order whose seller owes the buyer an accepted full refund (123.45 + 15.00 zł)."""

    def make():
        order = create_order(buyer=buyer, seller=seller)
        discussion = create_discussion(order, age_hours=1)
        offer = disputes.make_offer(discussion, seller, kind=OfferKind.REFUND)
        db.session.commit()
        promise = disputes.accept_offer(discussion, buyer, offer.id)
        db.session.commit()
        return promise

    return make
