"""The seller is a party to every claim (#18 §3): told of the filing, sees the claim without
the buyer's bank account or police papers, answers within 48 h, and staff decide only
after that; the seller hears the decision and downloads its PDF."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from arbiter import mail
from arbiter.documents import documents_for
from arbiter.errors import NotFound
from arbiter.extensions import db
from arbiter.files import Upload
from arbiter.notifications import Notification, OutboxEmail
from arbiter.storage import storage
from arbiter.tasks import run_ready_tasks
from arbiter.transparency_log import sequence
from claims import banking, services
from claims.models import Claim, ClaimDocument
from claims.states import ClaimState, ClaimType, Decision, DocumentKind, RejectionReason
from tests.claims.helpers import IBAN, PARTIAL_RATIONALE, file
from tests.files import PDF, PNG

GROUPED_IBAN = banking.grouped(IBAN)
POLICE_REFERENCE = "KRP-4471/2026/ZX"
POLICE_FILE = "komisariat-zgloszenie.pdf"
SUPPORTING_FILE = "buyer-photo.png"
NOW = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _the_seller_has_48_hours(seller_answer_hours, time_machine):
    # The tests' seeded versions give sellers no window (tests/conftest.py); these tests
    # are about it, so they run with the window of version 2017-08.
    seller_answer_hours(48)
    time_machine.move_to(NOW, tick=False)


@pytest.fixture
def tokens(token_for, buyer, seller, staff):
    return {"buyer": token_for(buyer), "seller": token_for(seller), "staff": token_for(staff)}


@pytest.fixture
def claim(ready_order):
    """A not-received claim with a police reference, the police acknowledgement and a
    supporting photo: everything the seller must never get."""
    return file(ready_order(), claim_type=ClaimType.NOT_RECEIVED,
                police_report_reference=POLICE_REFERENCE,
                police_report=Upload(POLICE_FILE, PDF),
                documents=[Upload(SUPPORTING_FILE, PNG)])


def _no_buyer_secrets(text: str) -> None:
    for secret in (IBAN, GROUPED_IBAN, POLICE_REFERENCE, POLICE_FILE, SUPPORTING_FILE):
        assert secret not in text, secret


def _answer(api, token, claim_id, statement="I shipped it with tracking PL123.", files=()):
    data = {"statement": statement} if statement is not None else {}
    for filename, content in files:
        data.setdefault("files", []).append((io.BytesIO(content), filename))
    return api.post(f"/api/v1/claims/{claim_id}/answer", token=token, data=data,
                    content_type="multipart/form-data")


def _take(claim, staff):
    services.take(claim, staff)
    db.session.commit()


# --- told of the filing -------------------------------------------------------------------


def test_the_seller_is_told_in_the_app_by_e_mail_and_in_the_event_feed(
        app, claim, seller, buyer, api, tokens):
    (note,) = db.session.scalars(select(Notification).where(
        Notification.user_id == seller.id, Notification.object_type == "claims")).all()
    assert (note.kind, note.object_type, note.object_id) == ("claim.filed_on_sale", "claims",
                                                             claim.id)
    assert note.context["due_at"] == (NOW + timedelta(hours=48)).isoformat()
    (email,) = db.session.scalars(select(OutboxEmail).where(
        OutboxEmail.recipient_id == seller.id, OutboxEmail.template.like("claim%"))).all()
    assert email.template == "claim_filed_on_sale" and email.to_address == seller.email
    rendered = mail.render(email)
    # In the seller's language (Polish by default), with the time they have.
    assert f"wniosek o rekompensatę nr {claim.id}." in rendered.text
    assert "w ciągu 48 godzin" in rendered.text
    assert f"/claims/{claim.id}" in rendered.text
    for part in (rendered.subject, rendered.text, rendered.html, repr(email.context)):
        _no_buyer_secrets(part)

    sequence()  # events reach the feed once the audit log's sequencer has added them
    response = api.get("/api/v1/events?after=0&limit=100", token=tokens["seller"])
    assert response.status_code == 200
    claim_events = [e for e in response.json["events"] if e["object_type"] == "claim"]
    assert [(e["type"], e["object_id"]) for e in claim_events] == [("claim.filed", claim.id)]
    _no_buyer_secrets(response.text)
    # A stranger's feed still has nothing of it.
    other = api.get("/api/v1/events?after=0&limit=100",
                    token=tokens["staff"])  # staff hold a user token: their own objects only
    assert all(e["object_type"] != "claim" for e in other.json["events"])


# --- sees it without the buyer's account and police papers ------------------------------------


def test_the_seller_sees_the_claim_page_without_the_iban_or_police_papers(
        client, auth, claim, seller, buyer):
    police, photo = claim.documents
    auth.login(seller.email)
    page = client.get(f"/claims/{claim.id}")
    assert page.status_code == 200
    assert "data-seller-answer" in page.text and claim.description in page.text
    _no_buyer_secrets(page.text)
    for document in (police, photo):
        assert f"/documents/{document.id}" not in page.text
        assert client.get(f"/claims/{claim.id}/documents/{document.id}").status_code == 404
    listing = client.get("/sales/claims")
    assert listing.status_code == 200 and f"/claims/{claim.id}" in listing.text
    _no_buyer_secrets(listing.text)
    assert 'href="/sales/claims"' in client.get("/").text  # in the seller's navigation

    auth.logout()
    auth.login(buyer.email)  # the buyer still sees all of it
    own = client.get(f"/claims/{claim.id}").text
    assert GROUPED_IBAN in own and POLICE_REFERENCE in own and POLICE_FILE in own
    assert client.get(f"/claims/{claim.id}/documents/{police.id}").status_code == 200


def test_the_seller_reads_the_claim_over_the_api_without_the_iban_or_police_papers(
        api, tokens, claim):
    response = api.get(f"/api/v1/claims/{claim.id}", token=tokens["seller"])
    assert response.status_code == 200
    body = response.json
    assert body["payout_account"] is None and body["police_report_reference"] is None
    assert body["documents"] == [] and body["document_requests"] == []
    assert body["seller_answer_due_at"] is not None and body["seller_statement"] is None
    _no_buyer_secrets(response.text)
    listing = api.get("/api/v1/sales/claims", token=tokens["seller"])
    assert [item["id"] for item in listing.json["items"]] == [claim.id]
    _no_buyer_secrets(listing.text)
    own = api.get(f"/api/v1/claims/{claim.id}", token=tokens["buyer"]).json
    assert own["payout_account"] == IBAN and own["police_report_reference"] == POLICE_REFERENCE
    assert len(own["documents"]) == 2


def test_another_seller_gets_404(api, client, auth, claim, create_user, token_for):
    other = create_user()
    token = token_for(other)
    assert api.get(f"/api/v1/claims/{claim.id}", token=token).status_code == 404
    assert _answer(api, token, claim.id).status_code == 404
    assert api.get("/api/v1/sales/claims", token=token).json["items"] == []
    auth.login(other.email)
    assert client.get(f"/claims/{claim.id}").status_code == 404
    assert client.post(f"/claims/{claim.id}/answer",
                       data={"statement": "Not mine."}).status_code == 404
    with pytest.raises(NotFound):
        services.answer_as_seller(claim, other, "Not mine.")


def test_the_sellers_data_export_has_no_iban_or_police_papers(claim, seller):
    from accounts.personal_data import Archive
    from claims.personal_data import export

    services.answer_as_seller(claim, seller, "Shipped with tracking.", [Upload("t.png", PNG)])
    db.session.commit()
    archive = Archive(seller)
    export(archive)
    (entry,) = archive.json_files["claims.json"]
    assert entry["role"] == "seller" and entry["seller_answer"]["statement"]
    assert "payout_account" not in entry and "police_report_reference" not in entry
    assert [d["kind"] for d in entry["documents"]] == [DocumentKind.SELLER_EVIDENCE]
    _no_buyer_secrets(repr(archive.json_files) + repr(archive.owned))


# --- the answer within 48 h -----------------------------------------------------------------


def test_the_seller_answers_once_within_48_hours(client, auth, api, tokens, claim, seller,
                                                 buyer, time_machine):
    time_machine.move_to(NOW + timedelta(hours=47, minutes=59), tick=False)
    auth.login(seller.email)
    response = client.post(f"/claims/{claim.id}/answer", data={
        "statement": "Sent on 28 October, tracking PL123; the buyer signed for it.",
        "files": [(io.BytesIO(PDF), "receipt.pdf")]}, content_type="multipart/form-data")
    assert response.status_code in (302, 303)
    db.session.expire_all()
    answered = db.session.get(Claim, claim.id)
    assert answered.seller_answered_at == NOW + timedelta(hours=47, minutes=59)
    assert answered.seller_statement.startswith("Sent on 28 October")
    evidence = [d for d in answered.documents if d.kind is DocumentKind.SELLER_EVIDENCE]
    assert [(d.filename, d.uploaded_by_id) for d in evidence] == [("receipt.pdf", seller.id)]
    # The seller downloads their own evidence, and the buyer and staff see the answer.
    assert client.get(f"/claims/{claim.id}/documents/{evidence[0].id}").status_code == 200
    assert "Sent on 28 October" in client.get(f"/claims/{claim.id}").text
    assert "claim.seller_answered" in db.session.scalars(select(Notification.kind).where(
        Notification.user_id == buyer.id)).all()
    again = _answer(api, tokens["seller"], claim.id)
    assert again.status_code == 409
    assert again.json["error"]["code"] == "seller_already_answered"
    assert _answer(api, tokens["buyer"], claim.id).status_code == 404  # not the seller


def test_after_48_hours_the_answer_is_refused_and_nothing_changes(api, tokens, claim,
                                                                  time_machine):
    time_machine.move_to(NOW + timedelta(hours=48), tick=False)
    response = _answer(api, tokens["seller"], claim.id, files=[("late.png", PNG)])
    assert response.status_code == 409
    assert response.json["error"]["code"] == "seller_answer_window_closed"
    assert response.json["error"]["fields"]["seller_answer_due_at"] == [
        (NOW + timedelta(hours=48)).isoformat()]
    db.session.expire_all()
    assert db.session.get(Claim, claim.id).seller_answered_at is None
    assert db.session.scalars(select(ClaimDocument.kind)).all() == [
        DocumentKind.POLICE_REPORT, DocumentKind.SUPPORTING]


def test_an_answer_needs_a_statement(api, tokens, claim):
    response = _answer(api, tokens["seller"], claim.id, statement="   ")
    assert response.status_code == 422


def test_the_database_refuses_an_answer_outside_the_window(claim):
    from tests.factories import refused_by_the_database

    refused_by_the_database(
        Claim.__table__.update().where(Claim.id == claim.id).values(
            seller_statement="Late.", seller_answered_at=NOW + timedelta(hours=49)),
        "seller_answered_within_window")
    refused_by_the_database(
        Claim.__table__.update().where(Claim.id == claim.id).values(
            seller_answered_at=NOW + timedelta(hours=1)),
        "seller_statement_iff_answered")


# --- staff decide after the window -----------------------------------------------------------


def test_staff_decide_only_after_the_window_closed(client, auth, api, tokens, claim, staff,
                                                   time_machine):
    _take(claim, staff)
    due = (NOW + timedelta(hours=48)).isoformat()
    refused = api.post(f"/api/v1/claims/{claim.id}/decide", token=tokens["staff"],
                       json={"decision": "approved"})
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "seller_answer_pending"
    assert refused.json["error"]["fields"]["seller_answer_due_at"] == [due]
    auth.login(staff.email)
    page = client.get(f"/claims/{claim.id}").text
    assert f'data-decision-opens="{due}"' in page
    assert f"/claims/{claim.id}/decide" not in page
    assert client.post(f"/claims/{claim.id}/decide",
                       data={"decision": "approved"}).status_code == 409
    db.session.expire_all()
    assert db.session.get(Claim, claim.id).state is ClaimState.UNDER_REVIEW

    time_machine.move_to(NOW + timedelta(hours=48), tick=False)
    assert f"/claims/{claim.id}/decide" in client.get(f"/claims/{claim.id}").text
    allowed = api.post(f"/api/v1/claims/{claim.id}/decide", token=tokens["staff"],
                       json={"decision": "approved"})
    assert allowed.status_code == 200, allowed.json
    assert allowed.json["state"] == "approved"


def test_rejecting_for_missing_documents_waits_for_the_seller_too(claim, staff,
                                                                 time_machine):
    _take(claim, staff)
    request = services.request_documents(claim, staff, "The courier's statement.")
    db.session.commit()
    # Incidents may move the seller's window past the buyer's document deadline.
    claim.seller_answer_due_at = request.due_at + timedelta(days=2)
    db.session.commit()
    time_machine.move_to(request.due_at + timedelta(hours=1), tick=False)
    with pytest.raises(services.SellerAnswerPending) as refused:
        services.reject_after_deadline(claim, staff)
    db.session.rollback()
    assert refused.value.status == 409 and refused.value.code == "seller_answer_pending"
    time_machine.move_to(request.due_at + timedelta(days=2), tick=False)
    services.reject_after_deadline(claim, staff)
    db.session.commit()
    assert db.session.get(Claim, claim.id).state is ClaimState.REJECTED


def test_staff_decide_at_once_once_the_seller_answered(claim, seller, staff):
    _take(claim, staff)
    services.answer_as_seller(claim, seller, "I never received payment for this order.")
    services.decide(claim, staff, decision=Decision.REJECTED,
                    rejection_reason=RejectionReason.OTHER, rationale=PARTIAL_RATIONALE)
    db.session.commit()
    assert db.session.get(Claim, claim.id).state is ClaimState.REJECTED


# --- the decision reaches the seller ----------------------------------------------------------


@pytest.mark.parametrize(("decision", "amount", "kind"), [
    (Decision.APPROVED, None, "claim.seller_approved"),
    (Decision.PARTIALLY_APPROVED, 100, "claim.seller_partially_approved"),
    (Decision.REJECTED, None, "claim.seller_rejected"),
])
def test_the_seller_hears_the_decision_and_downloads_its_pdf(
        client, auth, claim, seller, staff, time_machine, decision, amount, kind):
    _take(claim, staff)
    time_machine.move_to(NOW + timedelta(hours=49), tick=False)
    services.decide(claim, staff, decision=decision, amount=amount,
                    rejection_reason=RejectionReason.OTHER if decision is Decision.REJECTED
                    else None,
                    rationale=PARTIAL_RATIONALE if decision is not Decision.APPROVED else None)
    db.session.commit()
    kinds = db.session.scalars(select(Notification.kind).where(
        Notification.user_id == seller.id, Notification.object_type == "claims")
        .order_by(Notification.id)).all()
    assert kinds == ["claim.filed_on_sale", kind]
    assert db.session.scalars(select(OutboxEmail.template).where(
        OutboxEmail.recipient_id == seller.id, OutboxEmail.template.like("claim%"))
        .order_by(OutboxEmail.id)).all() == ["claim_filed_on_sale", kind.replace(".", "_")]

    run_ready_tasks()
    (document,) = documents_for("claims", claim.id)
    _no_buyer_secrets(repr(document.data))
    auth.login(seller.email)
    assert document.number in client.get(f"/claims/{claim.id}").text
    response = client.get(f"/decisions/{document.number}/download")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    reader = PdfReader(io.BytesIO(storage().get(document.storage_key)))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert document.number in text
    _no_buyer_secrets(text)
    _no_buyer_secrets(text.replace(" ", ""))  # however the PDF spaced the IBAN
