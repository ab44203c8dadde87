"""A buyer with a bit of everything, for the data-rights tests (export and deletion)."""

from dataclasses import dataclass

import pytest

from arbiter import clock, documents
from arbiter.extensions import db
from arbiter.files import Upload
from arbiter.tasks import run_ready_tasks
from claims import services as claims
from claims.models import Claim
from claims.states import ClaimType, Decision
from disputes import services as disputes
from disputes.models import Discussion
from disputes.states import Verdict
from incidents import services as incidents
from incidents.models import ProblemReport
from settlements import services as ledger
from tests.claims.helpers import IBAN
from tests.files import PDF, PNG

RATIONALE = "The photos show the damage clearly; half of the price is fair."


@dataclass
class BuyerWorld:
    discussion: Discussion  # decided, with a message and a file from each party
    exported_claim: Claim  # approved, its payout exported to finance
    pending_claim: Claim  # approved, its payout waiting for export
    report: ProblemReport  # with a screenshot
    buyer_file: bytes
    seller_file: bytes


def _decided_discussion(create_order, create_discussion, buyer, seller, staff, *,
                        messages: bool = False) -> Discussion:
    order = create_order(buyer=buyer, seller=seller)
    discussion = create_discussion(order, age_hours=25)
    if messages:
        disputes.post_message(discussion, buyer, "Photos of the cracked lamp attached.",
                              [Upload("cracked.png", PNG)])
        disputes.post_message(discussion, seller, "Here is my shipping receipt.",
                              [Upload("receipt.pdf", PDF + b"% seller's own\n")])
    disputes.escalate(discussion, buyer, "The seller refuses any refund at all.")
    disputes.take_case(discussion, staff)
    disputes.decide(discussion, staff, verdict=Verdict.PARTIAL, amount=5_000,
                    rationale=RATIONALE)
    db.session.commit()
    return discussion


def _approved_claim(order, buyer, staff) -> Claim:
    # The verdict's refund never came (the marketplace says so): the claim route opens.
    for promise in ledger.owed_to_buyer(order.id):
        ledger.marketplace_settles(promise.id, confirmed=False, note="No transfer arrived.")
    claim = claims.file_claim(order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                              description="The lamp is a different model than the listing.",
                              payout_account=IBAN, documents=[Upload("invoice.pdf", PDF)])
    db.session.commit()
    claims.take(claim, staff)
    claims.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    return claim


@pytest.fixture
def buyer_world(create_order, create_discussion, buyer, seller, staff) -> BuyerWorld:
    first = _decided_discussion(create_order, create_discussion, buyer, seller, staff,
                                messages=True)
    exported = _approved_claim(first.order, buyer, staff)
    claims.export_payouts(staff)
    db.session.commit()
    second = _decided_discussion(create_order, create_discussion, buyer, seller, staff)
    pending = _approved_claim(second.order, buyer, staff)
    report = incidents.report_problem(buyer, what_happened="The claim page froze at 12:03.",
                                      happened_at=clock.now(), doing="Uploading my invoice",
                                      screenshot=Upload("frozen.png", PNG + b"shot"))
    db.session.commit()
    run_ready_tasks()  # render the decision PDFs, as the end of a request does
    assert all(d.rendered_at for d in documents.documents_for("discussions", first.id))
    return BuyerWorld(discussion=first, exported_claim=exported, pending_claim=pending,
                      report=report, buyer_file=PNG, seller_file=PDF + b"% seller's own\n")
