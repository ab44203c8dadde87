"""Claims over the API: filing (multipart), review, decisions and the payouts CSV."""

import io

import pytest

from arbiter.extensions import db
from arbiter.files import MAX_FILE_BYTES
from claims.models import Claim
from claims.states import ClaimState
from tests.claims.helpers import IBAN
from tests.files import PDF, PNG


@pytest.fixture
def tokens(token_for, buyer, seller, staff):
    return {"buyer": token_for(buyer), "seller": token_for(seller), "staff": token_for(staff)}


def _file(api, token, order, *, files=(), **changes):
    form = {"order_external_id": order.external_id, "claim_type": "not_as_described",
            "description": "A different model than the listing.", "payout_account": IBAN}
    form.update(changes)
    data = {key: value for key, value in form.items() if value is not None}
    for name, filename, content in files:
        data.setdefault(name, []).append((io.BytesIO(content), filename))
    return api.post("/api/v1/claims", token=token, data=data,
                    content_type="multipart/form-data")


def test_file_review_and_approve_over_the_api(api, tokens, ready_order, world):
    order = ready_order()
    filed = _file(api, tokens["buyer"], order, files=[("documents", "photo.png", PNG)])
    assert filed.status_code == 201, filed.json
    claim = filed.json
    assert claim["state"] == "submitted" and claim["max_total"] == "138.45"
    assert claim["policy_version"] == "2017-08"
    assert [d["filename"] for d in claim["documents"]] == ["photo.png"]
    url = f"/api/v1/claims/{claim['id']}"

    queue = api.get("/api/v1/staff/claims", token=tokens["staff"]).json
    assert [c["id"] for c in queue["items"]] == [claim["id"]]
    assert api.post(f"{url}/take", token=tokens["staff"]).json["state"] == "under_review"
    asked = api.post(f"{url}/document-requests", token=tokens["staff"],
                     json={"what": "The invoice, please."})
    assert asked.status_code == 201 and asked.json["state"] == "awaiting_documents"
    sent = api.post(f"{url}/documents", token=tokens["buyer"],
                    data={"files": [(io.BytesIO(PDF), "invoice.pdf")]},
                    content_type="multipart/form-data")
    assert sent.status_code == 201 and sent.json["state"] == "under_review"
    decided = api.post(f"{url}/decide", token=tokens["staff"], json={"decision": "approved"})
    assert decided.status_code == 200, decided.json
    assert decided.json["approved_amount"] == "138.45"

    export = api.post("/api/v1/staff/payouts/export", token=tokens["staff"])
    assert export.status_code == 201
    assert export.mimetype == "text/csv" and export.headers["X-Arbiter-Batch-Id"]
    assert b"payout_id,claim_id" in export.data and IBAN.encode() in export.data
    nothing = api.post("/api/v1/staff/payouts/export", token=tokens["staff"])
    assert nothing.status_code == 409
    assert nothing.json["error"]["code"] == "nothing_to_export"
    mine = api.get("/api/v1/claims", token=tokens["buyer"]).json
    assert [c["id"] for c in mine["items"]] == [claim["id"]]


def test_not_received_needs_the_police_report_file(api, tokens, ready_order, world):
    order = ready_order()
    before = world.counts()
    missing = _file(api, tokens["buyer"], order, claim_type="not_received",
                    police_report_reference="RSD-1/2026")
    assert missing.status_code == 422
    assert missing.json["error"]["fields"] == {"police_report": ["required"]}
    assert world.counts() == before
    filed = _file(api, tokens["buyer"], order, claim_type="not_received",
                  police_report_reference="RSD-1/2026",
                  files=[("police_report", "report.pdf", PDF)])
    assert filed.status_code == 201, filed.json
    assert [d["kind"] for d in filed.json["documents"]] == ["police_report"]


def test_a_text_part_where_a_file_belongs_is_422(api, tokens, ready_order):
    response = _file(api, tokens["buyer"], ready_order(), police_report="not a file")
    assert response.status_code == 422
    assert "police_report" in response.json["error"]["fields"]


def test_a_file_over_10_mb_is_413(api, tokens, ready_order, world):
    order = ready_order()
    before = world.counts()
    big = b"%PDF-" + b"0" * MAX_FILE_BYTES
    response = _file(api, tokens["buyer"], order, files=[("documents", "big.pdf", big)])
    response.request.environ["wsgi.input"].close()  # the test client spools big bodies
    assert response.status_code == 413
    assert response.json["error"]["code"] == "file_too_large"
    assert world.counts() == before


def test_mass_assignment_is_refused_and_nothing_is_stored(api, tokens, ready_order, world,
                                                          staff):
    order = ready_order()
    before = world.counts()
    response = _file(api, tokens["buyer"], order, state="approved", approved_amount="10000.00",
                     buyer_id=str(staff.id), max_total="10000.00")
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"state", "approved_amount", "buyer_id",
                                                     "max_total"}
    assert world.counts() == before
    claim = _file(api, tokens["buyer"], order).json
    api.post(f"/api/v1/claims/{claim['id']}/take", token=tokens["staff"])
    too_much = api.post(f"/api/v1/claims/{claim['id']}/decide", token=tokens["staff"], json={
        "decision": "approved", "approved_amount": "10000.00"})
    assert too_much.status_code == 422
    stored = db.session.get(Claim, claim["id"])
    db.session.refresh(stored)
    assert stored.state is ClaimState.UNDER_REVIEW and stored.approved_amount is None


def test_withdraw_then_409(api, tokens, ready_order):
    claim = _file(api, tokens["buyer"], ready_order()).json
    url = f"/api/v1/claims/{claim['id']}/withdraw"
    assert api.post(url, token=tokens["buyer"]).json["state"] == "withdrawn"
    again = api.post(url, token=tokens["buyer"])
    assert again.status_code == 409 and again.json["error"]["code"] == "transition_not_allowed"


def test_strangers_get_404_for_a_claim_and_its_seller_cannot_withdraw_it(
        api, tokens, ready_order, token_for, create_user):
    # The seller is a party to the claim since #18: they read it (without the buyer's
    # account: tests/claims/test_seller_party.py) but never act as the buyer.
    claim = _file(api, tokens["buyer"], ready_order()).json
    stranger = token_for(create_user())
    assert api.get(f"/api/v1/claims/{claim['id']}", token=stranger).status_code == 404
    for token in (tokens["seller"], stranger):
        assert api.post(f"/api/v1/claims/{claim['id']}/withdraw",
                        token=token).status_code == 404
    assert api.get(f"/api/v1/claims/{claim['id']}", token=tokens["seller"]).status_code == 200
    assert api.get(f"/api/v1/claims/{claim['id']}", token=tokens["staff"]).status_code == 200


def test_the_policy_quote_keeps_its_contract(api):
    response = api.get("/api/v1/policy/quote", query_string={"item_price": "0"})
    assert response.status_code == 422
    assert response.json["error"]["message"] == "Some query parameters are missing or invalid."


def test_a_replayed_export_is_the_same_csv_and_exports_nothing_again(api, tokens, ready_order):
    claim = _file(api, tokens["buyer"], ready_order()).json
    url = f"/api/v1/claims/{claim['id']}"
    api.post(f"{url}/take", token=tokens["staff"])
    api.post(f"{url}/decide", token=tokens["staff"], json={"decision": "approved"})
    headers = {"Idempotency-Key": "export-2026-11-22"}
    first = api.post("/api/v1/staff/payouts/export", token=tokens["staff"], headers=headers)
    again = api.post("/api/v1/staff/payouts/export", token=tokens["staff"], headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.data == first.data and again.mimetype == "text/csv"
    assert again.headers["X-Arbiter-Batch-Id"] == first.headers["X-Arbiter-Batch-Id"]
    assert again.headers["Content-Disposition"] == first.headers["Content-Disposition"]


def test_a_body_over_the_request_cap_is_a_json_413(app, api, tokens, ready_order, world,
                                                   monkeypatch):
    """Past MAX_CONTENT_LENGTH nothing of the body is read: the API still answers JSON."""
    order = ready_order()
    before = world.counts()
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    big = b"%PDF-" + b"0" * (2 * 1024 * 1024)
    response = _file(api, tokens["buyer"], order, files=[("documents", "big.pdf", big)])
    response.request.environ["wsgi.input"].close()
    assert response.status_code == 413
    assert response.json["error"]["code"] == "request_entity_too_large"
    assert world.counts() == before
