"""Appeal pages, on SQLite and PostgreSQL: a party appeals from the decision's page (and
not after the window, not twice, not someone else's), the other party answers, staff take
appeals from the queue (never their own decision), mark every piece of evidence read and
only then decide."""

import html
import io
import re
from datetime import timedelta

import pytest
import time_machine
from flask_babel import force_locale, format_datetime

from appeals import services as appeals
from appeals.models import Appeal
from appeals.queries import evidence
from appeals.states import AppealState
from arbiter.extensions import db
from arbiter.files import Upload
from claims import services as claims
from claims.states import ClaimType, Decision, RejectionReason
from tests.appeals.conftest import RATIONALE, STATEMENT
from tests.claims.helpers import IBAN
from tests.files import PNG

ANSWER = "The buyer already received half of the price back; the lamp works with a new bulb."
DECISION_RATIONALE = "The photos show the whole lamp is unusable, not only the shade."


@pytest.fixture(autouse=True)
def _readable(client):
    """Pages as a reader sees them ("courier's", not "courier&#39;s")."""

    class Response(client.response_wrapper):
        @property
        def text(self) -> str:
            return html.unescape(self.get_data(as_text=True))

    client.response_wrapper = Response


def _closing(app, when) -> str:
    with app.test_request_context(), force_locale("en"):
        return format_datetime(when, "short")


def _file(discussion, buyer, statement=STATEMENT):
    appeal = appeals.file_appeal(discussion, buyer, statement)
    db.session.commit()
    return appeal


# --- filing --------------------------------------------------------------------------------


def test_the_verdict_page_offers_the_appeal_and_the_form_files_it(app, client, auth, verdict,
                                                                  buyer):
    discussion = verdict()
    auth.login(buyer.email)
    closes = discussion.decided_at + timedelta(days=30)
    thread = client.get(f"/discussions/{discussion.id}").text
    assert "Appeal this decision" in thread
    assert f'data-appeal-closes="{closes.isoformat()}"' in thread
    form = client.get(f"/discussions/{discussion.id}/appeal")
    assert form.status_code == 200
    assert "Between 30 and 20,000 characters" in form.text
    assert _closing(app, closes) in form.text
    short = client.post(f"/discussions/{discussion.id}/appeal", data={"statement": "Unfair."})
    assert short.status_code == 422 and db.session.scalar(db.select(Appeal.id)) is None
    response = client.post(f"/discussions/{discussion.id}/appeal",
                           data={"statement": STATEMENT,
                                 "files": [(io.BytesIO(PNG), "courier.png")]},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    appeal = db.session.scalar(db.select(Appeal))
    assert response.headers["Location"] == f"/appeals/{appeal.id}"
    page = client.get(f"/appeals/{appeal.id}")
    assert page.status_code == 200
    assert STATEMENT in page.text and "courier.png" in page.text
    [stored] = appeal.files
    download = client.get(f"/appeals/{appeal.id}/files/{stored.id}")
    assert download.status_code == 200 and download.data == PNG
    assert download.headers["Content-Disposition"].startswith("attachment")
    # Once: a second time is refused with a link to the appeal.
    again = client.get(f"/discussions/{discussion.id}/appeal")
    assert again.status_code == 409
    assert "You have already appealed this decision." in again.text
    assert f'href="/appeals/{appeal.id}"' in again.text
    assert f'data-my-appeal="{appeal.id}"' in client.get(f"/discussions/{discussion.id}").text


def test_after_the_window_the_appeal_is_refused_with_its_closing_date(app, client, auth,
                                                                      verdict, seller):
    discussion = verdict()
    closes = discussion.decided_at + timedelta(days=30)
    with time_machine.travel(closes + timedelta(seconds=1)):
        auth.login(seller.email)  # a session does not last 30 days
        for response in (client.get(f"/discussions/{discussion.id}/appeal"),
                         client.post(f"/discussions/{discussion.id}/appeal",
                                     data={"statement": STATEMENT})):
            assert response.status_code == 409
            assert (f"The time to appeal this decision ended on {_closing(app, closes)}."
                    in response.text)
        thread = client.get(f"/discussions/{discussion.id}").text
        assert "data-appeal-refusal" in thread and _closing(app, closes) in thread
    assert db.session.scalar(db.select(Appeal.id)) is None


def test_someone_elses_decision_and_appeal_are_404(client, auth, verdict, buyer, create_user,
                                                   staff):
    discussion = verdict()
    appeal = _file(discussion, buyer)
    stranger = create_user("stranger@example.test")
    auth.login(stranger.email)
    assert client.get(f"/discussions/{discussion.id}/appeal").status_code == 404
    assert client.post(f"/discussions/{discussion.id}/appeal",
                       data={"statement": STATEMENT}).status_code == 404
    assert client.get(f"/appeals/{appeal.id}").status_code == 404
    assert client.post(f"/appeals/{appeal.id}/answer",
                       data={"statement": ANSWER}).status_code == 404
    auth.logout()
    auth.login(staff.email)  # staff see the appeal, but a decision is not theirs to appeal
    assert client.get(f"/appeals/{appeal.id}").status_code == 200
    assert client.get(f"/discussions/{discussion.id}/appeal").status_code == 404


def test_a_claim_rejection_is_appealed_from_the_claim_page(client, auth, decided_claim, buyer,
                                                           seller):
    claim = decided_claim(Decision.REJECTED)
    auth.login(seller.email)  # a rejection gives the seller nothing to appeal
    page = client.get(f"/claims/{claim.id}").text
    assert "This decision gives you nothing to appeal." in page
    assert client.get(f"/claims/{claim.id}/appeal").status_code == 409
    auth.logout()
    auth.login(buyer.email)
    assert f'href="/claims/{claim.id}/appeal"' in client.get(f"/claims/{claim.id}").text
    response = client.post(f"/claims/{claim.id}/appeal", data={"statement": STATEMENT})
    assert response.status_code == 302
    appeal = db.session.scalar(db.select(Appeal))
    assert appeal.claim_id == claim.id and appeal.appellant.value == "buyer"


# --- answering -----------------------------------------------------------------------------


def test_the_other_party_answers_once_within_72_hours(client, auth, verdict, buyer, seller):
    appeal = _file(verdict(), buyer)
    auth.login(buyer.email)  # the appellant has no answer form
    assert "Send the statement" not in client.get(f"/appeals/{appeal.id}").text
    assert client.post(f"/appeals/{appeal.id}/answer",
                       data={"statement": ANSWER}).status_code == 404
    auth.logout()
    auth.login(seller.email)
    page = client.get(f"/appeals/{appeal.id}").text
    assert "Send the statement" in page
    assert f'data-answer-due="{appeal.answer_due_at.isoformat()}"' in page
    assert "data-countdown-to" in page
    assert client.post(f"/appeals/{appeal.id}/answer",
                       data={"statement": "No."}).status_code == 422
    response = client.post(f"/appeals/{appeal.id}/answer", data={"statement": ANSWER})
    assert response.status_code == 302
    page = client.get(f"/appeals/{appeal.id}").text
    assert ANSWER in page and "Send the statement" not in page
    again = client.post(f"/appeals/{appeal.id}/answer", data={"statement": ANSWER})
    assert again.status_code == 409


def test_no_answer_after_72_hours(client, auth, verdict, buyer, seller):
    appeal = _file(verdict(), buyer)
    auth.login(seller.email)
    with time_machine.travel(appeal.answer_due_at + timedelta(seconds=1)):
        assert "Send the statement" not in client.get(f"/appeals/{appeal.id}").text
        late = client.post(f"/appeals/{appeal.id}/answer", data={"statement": ANSWER})
        assert late.status_code == 409
        assert "The time to answer this appeal ended on" in late.text


# --- staff -----------------------------------------------------------------------------------


@pytest.fixture
def claim_decided_by(create_order, create_discussion, buyer, seller):
    """A rejected claim decided by ``decider``."""

    def make(decider):
        order = create_order(buyer=buyer, seller=seller)
        create_discussion(order, age_hours=25)
        claim = claims.file_claim(order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
                                  description="A different model than the listing.",
                                  payout_account=IBAN)
        claims.take(claim, decider)
        claims.decide(claim, decider, decision=Decision.REJECTED, amount=None,
                      rejection_reason=RejectionReason.LOSS_NOT_DOCUMENTED,
                      rationale=RATIONALE)
        db.session.commit()
        return claim

    return make


def test_the_queue_is_oldest_first_marks_what_is_not_yours_and_what_is_overdue(
        client, auth, verdict, claim_decided_by, buyer, staff, reviewer):
    own = _file(verdict(), buyer)  # decided by ``staff``
    with time_machine.travel(own.filed_at + timedelta(hours=1)):
        other = _file(claim_decided_by(reviewer), buyer)
    auth.login(staff.email)
    nav = client.get("/staff/escalations").text
    assert 'href="/staff/appeals"' in nav
    page = client.get("/staff/appeals").text
    rows = re.findall(r'<tr data-appeal="(\d+)" data-overdue="(\w+)" data-reviewable="(\w+)"',
                      page)
    assert rows == [(str(own.id), "no", "no"), (str(other.id), "no", "yes")]
    assert "your decision: not yours to review" in page
    assert page.count('action="/appeals/') == 1  # one take button: the other's decision
    assert f'action="/appeals/{other.id}/take"' in page
    assert "data-countdown-to" in page
    auth.logout()
    with time_machine.travel(own.review_due_at + timedelta(minutes=1)):
        auth.login(staff.email)  # staff sessions are short
        page = client.get("/staff/appeals").text
        assert f'<tr data-appeal="{own.id}" data-overdue="yes"' in page
        assert "overdue" in page


def test_the_original_decider_cannot_take_the_appeal(client, auth, verdict, buyer, staff):
    appeal = _file(verdict(), buyer)
    auth.login(staff.email)
    page = client.get(f"/appeals/{appeal.id}").text
    assert "You made the decision under appeal" in page and "Take the appeal" not in page
    response = client.post(f"/appeals/{appeal.id}/take")
    assert response.status_code == 403
    assert "You made the decision under appeal: another staff member reviews it." in response.text
    assert db.session.get(Appeal, appeal.id).reviewer_id is None


def test_decide_opens_only_when_everything_is_read_then_varies_the_amount(
        client, auth, verdict, buyer, seller, reviewer):
    discussion = verdict()
    appeal = _file(discussion, buyer)
    auth.login(reviewer.email)
    page = client.get(f"/appeals/{appeal.id}").text
    assert "Take the appeal" in page and "data-decide" not in page
    assert client.post(f"/appeals/{appeal.id}/read",
                       data={"item": "decision"}).status_code == 409  # not taken yet
    assert client.post(f"/appeals/{appeal.id}/take").status_code == 302
    page = client.get(f"/appeals/{appeal.id}").text
    assert "Renata Reviewer" in page
    assert "<fieldset data-decide-fields disabled" in page
    assert "the other party has answered" in page
    assert "data-case-summary" in page and RATIONALE in page
    decide = {"outcome": "varied", "amount": "120.00", "rationale": DECISION_RATIONALE}
    assert client.post(f"/appeals/{appeal.id}/decide", data=decide).status_code == 409

    auth.logout()
    auth.login(seller.email)
    client.post(f"/appeals/{appeal.id}/answer", data={"statement": ANSWER})
    auth.logout()
    auth.login(reviewer.email)
    page = client.get(f"/appeals/{appeal.id}").text
    assert "<fieldset data-decide-fields disabled" in page and "still unread" in page
    refused = client.post(f"/appeals/{appeal.id}/decide", data=decide)
    assert refused.status_code == 409 and "Mark every piece of evidence read" in refused.text
    db.session.expire_all()
    keys = [item.key for item in evidence(db.session.get(Appeal, appeal.id))]
    assert keys[:3] == ["decision", "statement", "answer"]
    assert client.post(f"/appeals/{appeal.id}/read",
                       data={"item": "attachment:999999"}).status_code == 404
    for key in keys:
        assert f'data-item="{key}" data-read="no"' in client.get(f"/appeals/{appeal.id}").text
        response = client.post(f"/appeals/{appeal.id}/read", data={"item": key})
        assert response.status_code == 302
    page = client.get(f"/appeals/{appeal.id}").text
    assert page.count("Read by Renata Reviewer") == len(keys)
    assert "<fieldset data-decide-fields disabled" not in page and "Mark as read" not in page
    invalid = client.post(f"/appeals/{appeal.id}/decide",
                          data={**decide, "rationale": "Too short."})
    assert invalid.status_code == 422
    # First how the amount changes and who pays; nothing changes yet (issue 20).
    confirmation = client.post(f"/appeals/{appeal.id}/decide", data=decide)
    assert confirmation.status_code == 200
    text = confirmation.text.replace("\xa0", " ")
    assert "from PLN 50.00 to PLN 120.00" in text and "owes the buyer PLN 120.00" in text
    db.session.expire_all()
    assert db.session.get(Appeal, appeal.id).state is AppealState.UNDER_REVIEW
    assert client.post(f"/appeals/{appeal.id}/decide", data={
        **decide, "confirmed": "1", "confirm_amount": "100.00"}).status_code == 409
    response = client.post(f"/appeals/{appeal.id}/decide", data={
        **decide, "confirmed": "1", "confirm_amount": "120.00"})
    assert response.status_code == 302
    db.session.expire_all()
    decided = db.session.get(Appeal, appeal.id)
    assert decided.state is AppealState.VARIED and decided.new_amount == 12_000

    auth.logout()
    auth.login(buyer.email)
    page = client.get(f"/appeals/{appeal.id}").text
    assert "Varied: the amount was changed" in page and DECISION_RATIONALE in page
    assert "Mark as read" not in page and "data-evidence" not in page
    # The discussion's own page says its verdict was changed, and to what.
    thread = client.get(f"/discussions/{appeal.discussion_id}").text
    assert f'data-changed-on-appeal="{appeal.id}"' in thread
    assert "now granted PLN 120.00 instead of PLN 50.00" in thread.replace("\xa0", " ")


def test_the_appeal_file_download_is_for_the_parties_and_staff(client, auth, verdict, buyer,
                                                               seller, create_user):
    appeal = appeals.file_appeal(verdict(), buyer, STATEMENT, [Upload("photo.png", PNG)])
    db.session.commit()
    [stored] = appeal.files
    url = f"/appeals/{appeal.id}/files/{stored.id}"
    auth.login(seller.email)
    assert client.get(url).status_code == 200
    assert client.get(f"/appeals/{appeal.id}/files/{stored.id + 1}").status_code == 404
    auth.logout()
    auth.login(create_user().email)
    assert client.get(url).status_code == 404


def test_in_a_claims_appeal_the_seller_never_gets_the_buyers_files(client, auth, decided_claim,
                                                                   buyer, seller, staff):
    claim = decided_claim(Decision.REJECTED)
    appeal = appeals.file_appeal(claim, buyer, STATEMENT, [Upload("bank-statement.png", PNG)])
    db.session.commit()
    [stored] = appeal.files
    url = f"/appeals/{appeal.id}/files/{stored.id}"
    auth.login(seller.email)
    assert "bank-statement.png" not in client.get(f"/appeals/{appeal.id}").text
    assert client.get(url).status_code == 404
    auth.logout()
    auth.login(buyer.email)
    assert "bank-statement.png" in client.get(f"/appeals/{appeal.id}").text
    assert client.get(url).status_code == 200


def test_a_new_claim_after_a_rejection_leads_to_the_appeal(client, auth, decided_claim, buyer):
    claim = decided_claim(Decision.REJECTED)
    auth.login(buyer.email)
    page = client.get(f"/orders/{claim.order_id}/claim")
    assert 'data-refusal="appeal_available"' in page.text
    assert f'href="/claims/{claim.id}/appeal"' in page.text
