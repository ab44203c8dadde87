"""Claim pages as buyers, staff and strangers meet them."""

import csv
import io

import pytest
from sqlalchemy import select

from arbiter.extensions import db
from claims import services
from claims.models import Claim, ClaimDocument, DocumentRequest, Payout, PayoutBatch
from claims.states import ClaimState, Decision, PayoutState
from orders.states import PaymentMethod
from tests.claims.helpers import IBAN, decide_in_browser, export_via_page, file
from tests.files import PDF, PNG


def _text(response) -> str:
    return response.text.replace("\xa0", " ")


def _file(client, order, files=(), **extra):
    data = {"claim_type": "not_as_described",
            "description": "The lamp is a different model than the listing shows.",
            "payout_account": "PL61 1090 1014 0000 0712 1981 2874"}
    data.update(extra)
    for field, name, content in files:
        data.setdefault(field, []).append((io.BytesIO(content), name))
    return client.post(f"/orders/{order.id}/claim", data=data,
                       content_type="multipart/form-data")


def test_the_whole_journey_from_filing_to_payment(client, auth, buyer, staff, senior,
                                                  ready_order, colleague):
    order = ready_order(item_price=995_000, shipping_cost=8_000)

    # The buyer sees the offer on the order and what the policy pays before filing.
    auth.login(buyer.email)
    assert "File a protection claim" in client.get(f"/orders/{order.id}").text
    form = _text(client.get(f"/orders/{order.id}/claim"))
    assert "What you can get" in form
    assert "PLN 9,950.00" in form and "PLN 80.00" in form and "PLN 10,000.00" in form
    assert "limited to the cap per claim" in form

    response = _file(client, order, claim_type="not_received",
                     police_report_reference="RSD-1234/26",
                     files=[("police_report", "acknowledgement.pdf", PDF)])
    assert response.status_code == 302
    claim = db.session.scalar(select(Claim).where(Claim.order_id == order.id))
    page = _text(client.get(response.headers["Location"]))
    assert "Your claim was filed." in page
    assert "acknowledgement.pdf" in page and "RSD-1234/26" in page
    assert "PLN 10,000.00" in page and "Rules version 2017-08" in page
    assert "Claim filed" in page and 'data-state="submitted"' in page
    assert "Go to protection claim" in client.get(f"/orders/{order.id}").text
    auth.logout()

    # Staff find it in the queue, take it and ask for a document.
    auth.login(staff.email)
    queue = client.get("/staff/claims").text
    assert f'href="/claims/{claim.id}"' in queue
    assert client.post(f"/claims/{claim.id}/take").status_code == 302
    response = client.post(f"/claims/{claim.id}/document-requests",
                           data={"what": "The courier statement that the parcel was lost."})
    assert response.status_code == 302
    auth.logout()

    # The buyer sees the request with its deadline and uploads the document.
    auth.login(buyer.email)
    page = _text(client.get(f"/claims/{claim.id}"))
    assert "The courier statement that the parcel was lost." in page
    assert "min left" in page  # the countdown to the 7-day deadline
    response = client.post(f"/claims/{claim.id}/documents",
                           data={"files": [(io.BytesIO(PDF), "courier.pdf")]},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    auth.logout()

    # Staff approve: the policy total, one pending payout.
    auth.login(staff.email)
    # First a confirmation stating the amount and the buyer (nothing changes yet).
    confirmation = client.post(f"/claims/{claim.id}/decide", data={"decision": "approved"})
    assert confirmation.status_code == 200
    assert (f"This approval pays PLN 10,000.00 to {buyer.name}."
            in _text(confirmation))
    assert db.session.scalar(select(Payout)) is None
    response = decide_in_browser(client, claim.id, {"decision": "approved"})
    assert response.status_code == 302
    # Above 2,000.00 zł a second senior must confirm it before anything is paid.
    assert db.session.scalar(select(Payout)) is None
    auth.logout()
    auth.login(senior.email)
    queue = _text(client.get("/staff/claims/second-approvals"))
    assert "PLN 10,000.00" in queue and buyer.name in queue and staff.name in queue
    confirm_page = _text(client.get(f"/claims/{claim.id}/second-approval"))
    assert f"Confirming pays PLN 10,000.00 to {buyer.name}." in confirm_page
    assert client.post(f"/claims/{claim.id}/second-approval/confirm",
                       data={"confirm_amount": "10000.00"}).status_code == 302
    auth.logout()
    auth.login(staff.email)
    page = _text(client.get(f"/claims/{claim.id}"))
    assert "Compensation: PLN 10,000.00" in page
    assert "waiting for the next payout batch" in page

    # Staff export the CSV and check it before sending it to finance.
    payouts = _text(client.get("/staff/payouts"))
    assert "PL61 1090 1014 0000 0712 1981 2874" in payouts
    response = export_via_page(client)
    assert response.status_code == 303
    download = client.get(response.headers["Location"])
    assert download.status_code == 200
    assert download.headers["Content-Type"].startswith("text/csv")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    rows = list(csv.DictReader(io.StringIO(download.data.decode("utf-8"))))
    number = rows[0]["decision_number"]
    assert number.startswith("POK/") and len(number) == len("POK/2026/000001")
    assert rows == [{"payout_id": str(claim.payout.id), "claim_id": str(claim.id),
                     "beneficiary_name": buyer.name, "account": IBAN, "amount": "10000.00",
                     "currency": "PLN", "title": f"Arbiter {number} claim {claim.id}",
                     "decision_number": number}]
    batch = db.session.scalar(select(PayoutBatch))
    assert client.post("/staff/payouts/export").status_code == 409  # nothing left to export

    # Finance paid: a colleague (never the exporter) marks the batch, twice by accident.
    assert client.post(f"/staff/payouts/batches/{batch.id}/paid").status_code == 403
    auth.logout()
    auth.login(colleague.email)
    assert client.post(f"/staff/payouts/batches/{batch.id}/paid").status_code == 302
    again = client.post(f"/staff/payouts/batches/{batch.id}/paid", follow_redirects=True)
    assert "already marked as paid" in again.text
    auth.logout()

    auth.login(buyer.email)
    page = _text(client.get(f"/claims/{claim.id}"))
    assert 'data-state="paid"' in page and 'data-payout-state="paid"' in page
    assert "Compensation paid" in page
    notifications = client.get("/notifications").text
    assert "The compensation for your protection claim" in notifications
    assert f'href="/claims/{claim.id}"' in notifications
    db.session.expire_all()
    assert db.session.get(Claim, claim.id).state is ClaimState.PAID
    kinds = [d.kind.value for d in db.session.get(Claim, claim.id).documents]
    assert kinds == ["police_report", "requested"]


def test_the_order_page_says_why_no_claim_is_possible(client, auth, buyer, ready_order,
                                                      create_order):
    auth.login(buyer.email)
    cash = ready_order(payment_method=PaymentMethod.CASH_ON_DELIVERY)
    page = client.get(f"/orders/{cash.id}").text
    assert "File a protection claim" not in page
    assert "Buyer protection does not cover orders paid with “Cash on delivery”." in page
    response = client.get(f"/orders/{cash.id}/claim")
    assert response.status_code == 409
    assert "does not cover orders paid with" in response.text
    assert _file(client, cash).status_code == 409

    # The discussion's state and what it means for a claim: the page's headline (#22 §5).
    fresh = ready_order(discussion_age_hours=1)
    assert "If it is not solved, you can file a protection claim from" in client.get(
        f"/orders/{fresh.id}").text
    no_discussion = create_order(buyer=buyer)
    assert "report it to the seller first: a protection claim needs a discussion" in client.get(
        f"/orders/{no_discussion.id}").text


def test_a_second_claim_links_to_the_first(client, auth, buyer, ready_order):
    order = ready_order()
    claim = file(order)
    auth.login(buyer.email)
    response = _file(client, order)
    assert response.status_code == 409
    assert f'href="/claims/{claim.id}"' in response.text


def test_not_received_without_a_police_report_is_refused_and_stores_nothing(
        app, client, auth, buyer, ready_order, world):
    order = ready_order()
    auth.login(buyer.email)
    before = world.counts()
    response = _file(client, order, claim_type="not_received",
                     files=[("documents", "photo.png", PNG)])
    assert response.status_code == 422
    assert "Give the reference number of the police report" in response.text
    response = _file(client, order, claim_type="not_received", police_report_reference="R-1")
    assert response.status_code == 422
    assert "Upload the police acknowledgement" in response.text
    assert world.counts() == before


@pytest.mark.parametrize(("extra", "status", "message"), [
    ({"payout_account": "PL00 0000"}, 422, "Enter the account number for the payout"),
    ({"claim_type": "other"}, 422, "Enter the documented loss you claim."),
    ({"claim_type": "other", "claimed_amount": "1e3"}, 422, "Enter an amount such as 1,500.50."),
    ({"claim_type": "other", "claimed_amount": "200.00"}, 422, "cannot be more than the item"),
    ({"description": ""}, 422, ""),
    ({"claim_type": "stolen"}, 422, ""),
])
def test_bad_claim_forms_are_shown_again_with_the_error(client, auth, buyer, ready_order, world,
                                                        extra, status, message):
    order = ready_order()
    auth.login(buyer.email)
    before = world.counts()
    response = _file(client, order, **extra)
    assert response.status_code == status
    assert message in response.text
    assert "What you can get" in response.text
    assert world.counts() == before


def test_a_too_large_police_report_is_413(client, auth, buyer, ready_order, world):
    order = ready_order()
    auth.login(buyer.email)
    before = world.counts()
    response = _file(client, order, claim_type="not_received", police_report_reference="R-1",
                     files=[("police_report", "scan.pdf", b"%PDF-" + b"0" * (10 * 1024 * 1024))])
    response.request.environ["wsgi.input"].close()  # the test client spools big bodies
    assert response.status_code == 413
    assert "larger than 10 MB" in response.text
    assert world.counts() == before


def test_claims_and_their_documents_are_for_the_buyer_and_staff(client, auth, buyer, seller,
                                                                staff, create_user,
                                                                ready_order):
    from arbiter.files import Upload

    claim = file(ready_order(), documents=[Upload("photo.png", PNG)])
    document = db.session.scalar(select(ClaimDocument))
    url = f"/claims/{claim.id}/documents/{document.id}"
    # The seller is a party since #18: they see the claim, never the buyer's documents.
    for user, page, expected in ((buyer, 200, 200), (staff, 200, 200), (seller, 200, 404),
                                 (create_user(), 404, 404)):
        auth.login(user.email)
        assert client.get(f"/claims/{claim.id}").status_code == page
        response = client.get(url)
        assert response.status_code == expected
        if expected == 200:
            assert response.data == PNG
            assert response.headers["Content-Disposition"].startswith("attachment;")
            assert response.headers["X-Content-Type-Options"] == "nosniff"
        auth.logout()
    assert client.get(f"/claims/{claim.id}").status_code == 302  # to the login page


def test_someone_elses_order_cannot_be_claimed(client, auth, seller, ready_order):
    order = ready_order()
    auth.login(seller.email)
    assert client.get(f"/orders/{order.id}/claim").status_code == 404
    assert _file(client, order).status_code == 404


def test_staff_pages_are_for_staff_only(client, auth, buyer, filed):
    auth.login(buyer.email)
    for url in ("/staff/claims", "/staff/payouts", "/staff/claims/dashboard"):
        assert client.get(url).status_code == 403
    for url in (f"/claims/{filed.id}/take", f"/claims/{filed.id}/decide",
                f"/claims/{filed.id}/document-requests", "/staff/payouts/export",
                f"/claims/{filed.id}/reject-after-deadline"):
        assert client.post(url, data={"decision": "approved"}).status_code == 403
    db.session.expire_all()
    assert db.session.get(Claim, filed.id).state is ClaimState.SUBMITTED


def test_the_buyer_withdraws_in_the_browser(client, auth, buyer, filed):
    auth.login(buyer.email)
    assert "Withdraw the claim" in client.get(f"/claims/{filed.id}").text
    # The first post (a button without JavaScript) only says what withdrawing means.
    asked = client.post(f"/claims/{filed.id}/withdraw")
    assert asked.status_code == 200
    assert "nobody reviews it any more and the platform pays nothing for it" in asked.text
    assert 'name="confirmed" value="1"' in asked.text
    db.session.expire_all()
    assert db.session.get(Claim, filed.id).state is ClaimState.SUBMITTED
    assert client.post(f"/claims/{filed.id}/withdraw", data={"confirmed": "1"}).status_code == 302
    page = client.get(f"/claims/{filed.id}").text
    assert 'data-state="withdrawn"' in page and "Withdraw the claim" not in page
    assert client.post(f"/claims/{filed.id}/withdraw").status_code == 409


def test_deciding_a_claim_nobody_took_is_409(client, auth, staff, filed):
    auth.login(staff.email)
    assert client.post(f"/claims/{filed.id}/decide",
                       data={"decision": "approved"}).status_code == 409
    assert db.session.scalar(select(Payout)) is None


def test_a_bad_decision_is_shown_again_with_422(client, auth, staff, under_review):
    auth.login(staff.email)
    response = client.post(f"/claims/{under_review.id}/decide",
                           data={"decision": "partially_approved", "amount": "138.45",
                                 "rationale": "The receipt shows a lower value was paid."})
    assert response.status_code == 422
    assert "partial approval pays at least 0.01 and less than that" in response.text
    response = client.post(f"/claims/{under_review.id}/decide",
                           data={"decision": "rejected", "rationale": "x" * 40})
    assert response.status_code == 422
    assert "Choose the reason for the rejection." in response.text
    response = decide_in_browser(
        client, under_review.id, {"decision": "partially_approved", "amount": "50.00",
                                  "rationale": "The receipt shows a lower value was paid."})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Claim, under_review.id).approved_amount == 5_000


def test_rejecting_before_the_document_deadline_is_409(client, auth, staff, under_review,
                                                        time_machine):
    services.request_documents(under_review, staff, "The invoice, please.")
    db.session.commit()
    request = db.session.scalar(select(DocumentRequest))
    auth.login(staff.email)
    page = client.get(f"/claims/{under_review.id}").text
    assert "Waiting for the buyer until" in page
    assert client.post(f"/claims/{under_review.id}/reject-after-deadline").status_code == 409
    time_machine.move_to(request.due_at.timestamp() + 1, tick=False)
    page = client.get(f"/claims/{under_review.id}").text
    assert "Reject: documents not sent in time" in page
    assert client.post(f"/claims/{under_review.id}/reject-after-deadline").status_code == 302
    page = _text(client.get(f"/claims/{under_review.id}"))
    assert "The requested documents were not provided by the deadline" in page


def test_the_queue_is_oldest_first_filtered_and_paged(client, auth, staff, ready_order,
                                                      time_machine):
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    claims = []
    for number in range(23):
        time_machine.move_to(start + timedelta(minutes=number), tick=False)
        claims.append(file(ready_order()))
    services.take(claims[0], staff)
    db.session.commit()
    auth.login(staff.email)
    first = client.get("/staff/claims")
    ids = [c.id for c in claims]
    assert first.text.index(f'href="/claims/{ids[0]}"') < first.text.index(
        f'href="/claims/{ids[1]}"')
    assert f'href="/claims/{ids[19]}"' in first.text
    assert f'href="/claims/{ids[20]}"' not in first.text
    more = first.text.split('href="/staff/claims?after=')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(f"/staff/claims?after={more}").text
    assert f'href="/claims/{ids[20]}"' in second and f'href="/claims/{ids[22]}"' in second
    assert f'href="/claims/{ids[19]}"' not in second
    under_review = client.get("/staff/claims?state=under_review").text
    assert f'href="/claims/{ids[0]}"' in under_review
    assert f'href="/claims/{ids[1]}"' not in under_review
    assert f'href="/claims/{ids[0]}"' not in client.get("/staff/claims?type=other").text
    assert client.get("/staff/claims?state=lost").status_code == 422


def test_the_claims_dashboard(client, auth, staff, ready_order, time_machine, colleague):
    from datetime import UTC, datetime, timedelta

    start = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
    time_machine.move_to(start, tick=False)
    claims = [file(ready_order()) for _ in range(2)]
    ready_order()  # a third order, never claimed
    for claim, hours in zip(claims, (10, 30), strict=True):
        time_machine.move_to(start + timedelta(hours=hours), tick=False)
        services.take(claim, staff)
        services.decide(claim, staff, decision=Decision.APPROVED)
        db.session.commit()
    batch = services.export_payouts(staff)
    services.mark_batch_paid(batch.id, colleague)
    db.session.commit()
    auth.login(staff.email)
    page = _text(client.get("/staff/claims/dashboard"))
    assert "66.6667 %" in page                # 2 paid claims / 3 orders
    assert "PLN 276.90" in page               # 2 x 138.45
    assert "0 d 20 h 0 min" in page           # median of 10 h and 30 h
    assert "0.0036 %" in page                 # what the source programme reported
    assert db.session.scalar(select(Payout.state).limit(1)) is PayoutState.PAID


def test_the_dashboard_in_polish_uses_a_decimal_comma(app, auth, client, staff, ready_order,
                                                      colleague):
    claim = file(ready_order())
    ready_order()
    ready_order()
    services.take(claim, staff)
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    services.mark_batch_paid(services.export_payouts(staff).id, colleague)
    db.session.commit()
    auth.login(staff.email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "pl"
    page = _text(client.get("/staff/claims/dashboard"))
    assert "33,3333 %" in page


def test_every_claim_page_renders_in_polish(app, client, auth, buyer, staff, ready_order,
                                            time_machine):
    """Every translated string with placeholders is exercised once, in Polish."""
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "pl"
    order = ready_order()
    auth.login(buyer.email)
    assert "Złóż wniosek o rekompensatę" in client.get(f"/orders/{order.id}").text
    assert "Ile możesz otrzymać" in client.get(f"/orders/{order.id}/claim").text
    claim = file(order)
    services.take(claim, staff)
    services.request_documents(claim, staff, "Faktura od sprzedającego.")
    db.session.commit()
    page = _text(client.get(f"/claims/{claim.id}"))
    assert f"Wniosek o rekompensatę nr {claim.id}" in page
    assert "czeka na dokumenty" in page and "Doradca rozpoczął rozpatrywanie" in page
    assert "Otrzymaliśmy Twój wniosek o rekompensatę" in client.get("/notifications").text
    auth.logout()
    auth.login(staff.email)
    assert "Rozpatruje: Sylwia Staff" in client.get(f"/claims/{claim.id}").text
    time_machine.move_to(db.session.scalar(select(DocumentRequest.due_at)).timestamp() + 1,
                         tick=False)
    assert client.post(f"/claims/{claim.id}/reject-after-deadline").status_code == 302
    page = _text(client.get(f"/claims/{claim.id}"))
    assert "Żądane dokumenty nie dotarły w terminie" in page
    for url in ("/staff/claims", "/staff/payouts", "/staff/claims/dashboard", "/claims"):
        assert client.get(url).status_code == 200
    second = ready_order()
    response = client.get(f"/orders/{second.id}")
    assert response.status_code == 200


def test_every_problem_of_the_claim_form_is_shown_in_one_round(client, auth, buyer,
                                                                 ready_order, world):
    """#22 item 11: the form's own checks and the service's together, and the chosen files
    named, since the browser will not keep them."""
    order = ready_order()
    auth.login(buyer.email)
    before = world.counts()
    response = _file(client, order, claim_type="not_received", description="",
                     payout_account="PL00 0000", files=[("documents", "receipt.pdf", PDF)])
    assert response.status_code == 422
    page = _text(response)
    for field in ("description", "payout_account", "police_report_reference",
                  "police_report"):
        assert f'id="{field}-errors"' in page, field
    assert "Enter the account number for the payout" in page
    assert "Give the reference number of the police report" in page
    assert "Upload the police acknowledgement" in page
    assert "Choose your files again (receipt.pdf)" in page
    assert world.counts() == before


def test_a_bad_amount_and_a_bad_account_are_reported_together(client, auth, buyer,
                                                              ready_order, world):
    order = ready_order()
    auth.login(buyer.email)
    response = _file(client, order, claim_type="other", claimed_amount="1 500,505",
                     payout_account="PL00 0000")
    page = _text(response)
    assert response.status_code == 422
    assert 'id="claimed_amount-errors"' in page and 'id="payout_account-errors"' in page
    assert "Enter an amount such as 1,500.50." in page
