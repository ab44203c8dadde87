"""A case that moved on closes the requests still waiting for an answer (#22 item 4): a
verdict, a claim approved on the order (the discussion is settled by the platform), a
claim rejected for missing documents or withdrawn. The pages stop asking for an answer
nobody waits for, the thread says why, and the sweeper reports nothing overdue."""

import re
from datetime import timedelta

import time_machine
from sqlalchemy import select

from arbiter import clock
from arbiter.extensions import db
from arbiter.sweeper import run_sweep
from claims import services as claims
from claims.models import Claim, DocumentRequest
from claims.states import ClaimState, Decision
from disputes import services as disputes
from disputes.models import Discussion, InformationRequest
from disputes.states import DiscussionState, Party, Verdict
from tests.claims.helpers import file

RATIONALE = "The seller did not prove shipping, and the buyer's photos show the damage."


def _text(response) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)).split())


def _ask(discussion, staff, party):
    disputes.take_case(discussion, staff)
    request = disputes.request_information(discussion, staff, party=party,
                                           question="The parcel's tracking number, please.")
    db.session.commit()
    return request


def test_a_verdict_closes_the_open_information_request_and_the_thread_says_so(
        client, auth, escalated, staff):
    request = _ask(escalated, staff, Party.BUYER)
    auth.login(escalated.buyer.email)
    before = _text(client.get(f"/discussions/{escalated.id}"))
    assert "Information requested from the buyer, due" in before
    assert "Please answer in the thread." in before
    auth.logout()

    disputes.decide(escalated, staff, verdict=Verdict.SELLER_FAVOUR, amount=None,
                    rationale=RATIONALE)
    db.session.commit()
    closed = db.session.get(InformationRequest, request.id)
    assert closed.closed_at is not None and closed.answered_at is None

    auth.login(escalated.buyer.email)
    after = _text(client.get(f"/discussions/{escalated.id}"))
    assert "Information requested from the buyer, due" not in after
    assert "Please answer in the thread." not in after
    assert ("The platform no longer waits for the information it requested from the buyer"
            in after)

    # Past its 72 h nobody is told the decided case's request is overdue.
    with time_machine.travel(closed.due_at + timedelta(hours=1), tick=False):
        run_sweep()
    db.session.expire_all()
    assert db.session.get(InformationRequest, request.id).overdue_notified_at is None


def test_a_claim_approved_on_the_order_closes_the_discussions_requests(escalated, staff):
    request = _ask(escalated, staff, Party.SELLER)
    claim = file(escalated.order)
    claims.take(claim, staff)
    claims.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    db.session.expire_all()
    discussion = db.session.get(Discussion, escalated.id)
    assert discussion.state is DiscussionState.SETTLED_BY_PLATFORM
    assert db.session.get(InformationRequest, request.id).closed_at is not None
    assert not discussion.waiting_for_information
    notes = [entry.data.get("action") for entry in discussion.entries if entry.data]
    assert "information_requests_closed" in notes


def _documents_requested(under_review, staff):
    claims.request_documents(under_review, staff, "The invoice, please.")
    db.session.commit()
    return db.session.scalar(select(DocumentRequest))


def test_a_withdrawn_claim_no_longer_asks_for_documents(client, auth, under_review, staff,
                                                        buyer):
    request = _documents_requested(under_review, staff)
    claims.withdraw(under_review, buyer)
    db.session.commit()
    db.session.expire_all()
    closed = db.session.get(DocumentRequest, request.id)
    assert closed.closed_at is not None and closed.answered_at is None
    assert db.session.get(Claim, under_review.id).open_document_request is None
    auth.login(buyer.email)
    page = _text(client.get(f"/claims/{under_review.id}"))
    assert "No longer needed: the claim was decided or withdrawn" in page
    assert "Due:" not in page


def test_a_claim_rejected_for_missing_documents_closes_the_request(under_review, staff):
    request = _documents_requested(under_review, staff)
    with time_machine.travel(request.due_at + timedelta(seconds=1), tick=False):
        assert clock.now() > request.due_at
        claims.reject_after_deadline(db.session.get(Claim, under_review.id), staff)
        db.session.commit()
    db.session.expire_all()
    assert db.session.get(Claim, under_review.id).state is ClaimState.REJECTED
    assert db.session.get(DocumentRequest, request.id).closed_at is not None
