"""Appeals over the JSON API, on SQLite and PostgreSQL: the whole journey with user tokens,
the refusals in the project's error shape, and who sees what."""

import io
from datetime import timedelta

import pytest
import time_machine

from appeals.models import Appeal
from arbiter import audit
from arbiter.extensions import db
from claims.states import Decision
from tests.appeals.conftest import STATEMENT
from tests.files import PDF, PNG

ANSWER = "The parcel was sent on time; the courier's note says nothing about the damage."
RATIONALE = "The courier's note and the photos both show the lamp broke in transit."


def _multipart(statement: str, *files: tuple[bytes, str]) -> dict:
    return {"data": {"statement": statement,
                     "files": [(io.BytesIO(content), name) for content, name in files]},
            "content_type": "multipart/form-data"}


@pytest.fixture
def tokens(token_for, buyer, seller, staff, reviewer, create_user):
    stranger = create_user()
    return {"buyer": token_for(buyer), "seller": token_for(seller), "staff": token_for(staff),
            "reviewer": token_for(reviewer), "stranger": token_for(stranger)}


def test_the_whole_journey_over_the_api(api, verdict, tokens, staff, reviewer):
    discussion = verdict()
    filed = api.post(f"/api/v1/discussions/{discussion.id}/appeals", token=tokens["buyer"],
                     **_multipart(STATEMENT, (PNG, "courier.png")))
    assert filed.status_code == 201, filed.json
    body = filed.json
    appeal_id = body["id"]
    assert body["state"] == "submitted" and body["appellant"] == "buyer"
    assert body["subject"] == "verdict" and body["discussion_id"] == discussion.id
    assert body["original_amount"] == "50.00" and body["new_amount"] is None
    assert [f["filename"] for f in body["files"]] == ["courier.png"]
    assert body["evidence"] is None and body["reviewer_id"] is None  # staff only
    assert body["original_decision_number"].startswith("ARB/")

    # The seller reads it and answers with a file of their own.
    seen = api.get(f"/api/v1/appeals/{appeal_id}", token=tokens["seller"])
    assert seen.status_code == 200 and seen.json["statement"] == STATEMENT
    answered = api.post(f"/api/v1/appeals/{appeal_id}/answer", token=tokens["seller"],
                        **_multipart(ANSWER, (PDF, "tracking.pdf")))
    assert answered.status_code == 201, answered.json
    assert answered.json["respondent_statement"] == ANSWER
    again = api.post(f"/api/v1/appeals/{appeal_id}/answer", token=tokens["seller"],
                     **_multipart(ANSWER))
    assert again.status_code == 409 and again.json["error"]["code"] == "already_answered"

    # The queue lists it; the decider may not review it, the reviewer may.
    queue = api.get("/api/v1/staff/appeals", token=tokens["staff"]).json["items"]
    assert [(a["id"], a["may_review"]) for a in queue] == [(appeal_id, False)]
    assert api.get("/api/v1/staff/appeals", token=tokens["buyer"]).status_code == 403
    own = api.post(f"/api/v1/appeals/{appeal_id}/take", token=tokens["staff"])
    assert own.status_code == 403 and own.json["error"]["code"] == "own_decision"
    taken = api.post(f"/api/v1/appeals/{appeal_id}/take", token=tokens["reviewer"])
    assert taken.status_code == 200 and taken.json["state"] == "under_review"
    assert taken.json["reviewer_id"] == reviewer.id

    # No decision before every piece of evidence is read.
    early = api.post(f"/api/v1/appeals/{appeal_id}/decide", token=tokens["reviewer"],
                     json={"outcome": "varied", "amount": "120.00", "rationale": RATIONALE})
    assert early.status_code == 409
    assert early.json["error"]["code"] == "evidence_unread"
    items = [item["item"] for item in taken.json["evidence"]]
    assert sorted(early.json["error"]["fields"]["unread"]) == sorted(items)
    assert {"decision", "statement", "answer"} <= set(items)
    assert sum(item.startswith("appeal_file:") for item in items) == 2
    for item in items:
        read = api.post(f"/api/v1/appeals/{appeal_id}/evidence/{item}/read",
                        token=tokens["reviewer"])
        assert read.status_code == 200, (item, read.json)
    assert all(item["read"] for item in read.json["evidence"])
    assert api.post(f"/api/v1/appeals/{appeal_id}/evidence/attachment:999999/read",
                    token=tokens["reviewer"]).status_code == 404

    # The original decider cannot decide it either, whatever they try.
    refused = api.post(f"/api/v1/appeals/{appeal_id}/decide", token=tokens["staff"],
                       json={"outcome": "upheld", "rationale": RATIONALE})
    assert refused.status_code == 403 and refused.json["error"]["code"] == "own_decision"
    decided = api.post(f"/api/v1/appeals/{appeal_id}/decide", token=tokens["reviewer"],
                       json={"outcome": "varied", "amount": "120.00", "rationale": RATIONALE})
    assert decided.status_code == 200, decided.json
    assert decided.json["state"] == "varied" and decided.json["new_amount"] == "120.00"
    assert decided.json["decision_number"].startswith("ODW/")
    # Both parties read the outcome.
    for party in ("buyer", "seller"):
        final = api.get(f"/api/v1/appeals/{appeal_id}", token=tokens[party]).json
        assert final["state"] == "varied" and final["rationale"] == RATIONALE
    assert api.get("/api/v1/staff/appeals", token=tokens["reviewer"]).json["items"] == []


def test_someone_elses_appeal_or_decision_is_404(api, verdict, tokens, buyer):
    discussion = verdict()
    before = audit.count()
    stranger = api.post(f"/api/v1/discussions/{discussion.id}/appeals",
                        token=tokens["stranger"], **_multipart(STATEMENT))
    assert stranger.status_code == 404 and stranger.json["error"]["code"] == "not_found"
    # Staff are not a party: they have nothing to appeal (404, nothing changed).
    assert api.post(f"/api/v1/discussions/{discussion.id}/appeals", token=tokens["reviewer"],
                    **_multipart(STATEMENT)).status_code == 404
    assert audit.count() == before
    filed = api.post(f"/api/v1/discussions/{discussion.id}/appeals", token=tokens["buyer"],
                     **_multipart(STATEMENT)).json
    for path in (f"/api/v1/appeals/{filed['id']}", "/api/v1/appeals/999999"):
        assert api.get(path, token=tokens["stranger"]).status_code == 404
    assert api.post(f"/api/v1/appeals/{filed['id']}/answer", token=tokens["stranger"],
                    **_multipart(ANSWER)).status_code == 404
    # A staff endpoint is 403 for a party, 401 without a token.
    assert api.post(f"/api/v1/appeals/{filed['id']}/take",
                    token=tokens["buyer"]).status_code == 403
    assert api.get(f"/api/v1/appeals/{filed['id']}").status_code == 401
    # The parties' own list holds it for both of them, nobody else.
    for party, count in (("buyer", 1), ("seller", 1), ("stranger", 0)):
        assert len(api.get("/api/v1/appeals", token=tokens[party]).json["items"]) == count


def test_after_the_window_409_with_the_closing_date(api, verdict, token_for, seller):
    discussion = verdict()
    closes = discussion.decided_at + timedelta(days=30)
    with time_machine.travel(closes + timedelta(seconds=1)):
        late = api.post(f"/api/v1/discussions/{discussion.id}/appeals",
                        token=token_for(seller), **_multipart(STATEMENT))
    assert late.status_code == 409
    error = late.json["error"]
    assert error["code"] == "appeal_window_closed"
    assert error["fields"]["closes_at"] == [closes.isoformat()]
    assert db.session.query(Appeal).count() == 0


def test_a_second_appeal_and_a_bad_statement(api, verdict, tokens):
    discussion = verdict()
    short = api.post(f"/api/v1/discussions/{discussion.id}/appeals", token=tokens["buyer"],
                     **_multipart("Unfair."))
    assert short.status_code == 422 and "statement" in short.json["error"]["fields"]
    assert api.post(f"/api/v1/discussions/{discussion.id}/appeals", token=tokens["buyer"],
                    **_multipart(STATEMENT)).status_code == 201
    twice = api.post(f"/api/v1/discussions/{discussion.id}/appeals", token=tokens["buyer"],
                     **_multipart(STATEMENT))
    assert twice.status_code == 409 and twice.json["error"]["code"] == "already_appealed"


def test_a_claims_seller_appeals_and_never_sees_the_buyers_files(api, decided_claim, tokens):
    claim = decided_claim(Decision.APPROVED)
    buyer_refused = api.post(f"/api/v1/claims/{claim.id}/appeals", token=tokens["buyer"],
                             **_multipart(STATEMENT))
    assert buyer_refused.status_code == 409
    assert buyer_refused.json["error"]["code"] == "not_appealable"
    filed = api.post(f"/api/v1/claims/{claim.id}/appeals", token=tokens["seller"],
                     **_multipart(STATEMENT, (PDF, "tracking.pdf")))
    assert filed.status_code == 201, filed.json
    appeal_id = filed.json["id"]
    assert filed.json["subject"] == "claim" and filed.json["claim_id"] == claim.id
    answered = api.post(f"/api/v1/appeals/{appeal_id}/answer", token=tokens["buyer"],
                        **_multipart(ANSWER, (PNG, "my-invoice.png")))
    assert answered.status_code == 201
    assert {f["filename"] for f in answered.json["files"]} == {"tracking.pdf", "my-invoice.png"}
    seller_view = api.get(f"/api/v1/appeals/{appeal_id}", token=tokens["seller"]).json
    assert [f["filename"] for f in seller_view["files"]] == ["tracking.pdf"]
    staff_view = api.get(f"/api/v1/appeals/{appeal_id}", token=tokens["reviewer"]).json
    assert len(staff_view["files"]) == 2 and staff_view["evidence"]


def test_the_document_lists_every_appeal_operation(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    expected = {
        "/api/v1/discussions/{discussion_id}/appeals": {"post"},
        "/api/v1/claims/{claim_id}/appeals": {"post"},
        "/api/v1/appeals": {"get"},
        "/api/v1/appeals/{appeal_id}": {"get"},
        "/api/v1/appeals/{appeal_id}/answer": {"post"},
        "/api/v1/staff/appeals": {"get"},
        "/api/v1/appeals/{appeal_id}/take": {"post"},
        "/api/v1/appeals/{appeal_id}/evidence/{item}/read": {"post"},
        "/api/v1/appeals/{appeal_id}/decide": {"post"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path
        for method in methods - {"get"}:
            names = [p["name"] for p in paths[path][method].get("parameters", [])]
            assert "Idempotency-Key" in names, path
