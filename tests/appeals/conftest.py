"""Appeals fixtures: decided verdicts and claims, and a second staff member to review."""

import pytest

from arbiter.extensions import db
from claims import services as claims
from claims.states import ClaimType, Decision
from disputes import services as disputes
from disputes.states import Verdict
from tests.claims.helpers import IBAN

RATIONALE = "The seller did not show that the parcel was sent at all."
STATEMENT = "The advisor did not look at the courier's statement I attached on day two."


@pytest.fixture
def reviewer(create_user):
    return create_user("reviewer@example.test", name="Renata Reviewer", is_staff=True)


@pytest.fixture
def verdict(escalated, staff):
    """A partial verdict of 50.00 zł by ``staff`` on an escalated discussion."""

    def make(verdict=Verdict.PARTIAL, amount=5_000):
        disputes.take_case(escalated, staff)
        disputes.decide(escalated, staff, verdict=verdict, amount=amount, rationale=RATIONALE)
        db.session.commit()
        return escalated

    return make


@pytest.fixture
def decided_claim(create_order, create_discussion, buyer, seller, staff):
    """A claim on a fresh order, decided by ``staff``."""

    def make(decision=Decision.REJECTED, amount=None, **order):
        claim_order = create_order(buyer=buyer, seller=seller, **order)
        create_discussion(claim_order, age_hours=25)
        claim = claims.file_claim(claim_order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                                  description="A different model than the listing.",
                                  payout_account=IBAN)
        claims.take(claim, staff)
        extra = {}
        if decision is Decision.REJECTED:
            from claims.states import RejectionReason
            extra["rejection_reason"] = RejectionReason.LOSS_NOT_DOCUMENTED
        claims.decide(claim, staff, decision=decision, amount=amount,
                      rationale=None if decision is Decision.APPROVED else RATIONALE, **extra)
        db.session.commit()
        return claim

    return make
