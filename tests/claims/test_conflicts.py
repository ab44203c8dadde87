"""Staff never act on a claim on their own purchase or sale (issue 25, item 1).

They may not take it, ask for documents, decide or reject it, export or confirm its payout
(403, nothing changes), in the browser or over the API; the claims queue does not offer it
to them (other staff get it as usual); and the database refuses the rows even past the
services.
"""

import csv
import io
from datetime import timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import func, insert, select, update

from arbiter import audit, clock
from arbiter.errors import ConflictOfInterest
from arbiter.extensions import db
from arbiter.storage import storage
from claims import queries, services
from claims.models import Claim, DocumentRequest, Payout, PayoutBatch
from claims.states import ClaimState, Decision, PayoutState, RejectionReason
from tests.claims.helpers import OTHER_IBAN, export_via_page, file
from tests.factories import refused_by_the_database

RATIONALE = "The photos show the lamp is another model; the listing was misleading."
NOTE = "You are the buyer or the seller in this case, so another staff member handles it."


@pytest.fixture(params=["buyer", "seller"])
def own_claim(request, create_user, create_order, create_discussion):
    """A submitted claim on an order whose buyer (or seller) is a staff member, the
    insider."""
    insider = create_user(is_staff=True, name="Ida Insider")
    other = create_user(name="Otto Other")
    buyer, seller = (insider, other) if request.param == "buyer" else (other, insider)
    order = create_order(buyer=buyer, seller=seller)
    create_discussion(order, age_hours=25)
    # An account of its own: the other claims' buyer uses IBAN, and a shared account would
    # hold the payouts for a senior (tests/claims/test_payout_controls.py).
    claim = file(order, payout_account=OTHER_IBAN)
    return SimpleNamespace(claim=claim, insider=insider, buyer=buyer, seller=seller)


def _state(claim) -> tuple:
    """Everything a staff step on the claim or its payout would change."""
    db.session.expire_all()
    row = db.session.get(Claim, claim.id)
    count = lambda model: db.session.scalar(select(func.count(model.id)))  # noqa: E731
    payout = row.payout
    return (audit.count(), row.state, row.assigned_staff_id, row.decided_by_id, row.version,
            count(DocumentRequest), count(PayoutBatch),
            payout and (payout.state, payout.batch_id))


def _refused(attempt, claim) -> None:
    before = _state(claim)
    with pytest.raises(ConflictOfInterest) as refused:
        attempt()
    db.session.rollback()
    assert (refused.value.status, refused.value.code) == (403, "conflict_of_interest")
    assert _state(claim) == before


def _approved_by(claim, staff) -> Claim:
    services.take(claim, staff)
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    return claim


# --- the review --------------------------------------------------------------------------


def test_staff_do_not_take_ask_decide_or_reject_their_own_claim(own_claim, staff,
                                                                time_machine):
    claim, insider = own_claim.claim, own_claim.insider
    _refused(lambda: services.take(claim, insider), claim)
    services.take(claim, staff)  # an impartial colleague reviews it
    db.session.commit()
    _refused(lambda: services.request_documents(claim, insider, "The invoice."), claim)
    for decision in Decision:
        _refused(lambda d=decision: services.decide(
            claim, insider, decision=d, amount=100 if d is Decision.PARTIALLY_APPROVED else None,
            rejection_reason=RejectionReason.OTHER, rationale=RATIONALE), claim)
    request = services.request_documents(claim, staff, "The invoice.")
    db.session.commit()
    time_machine.move_to(request.due_at + timedelta(seconds=1), tick=False)
    _refused(lambda: services.reject_after_deadline(claim, insider), claim)
    services.reject_after_deadline(claim, staff)
    db.session.commit()
    assert db.session.get(Claim, claim.id).decided_by_id == staff.id


def test_in_the_browser_they_see_the_claim_but_no_staff_actions(client, auth, own_claim,
                                                                staff):
    claim = own_claim.claim
    auth.login(own_claim.insider.email)
    page = client.get(f"/claims/{claim.id}")
    assert page.status_code == 200
    assert NOTE in page.text and "Take the claim" not in page.text
    posts = {"take": {}, "document-requests": {"what": "The invoice."},
             "decide": {"decision": "rejected", "rejection_reason": "other",
                        "rationale": RATIONALE},
             "reject-after-deadline": {}}
    for action, form in posts.items():
        if action == "document-requests":
            services.take(claim, staff)
            db.session.commit()
        before = _state(claim)
        response = client.post(f"/claims/{claim.id}/{action}", data=form)
        assert response.status_code == 403, action
        assert "another staff member must handle it" in response.text
        assert _state(claim) == before, action
    auth.logout()
    auth.login(staff.email)  # an impartial colleague has the forms
    assert "Issue the decision" in client.get(f"/claims/{claim.id}").text


def test_over_the_api_the_same_refusal(api, token_for, own_claim):
    claim = own_claim.claim
    token = token_for(own_claim.insider)
    url = f"/api/v1/claims/{claim.id}"
    assert api.get(url, token=token).status_code == 200
    posts = {"take": None, "document-requests": {"what": "The invoice."},
             "decide": {"decision": "approved"}, "reject-after-deadline": None}
    for action, body in posts.items():
        before = _state(claim)
        response = api.post(f"{url}/{action}", token=token, **({"json": body} if body else {}))
        assert response.status_code == 403, action
        assert response.json["error"]["code"] == "conflict_of_interest"
        assert _state(claim) == before, action


def test_the_queue_offers_a_claim_to_every_staff_member_but_its_parties(
        client, auth, api, token_for, own_claim, staff, filed):
    own, theirs = own_claim.claim.id, filed.id
    for user, expected in ((own_claim.insider, [theirs]), (staff, [own, theirs])):
        assert [c.id for c in queries.claims_queue(user).items] == expected
        api_queue = api.get("/api/v1/staff/claims", token=token_for(user)).json
        assert [c["id"] for c in api_queue["items"]] == expected
        auth.login(user.email)
        page = client.get("/staff/claims").text
        auth.logout()
        assert [n for n in (own, theirs) if f'href="/claims/{n}"' in page] == expected


# --- payouts -----------------------------------------------------------------------------


def _csv_claims(batch_id: int) -> list[str]:
    data = storage().get(db.session.get(PayoutBatch, batch_id).csv_storage_key)
    return [row["claim_id"] for row in csv.DictReader(io.StringIO(data.decode("utf-8")))]


def test_an_export_leaves_the_exporters_own_payouts_for_a_colleague(
        client, auth, own_claim, staff, approve):
    own = _approved_by(own_claim.claim, staff)
    theirs = approve()
    auth.login(own_claim.insider.email)
    response = export_via_page(client)
    assert response.status_code == 303
    batch_id = int(response.headers["Location"].split("/")[-1].removesuffix(".csv"))
    assert _csv_claims(batch_id) == [str(theirs.id)]
    db.session.expire_all()
    assert db.session.get(Claim, own.id).payout.state is PayoutState.PENDING
    auth.logout()

    batch = services.export_payouts(staff)  # the colleague's export takes it
    db.session.commit()
    assert _csv_claims(batch.id) == [str(own.id)]
    assert batch.payouts[0].exported_by_id == staff.id


def test_nobody_exports_only_their_own_payouts(client, auth, api, token_for, own_claim,
                                               staff):
    claim = _approved_by(own_claim.claim, staff)
    insider = own_claim.insider
    _refused(lambda: services.export_payouts(insider), claim)
    auth.login(insider.email)
    token = token_for(insider)
    before = _state(claim)
    page = client.post("/staff/payouts/export")
    assert page.status_code == 403 and "another staff member must export them" in page.text
    exported = api.post("/api/v1/staff/payouts/export", token=token)
    assert exported.status_code == 403
    assert exported.json["error"]["code"] == "conflict_of_interest"
    assert _state(claim) == before


def test_nobody_confirms_a_batch_that_pays_their_own_claim(client, auth, own_claim, staff,
                                                           approve, colleague):
    claim = _approved_by(own_claim.claim, staff)
    approve()
    batch = services.export_payouts(staff)
    db.session.commit()
    insider = own_claim.insider
    _refused(lambda: services.mark_batch_paid(batch.id, insider), claim)
    auth.login(insider.email)
    before = _state(claim)
    page = client.post(f"/staff/payouts/batches/{batch.id}/paid")
    assert page.status_code == 403 and "another staff member must confirm it" in page.text
    assert _state(claim) == before
    assert services.mark_batch_paid(batch.id, colleague) is True  # a colleague confirms it
    db.session.commit()
    db.session.expire_all()
    payout = db.session.get(Claim, claim.id).payout
    assert payout.state is PayoutState.PAID and payout.marked_paid_by_id == colleague.id


# --- the database ------------------------------------------------------------------------


def test_the_database_refuses_a_party_as_advisor_decider_or_requester(own_claim, staff):
    claim, insider = own_claim.claim, own_claim.insider
    now = clock.now()
    this = update(Claim).where(Claim.id == claim.id)
    refused_by_the_database(this.values(assigned_staff_id=insider.id, taken_at=now),
                            "ck_claims_advisor_not_a_party")
    refused_by_the_database(
        this.values(state=ClaimState.REJECTED, rejection_reason=RejectionReason.OTHER,
                    decided_at=now, decided_by_id=insider.id),
        "ck_claims_decider_not_a_party")
    request = {"claim_id": claim.id, "buyer_id": own_claim.buyer.id,
               "seller_id": own_claim.seller.id, "what": "The invoice.", "requested_at": now,
               "due_at": now + timedelta(days=7)}
    refused_by_the_database(insert(DocumentRequest).values(requested_by_id=insider.id,
                                                           **request),
                            "ck_document_requests_requester_not_a_party")
    db.session.execute(this.values(assigned_staff_id=staff.id, taken_at=now))
    db.session.execute(insert(DocumentRequest).values(requested_by_id=staff.id, **request))
    db.session.flush()


def test_the_database_refuses_a_party_exporting_or_confirming_the_payout(own_claim, staff):
    claim, insider = _approved_by(own_claim.claim, staff), own_claim.insider
    payout = db.session.get(Claim, claim.id).payout
    now = clock.now()

    def batch(created_by):
        return db.session.execute(insert(PayoutBatch).values(
            created_at=now, created_by_id=created_by.id, payout_count=1,
            total_amount=payout.amount, currency="PLN", csv_sha256="0" * 64,
            csv_storage_key=f"key-{created_by.id}").returning(PayoutBatch.id)).scalar_one()

    this = update(Payout).where(Payout.id == payout.id)
    own_batch, colleagues_batch = batch(insider), batch(staff)
    exported = {"state": PayoutState.EXPORTED}
    refused_by_the_database(this.values(batch_id=own_batch, exported_by_id=insider.id,
                                        **exported), "ck_payouts_exporter_not_a_party")
    refused_by_the_database(this.values(batch_id=own_batch, exported_by_id=None, **exported),
                            "ck_payouts_exported_by_iff_batched")
    refused_by_the_database(this.values(batch_id=own_batch, exported_by_id=staff.id,
                                        **exported), "fk_payouts_batch_exporter")
    db.session.execute(this.values(batch_id=colleagues_batch, exported_by_id=staff.id,
                                   **exported))

    # The batch row alone can name anybody; the payout cannot be paid through it.
    db.session.execute(update(PayoutBatch).where(PayoutBatch.id == colleagues_batch)
                       .values(marked_paid_at=now, marked_paid_by_id=insider.id))
    paid = {"state": PayoutState.PAID, "paid_at": now}
    refused_by_the_database(this.values(marked_paid_by_id=insider.id, **paid),
                            "ck_payouts_marker_not_a_party")
    refused_by_the_database(this.values(marked_paid_by_id=None, **paid),
                            "ck_payouts_marked_paid_by_iff_paid")
    refused_by_the_database(this.values(marked_paid_by_id=staff.id, **paid),
                            "fk_payouts_batch_marker")


def test_the_parties_a_claim_carries_are_its_orders(own_claim, create_user, staff):
    claim, stranger = own_claim.claim, create_user()
    refused_by_the_database(
        update(Claim).where(Claim.id == claim.id).values(seller_id=stranger.id),
        "fk_claims_order_parties")
    refused_by_the_database(insert(DocumentRequest).values(
        claim_id=claim.id, buyer_id=own_claim.buyer.id, seller_id=stranger.id,
        requested_by_id=staff.id, what="?", requested_at=clock.now(),
        due_at=clock.now() + timedelta(days=7)), "fk_document_requests_claim_parties")
