"""One world with one real object of every kind, and the URLs of every route filled in.

Route arguments are filled with the ids of real rows, so a page answers 200 (or the status
its view defines) instead of a cheap 404 that would prove nothing.
"""

import re
from datetime import timedelta

import pytest

from appeals import services as appeals
from arbiter import clock, documents
from arbiter.extensions import db
from arbiter.files import Upload
from arbiter.tasks import run_ready_tasks
from claims import services as claims
from claims.states import ClaimType
from disputes import services as disputes
from disputes.states import OfferKind, Verdict
from incidents import services as incidents
from settlements import services as ledger
from tests.claims.conftest import ready_order  # noqa: F401 (a fixture the upload tests use)
from tests.claims.helpers import IBAN
from tests.files import PDF, PNG

# Routes no browser page reaches: the JSON API (its own matrix lives in
# tests/integrations/test_access_matrix.py) and static files.
SKIPPED_PREFIXES = ("/api/", "/static/", "/bootstrap/")


@pytest.fixture
def world(app, db_session, create_user, create_order, create_discussion, buyer, seller, staff):
    """buyer/seller share an order with a decided discussion (attachment + decision PDF)
    and a second order with an open discussion and a claim that holds a document."""
    other_buyer, other_seller = create_user(), create_user()
    create_order(buyer=other_buyer, seller=other_seller)  # strangers buy and sell too

    order = create_order(buyer=buyer, seller=seller)
    discussion = create_discussion(order, age_hours=25)
    entry = disputes.post_message(discussion, buyer, "Photos attached.",
                                  [Upload("photo.png", PNG)])
    offer = disputes.make_offer(discussion, seller, kind=OfferKind.REPLACEMENT)
    disputes.escalate(discussion, buyer, "The seller does not answer at all.")
    disputes.take_case(discussion, staff)
    disputes.decide(discussion, staff, verdict=Verdict.PARTIAL, amount=5_000,
                    rationale="The photos show the damage clearly; half is fair.")
    db.session.commit()
    run_ready_tasks()  # render the decision PDF, as the end of a request does
    [decision, *_] = documents.documents_for("discussions", discussion.id)
    appeal = appeals.file_appeal(discussion, buyer, "The advisor did not read my photos "
                                 "of the cracked shade.", [Upload("shade.png", PNG)])
    db.session.commit()

    claim_order = create_order(buyer=buyer, seller=seller)
    create_discussion(claim_order, age_hours=25)
    claim = claims.file_claim(claim_order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                              description="The lamp is a different model.",
                              payout_account=IBAN, documents=[Upload("invoice.pdf", PDF)])
    db.session.commit()

    incident = incidents.declare(staff, title="Discussions are unavailable",
                                 impact="Buyers cannot answer.",
                                 affected_services=["discussions"],
                                 started_at=clock.now() - timedelta(hours=1))
    report = incidents.report_problem(buyer, what_happened="The page froze.",
                                      happened_at=clock.now(), doing="Answering",
                                      screenshot=Upload("shot.png", PNG))
    db.session.commit()

    return {
        "users": {"buyer": buyer, "seller": seller, "staff": staff,
                  "other_buyer": other_buyer, "other_seller": other_seller},
        "order": order, "discussion": discussion, "claim": claim, "decision": decision,
        "attachment": entry.attachments[0], "claim_document": claim.documents[0],
        "appeal": appeal, "appeal_file": appeal.files[0],
        "args": {
            "order_id": order.id, "discussion_id": discussion.id,
            "attachment_id": entry.attachments[0].id, "offer_id": offer.id,
            "claim_id": claim.id, "document_id": claim.documents[0].id,
            "number": decision.number, "incident_id": incident.id, "report_id": report.id,
            # no real row is cheap to build for these; the route must still answer safely
            "batch_id": 1, "payout_id": 1, "email_id": 1, "endpoint_id": 1, "delivery_id": 1,
            "export_id": 1,
            "answer": "accept", "action": "solve", "name": "swagger-ui.css",
            "seller_id": seller.id, "chart": "opened_per_day",
            "settlement_id": ledger.for_order(order.id)[0].id,  # the verdict's refund
            "appeal_id": appeal.id, "file_id": appeal.files[0].id,
            # the staff page (issue 20): a person, an invitation, an invitation link
            "user_id": other_buyer.id, "invitation_id": 1, "token": "not-a-token", "token_id": 1,
            "version_id": 1,  # the seeded policy version (issue 21)
            "run_id": 1,  # an impact replay of it
            "leaf_index": 0,  # the audit log's first entry (issue 24)
        },
    }


def html_rules(app, method: str):
    """Every url_map rule with ``method`` that a browser page can reach."""
    return sorted((rule for rule in app.url_map.iter_rules()
                   if method in rule.methods and not rule.rule.startswith(SKIPPED_PREFIXES)),
                  key=lambda rule: rule.rule)


def fill(rule, args: dict) -> str:
    """The rule's path with every argument replaced by the id of a real object."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(args[m.group(1)]), rule.rule)
