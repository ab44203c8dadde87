"""Follow-through in the browser: accepting an offer says what it means first, then the
discussion page shows the promise and lets each party answer it (issue #18, section 2)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from arbiter.extensions import db
from disputes import services
from disputes.models import Discussion
from disputes.states import DiscussionState, OfferKind, Verdict
from settlements.models import Settlement
from settlements.states import SettlementState

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # 10:00 in Warsaw


def _text(response) -> str:
    return response.text.replace("\xa0", " ").replace("\u202f", " ")


@pytest.fixture
def frozen(time_machine):
    time_machine.move_to(NOW, tick=False)
    return time_machine


@pytest.fixture
def offered(frozen, buyer, seller, create_discussion):
    """A discussion where the seller offered a partial refund of 40.00 zł."""

    def make(kind=OfferKind.PARTIAL_REFUND, amount=4_000):
        discussion = create_discussion(buyer=buyer, seller=seller)
        offer = services.make_offer(discussion, seller, kind=kind, amount=amount)
        db.session.commit()
        return discussion, offer

    return make


@pytest.fixture
def promised(offered, buyer):
    """The buyer accepted: a promise owed by the seller, due in 7 days."""
    discussion, offer = offered()
    promise = services.accept_offer(discussion, buyer, offer.id)
    db.session.commit()
    return discussion, promise


def _state(discussion) -> DiscussionState:
    db.session.expire_all()
    return db.session.get(Discussion, discussion.id).state


def _settlement(promise) -> Settlement:
    db.session.expire_all()
    return db.session.get(Settlement, promise.id)


def _path(discussion, promise, action: str) -> str:
    return f"/discussions/{discussion.id}/settlements/{promise.id}/{action}"


# --- accepting: a confirmation step first --------------------------------------------------


@pytest.mark.parametrize(("lang", "promise_text", "protection"), [
    ("en", "The seller must refund PLN 40.00 by 9 Mar 2026, 10:00.",
     "If the money does not arrive, you can report it here and your buyer protection "
     "continues"),
    ("pl", "Sprzedający musi zwrócić 40,00 zł do 9.03.2026, 10:00.",
     "Jeśli pieniądze nie dotrą, możesz to tutaj zgłosić, a ochrona kupujących nadal Cię "
     "obejmuje"),
])
def test_accepting_says_what_the_promise_means_first(client, auth, buyer, offered, lang,
                                                     promise_text, protection):
    discussion, offer = offered()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    auth.login(buyer.email)
    thread = client.get(f"/discussions/{discussion.id}").text
    confirm_path = f"/discussions/{discussion.id}/offers/{offer.id}/accept"
    assert f'href="{confirm_path}"' in thread  # a link to the page, not a button that posts
    page = client.get(confirm_path)
    assert page.status_code == 200
    assert promise_text in _text(page)
    assert protection in _text(page)
    assert f'action="{confirm_path}"' in page.text
    assert _state(discussion) is DiscussionState.IN_PROGRESS  # reading changed nothing
    response = client.post(confirm_path, data={"confirmed": "1"})
    assert response.status_code == 302
    assert _state(discussion) is DiscussionState.AWAITING_FULFILMENT
    promise = db.session.scalar(select(Settlement).where(Settlement.offer_id == offer.id))
    assert promise.due_at == NOW + timedelta(days=7)


def test_a_replacement_says_ship_by_and_receive_by(client, auth, buyer, offered):
    discussion, offer = offered(OfferKind.REPLACEMENT, None)
    auth.login(buyer.email)
    page = _text(client.get(f"/discussions/{discussion.id}/offers/{offer.id}/accept"))
    assert ("The seller must ship the replacement with a tracking number by 9 Mar 2026, "
            "10:00; it must reach you by 23 Mar 2026, 10:00.") in page
    assert "If it does not arrive, you can report it here" in page


def test_the_confirmation_page_is_the_buyers_and_for_a_pending_offer_only(
        client, auth, buyer, seller, create_user, offered):
    discussion, offer = offered()
    path = f"/discussions/{discussion.id}/offers/{offer.id}/accept"
    auth.login(seller.email)
    assert client.get(path).status_code == 404
    auth.logout()
    auth.login(create_user().email)
    assert client.get(path).status_code == 404
    auth.logout()
    auth.login(buyer.email)
    assert client.get(f"/discussions/{discussion.id}/offers/{offer.id + 999}/accept"
                      ).status_code == 404
    assert client.post(path, data={"confirmed": "1"}).status_code == 302
    assert client.get(path).status_code == 409


# --- the promise on the discussion page ------------------------------------------------------


def test_the_page_shows_the_promise_and_each_partys_actions(client, auth, buyer, seller,
                                                            promised):
    discussion, promise = promised
    auth.login(buyer.email)
    page = _text(client.get(f"/discussions/{discussion.id}"))
    assert f'data-settlement="{promise.id}"' in page
    assert "Partial refund: PLN 40.00" in page
    assert "9 Mar 2026, 10:00" in page
    assert "I received it" in page
    assert "It did not arrive" not in page  # not before the due date...
    assert "If it has not arrived by 9 Mar 2026, 10:00, you can report it here." in page
    assert "Accept" not in page and "Close as solved" not in page
    auth.logout()
    auth.login(seller.email)
    page = _text(client.get(f"/discussions/{discussion.id}"))
    assert "Mark as done" in page and "Transfer confirmation or tracking number" in page
    assert "Make an offer" not in page  # no offers while a promise is pending
    assert "I received it" not in page
    assert "Answer due" not in page and "answer due" not in page


def test_the_buyer_confirms_once(client, auth, buyer, promised):
    discussion, promise = promised
    auth.login(buyer.email)
    response = client.post(_path(discussion, promise, "confirm"))
    assert response.status_code == 302
    assert response.headers["Location"] == f"/discussions/{discussion.id}"
    assert "you confirmed that it arrived" in client.get(response.headers["Location"]).text
    assert _settlement(promise).state is SettlementState.CONFIRMED
    assert _state(discussion) is DiscussionState.RESOLVED
    assert client.post(_path(discussion, promise, "confirm")).status_code == 409


def test_someone_elses_settlement_is_404(client, auth, buyer, seller, staff, create_user,
                                         promised, create_discussion):
    discussion, promise = promised
    for person in (seller, staff, create_user()):
        auth.login(person.email)
        assert client.post(_path(discussion, promise, "confirm")).status_code == 404
        assert client.post(_path(discussion, promise, "failed")).status_code == 404
        auth.logout()
    auth.login(buyer.email)
    assert client.post(_path(discussion, promise, "proof"),
                       data={f"settlement-{promise.id}-reference": "X"}).status_code == 404
    # The promise named under another discussion of the same buyer: 404 as well.
    other = create_discussion(buyer=buyer)
    assert client.post(f"/discussions/{other.id}/settlements/{promise.id}/confirm"
                       ).status_code == 404
    assert _settlement(promise).state is SettlementState.OWED


def test_reporting_before_the_due_date_is_refused(client, auth, buyer, promised):
    discussion, promise = promised
    auth.login(buyer.email)
    response = client.post(_path(discussion, promise, "failed"))
    assert response.status_code == 409
    assert "The seller has until" in response.text
    assert _settlement(promise).state is SettlementState.OWED


def test_after_the_due_date_the_buyer_reports_it_and_may_escalate_at_once(
        client, auth, buyer, promised, frozen):
    discussion, promise = promised
    frozen.move_to(NOW + timedelta(days=7, minutes=1), tick=False)
    auth.login(buyer.email)
    page = client.get(f"/discussions/{discussion.id}").text
    assert "It did not arrive" in page
    response = client.post(_path(discussion, promise, "failed"),
                           data={f"settlement-{promise.id}-note": "Nothing on my account."})
    assert response.status_code == 302
    row = _settlement(promise)
    assert row.state is SettlementState.FAILED and row.note == "Nothing on my account."
    assert _state(discussion) is DiscussionState.IN_PROGRESS
    page = _text(client.get(f"/discussions/{discussion.id}"))
    assert "You reported that it did not arrive." in page
    assert "Why do you need the platform's help?" in page  # the escalation form, at once
    assert "Available from" not in page
    assert "Nothing on my account." in page


def test_a_note_too_long_is_a_form_error(client, auth, buyer, promised, frozen):
    discussion, promise = promised
    frozen.move_to(NOW + timedelta(days=8), tick=False)
    auth.login(buyer.email)
    response = client.post(_path(discussion, promise, "failed"),
                           data={f"settlement-{promise.id}-note": "x" * 2001})
    assert response.status_code == 422
    assert 'aria-invalid="true"' in response.text
    assert _settlement(promise).state is SettlementState.OWED


def test_the_seller_marks_it_done_and_the_buyer_contests(client, auth, buyer, seller,
                                                        promised):
    discussion, promise = promised
    field = f"settlement-{promise.id}-reference"
    auth.login(seller.email)
    empty = client.post(_path(discussion, promise, "proof"), data={field: "  "})
    assert empty.status_code == 422 and 'aria-invalid="true"' in empty.text
    response = client.post(_path(discussion, promise, "proof"),
                           data={field: "PL-TRANSFER-2026-03-02-0042"})
    assert response.status_code == 302
    assert "until 9 Mar 2026, 10:00" in _text(client.get(response.headers["Location"]))
    assert client.post(_path(discussion, promise, "proof"),
                       data={field: "again"}).status_code == 409
    auth.logout()
    auth.login(buyer.email)
    page = _text(client.get(f"/discussions/{discussion.id}"))
    assert "PL-TRANSFER-2026-03-02-0042" in page
    assert "The buyer can say it did not arrive until 9 Mar 2026, 10:00" in page
    assert "It did not arrive" in page  # contesting the proof is allowed at once
    assert client.post(_path(discussion, promise, "failed")).status_code == 302
    assert _settlement(promise).state is SettlementState.FAILED
    assert _state(discussion) is DiscussionState.IN_PROGRESS


def test_a_verdicts_amount_is_followed_up_on_the_decided_discussion(
        client, auth, buyer, seller, staff, escalated, frozen):
    services.take_case(escalated, staff)
    services.decide(escalated, staff, verdict=Verdict.PARTIAL, amount=3_000,
                    rationale="The shade cracked in transit; the seller refunds 30 zł.")
    db.session.commit()
    promise = db.session.scalar(select(Settlement).where(
        Settlement.discussion_id == escalated.id))
    auth.login(buyer.email)
    page = _text(client.get(f"/discussions/{escalated.id}"))
    assert "Payment ordered by the platform" in page and "PLN 30.00" in page
    assert "16 Mar 2026, 10:00" in page  # 14 days
    assert "I received it" in page
    assert client.post(_path(escalated, promise, "confirm")).status_code == 302
    assert _settlement(promise).state is SettlementState.CONFIRMED
    assert "The refund the verdict ordered was confirmed." in client.get(
        f"/discussions/{escalated.id}").text


# --- no offers and no deadline once the parties no longer talk ---------------------------------


def test_settled_by_the_platform_says_so_and_offers_nothing(client, auth, seller, staff,
                                                             create_discussion):
    discussion = create_discussion(seller=seller)
    services.settle_by_platform(discussion.id, staff, claim_id=4242)
    db.session.commit()
    auth.login(seller.email)
    page = client.get(f"/discussions/{discussion.id}").text
    assert ("The platform approved protection claim #4242 for this order; this discussion "
            "has ended.") in page
    assert "Make an offer" not in page
    assert "answer due" not in page
    assert "/claims/4242" not in page  # the seller's view of claims is another page's work


def test_the_inbox_shows_no_deadline_while_waiting_for_fulfilment(client, auth, seller,
                                                                  promised):
    discussion, _promise = promised
    auth.login(seller.email)
    page = client.get("/seller/inbox").text
    row = page[page.index(f">#{discussion.id}<"):]
    row = row[:row.index("</tr>")]
    assert "awaiting fulfilment" in row
    assert "data-countdown-to" not in row


def test_the_order_page_says_what_is_pending(client, auth, buyer, promised):
    discussion, _promise = promised
    auth.login(buyer.email)
    page = _text(client.get(f"/orders/{discussion.order_id}"))
    assert "What the seller still owes you" in page
    assert "The seller must refund PLN 40.00 by 9 Mar 2026, 10:00." in page
    assert "does not apply" not in page and "no longer" not in page
    assert "fully compensated" not in page
