"""Handing a case to another staff member with a note (issue 20): escalated discussions,
claims and appeals share the rules (arbiter.handover); each package has its service."""

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from accounts import staff as staff_admin
from accounts.roles import Role
from appeals import services as appeals
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from arbiter.notifications import Notification, OutboxEmail, text_for_kind
from claims import services as claims
from claims.models import Claim
from disputes import services as disputes
from disputes.models import Discussion
from disputes.states import Verdict
from tests.claims.helpers import file

NOTE = "I am away from Monday; the seller promised tracking by Friday."


@pytest.fixture
def people(create_user):
    make = create_user
    return {
        "advisor": make("adam@example.test", name="Adam Advisor", roles=[Role.ADVISOR]),
        "other": make("olga@example.test", name="Olga Other", roles=[Role.ADVISOR]),
        "third": make("tomasz@example.test", name="Tomasz Third", roles=[Role.ADVISOR]),
        "senior": make("sara@example.test", name="Sara Senior", roles=[Role.SENIOR]),
        "senior2": make("stefan@example.test", name="Stefan Senior", roles=[Role.SENIOR]),
        "finance": make("fiona@example.test", name="Fiona Finance", roles=[Role.FINANCE]),
        "admin": make("ada@example.test", name="Ada Admin", roles=[Role.ADMIN]),
    }


@pytest.fixture
def taken(escalated, people):
    disputes.take_case(escalated, people["advisor"])
    db.session.commit()
    return escalated


def _post(client, path, to, note=NOTE):
    return client.post(path, data={"to": str(to), "note": note})


def _fresh(model, row_id):
    db.session.expire_all()  # the requests ran in sessions of their own
    return db.session.get(model, row_id)


def _entries(action):
    return list(db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def _told(user, kind):
    return db.session.scalars(select(Notification).where(
        Notification.user_id == user.id, Notification.kind == kind)).all()


# --- discussions -----------------------------------------------------------------------


def test_the_handler_hands_a_discussion_over(client, auth, taken, people, buyer):
    advisor, other = people["advisor"], people["other"]
    auth.login(advisor.email)
    page = client.get(f"/discussions/{taken.id}").get_data(as_text=True)
    assert "data-handover" in page and "Olga Other" in page
    answer = _post(client, f"/discussions/{taken.id}/hand-over", other.id)
    assert answer.status_code == 302
    assert _fresh(Discussion, taken.id).assigned_staff_id == other.id
    [entry] = _entries("discussion.handed_over")
    assert (entry.actor_id, entry.before, entry.after, entry.note) == (
        advisor.id, {"handler_id": advisor.id}, {"handler_id": other.id}, NOTE)
    [told] = _told(other, "discussion.handed_over")
    assert told.context["note"] == NOTE
    assert db.session.scalar(select(OutboxEmail).where(
        OutboxEmail.recipient_id == other.id, OutboxEmail.template == "discussion_handed_over"))
    # the old handler can no longer act, the new one can
    with pytest.raises(disputes.CaseTaken), db.session.begin_nested():
        disputes.request_information(taken, advisor, party=disputes.Party.SELLER,
                                     question="Tracking?")
    # staff see the note on the thread; the parties see only that an advisor took over
    auth.logout()
    auth.login(other.email)
    assert NOTE in client.get(f"/discussions/{taken.id}").get_data(as_text=True)
    auth.logout()
    auth.login(buyer.email)
    thread = client.get(f"/discussions/{taken.id}").get_data(as_text=True)
    assert NOTE not in thread and "Another advisor took over the case." in thread


def test_only_the_handler_or_a_senior_hands_over(client, auth, taken, people):
    auth.login(people["third"].email)
    answer = _post(client, f"/discussions/{taken.id}/hand-over", people["other"].id)
    assert answer.status_code == 409
    assert _fresh(Discussion, taken.id).assigned_staff_id == people["advisor"].id
    auth.logout()
    auth.login(people["senior"].email)
    assert _post(client, f"/discussions/{taken.id}/hand-over",
                 people["other"].id).status_code == 302
    assert _fresh(Discussion, taken.id).assigned_staff_id == people["other"].id
    # the advisor who lost the case is told in the app
    assert _told(people["advisor"], "discussion.taken_from_you")


def test_a_case_nobody_handles_is_taken_not_handed_over(api, token_for, escalated, people):
    answer = api.post(f"/api/v1/discussions/{escalated.id}/hand-over",
                      token=token_for(people["senior"]),
                      json={"to": people["other"].id, "note": NOTE})
    assert answer.status_code == 409
    assert answer.get_json()["error"]["code"] == "not_taken"


def test_the_recipient_must_be_able_to_handle_it(api, token_for, create_user, create_discussion,
                                                 buyer, people):
    # an advisor who sold the item in this case
    party = create_user("party@example.test", name="Paula Party", roles=[Role.ADVISOR])
    discussion = create_discussion(buyer=buyer, seller=party, age_hours=25)
    disputes.escalate(discussion, buyer, "The seller does not answer at all.")
    disputes.take_case(discussion, people["advisor"])
    gone = create_user("gone@example.test", roles=[Role.ADVISOR])
    staff_admin.deactivate(people["admin"], gone.id)
    db.session.commit()
    token = token_for(people["advisor"])
    path = f"/api/v1/discussions/{discussion.id}/hand-over"
    for to, note in ((party.id, NOTE), (people["finance"].id, NOTE),
                     (gone.id, NOTE), (people["advisor"].id, NOTE), (buyer.id, NOTE),
                     (999_999, NOTE), (people["other"].id, "   ")):
        answer = api.post(path, token=token, json={"to": to, "note": note})
        assert answer.status_code == 422, (to, note, answer.get_json())
    assert api.post(path, token=token, json={"to": "x", "note": NOTE}).status_code == 422
    assert _fresh(Discussion, discussion.id).assigned_staff_id == people["advisor"].id
    assert _entries("discussion.handed_over") == []
    answer = api.post(path, token=token, json={"to": people["senior"].id, "note": NOTE})
    assert answer.status_code == 200  # a senior holds the advisor role too


def test_the_recipients_offered_are_the_ones_allowed(client, auth, create_user,
                                                    create_discussion, buyer, people):
    party = create_user("party@example.test", name="Paula Party", roles=[Role.ADVISOR])
    discussion = create_discussion(buyer=buyer, seller=party, age_hours=25)
    disputes.escalate(discussion, buyer, "The seller does not answer at all.")
    disputes.take_case(discussion, people["advisor"])
    db.session.commit()
    auth.login(people["advisor"].email)
    page = client.get(f"/discussions/{discussion.id}").get_data(as_text=True)
    form = page[page.index("data-handover"):]
    assert "Olga Other" in form and "Sara Senior" in form
    assert "Paula Party" not in form and "Fiona Finance" not in form
    assert "Ada Admin" not in form


# --- claims ----------------------------------------------------------------------------


@pytest.fixture
def claim_taken(create_order, create_discussion, buyer, seller, people):
    order = create_order(buyer=buyer, seller=seller)
    create_discussion(order, age_hours=25)
    claim = file(order)
    claims.take(claim, people["advisor"])
    db.session.commit()
    return claim


def test_a_claim_is_handed_over_over_the_api(api, token_for, claim_taken, people):
    answer = api.post(f"/api/v1/claims/{claim_taken.id}/hand-over",
                      token=token_for(people["advisor"]),
                      json={"to": people["other"].id, "note": NOTE})
    assert answer.status_code == 200
    assert _fresh(Claim, claim_taken.id).assigned_staff_id == people["other"].id
    [entry] = _entries("claim.handed_over")
    assert entry.note == NOTE and entry.after == {"handler_id": people["other"].id}
    assert _told(people["other"], "claim.handed_over")


def test_the_claim_page_shows_the_note_to_staff_only(client, auth, claim_taken, people,
                                                    seller):
    auth.login(people["advisor"].email)
    assert _post(client, f"/claims/{claim_taken.id}/hand-over",
                 people["other"].id).status_code == 302
    auth.logout()
    auth.login(people["third"].email)
    assert NOTE in client.get(f"/claims/{claim_taken.id}").get_data(as_text=True)
    auth.logout()
    auth.login(seller.email)
    assert NOTE not in client.get(f"/claims/{claim_taken.id}").get_data(as_text=True)


def test_a_decided_claim_is_not_handed_over(api, token_for, claim_taken, people):
    from claims.states import Decision, RejectionReason

    claims.decide(claim_taken, people["advisor"], decision=Decision.REJECTED,
                  rejection_reason=RejectionReason.LOSS_NOT_DOCUMENTED,
                  rationale="Nothing shows the item differs from the listing at all.")
    db.session.commit()
    answer = api.post(f"/api/v1/claims/{claim_taken.id}/hand-over",
                      token=token_for(people["advisor"]),
                      json={"to": people["other"].id, "note": NOTE})
    assert answer.status_code == 409


# --- appeals ---------------------------------------------------------------------------


@pytest.fixture
def appeal_taken(taken, people, buyer):
    disputes.decide(taken, people["advisor"], verdict=Verdict.SELLER_FAVOUR, amount=None,
                    rationale="The seller did not show that the parcel was sent at all.")
    appeal = appeals.file_appeal(taken, buyer, "The advisor did not read the courier's "
                                               "statement I attached on the second day.")
    appeals.take(appeal, people["senior"])
    db.session.commit()
    return appeal


def test_an_appeal_goes_to_another_senior_never_to_the_decider(api, token_for, appeal_taken,
                                                              people):
    token = token_for(people["senior"])
    path = f"/api/v1/appeals/{appeal_taken.id}/hand-over"
    decider = api.post(path, token=token, json={"to": people["advisor"].id, "note": NOTE})
    assert decider.status_code == 422
    # the decider is an advisor only; make them senior: still refused (their decision)
    staff_admin.set_roles(people["admin"], people["advisor"].id, ["senior"])
    db.session.commit()
    decider = api.post(path, token=token, json={"to": people["advisor"].id, "note": NOTE})
    assert decider.status_code == 422
    assert "made the decision" in decider.get_json()["error"]["message"]
    advisor_only = api.post(path, token=token, json={"to": people["other"].id, "note": NOTE})
    assert advisor_only.status_code == 422
    answer = api.post(path, token=token, json={"to": people["senior2"].id, "note": NOTE})
    assert answer.status_code == 200
    assert answer.get_json()["id"] == appeal_taken.id
    assert _told(people["senior2"], "appeal.handed_over")
    [entry] = _entries("appeal.handed_over")
    assert entry.before == {"handler_id": people["senior"].id}


def test_an_advisor_cannot_hand_over_an_appeal(api, token_for, appeal_taken, people):
    answer = api.post(f"/api/v1/appeals/{appeal_taken.id}/hand-over",
                      token=token_for(people["other"]),
                      json={"to": people["senior2"].id, "note": NOTE})
    assert answer.status_code == 403


def test_the_appeal_page_form_hands_it_over(client, auth, appeal_taken, people):
    auth.login(people["senior"].email)
    page = client.get(f"/appeals/{appeal_taken.id}").get_data(as_text=True)
    form = page[page.index("data-handover"):]
    assert "Stefan Senior" in form and "Adam Advisor" not in form
    answer = _post(client, f"/appeals/{appeal_taken.id}/hand-over", people["senior2"].id)
    assert answer.status_code == 302
    assert NOTE in client.get(f"/appeals/{appeal_taken.id}").get_data(as_text=True)


def test_the_notification_speaks_polish(app):
    with app.test_request_context(), force_locale("pl"):
        text = text_for_kind("claim.handed_over",
                             {"object_id": 7, "from_name": "Adam", "note": NOTE})
    assert "Adam" in text and "#7" in text and NOTE in text and "handed" not in text
