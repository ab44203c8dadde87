"""Staff never act on a discussion they are the buyer or the seller of (issue 25, item 1).

They see it as its party; as staff they may not take it, ask for information or decide it
(403, nothing changes), in the browser or over the API; the queues do not offer it to them
(other staff get it as usual); and the database refuses the rows even past the services.
"""

from types import SimpleNamespace

import pytest
from sqlalchemy import func, insert, select, update

from arbiter import audit, clock
from arbiter.errors import ConflictOfInterest
from arbiter.extensions import db
from disputes import queries, services
from disputes.models import Discussion, Entry, InformationRequest
from disputes.states import DiscussionState, Party, Verdict
from orders.models import Order
from tests.factories import refused_by_the_database

RATIONALE = "The seller never answered, so the buyer gets the full price back."
NOTE = "You are the buyer or the seller in this case, so another staff member handles it."


@pytest.fixture(params=["buyer", "seller"])
def own_case(request, create_user, create_discussion):
    """An escalated discussion whose buyer (or seller) is a staff member, the insider."""
    insider = create_user(is_staff=True, name="Ida Insider")
    other = create_user(name="Otto Other")
    buyer, seller = (insider, other) if request.param == "buyer" else (other, insider)
    discussion = create_discussion(buyer=buyer, seller=seller, age_hours=25)
    services.escalate(discussion, buyer, "The seller does not answer.")
    db.session.commit()
    return SimpleNamespace(discussion=discussion, insider=insider, buyer=buyer, seller=seller)


def _state(discussion) -> tuple:
    """Everything a staff step would change."""
    db.session.expire_all()
    row = db.session.get(Discussion, discussion.id)
    return (audit.count(), row.state, row.assigned_staff_id, row.verdict, row.decided_by_id,
            row.version, db.session.scalar(select(func.count(InformationRequest.id))),
            db.session.scalar(select(func.count(Entry.id))))


def _attempts(discussion, user):
    return {
        "take": lambda: services.take_case(discussion, user),
        "request information": lambda: services.request_information(
            discussion, user, party=Party.SELLER, question="The tracking number?"),
        "decide": lambda: services.decide(discussion, user, verdict=Verdict.BUYER_FAVOUR,
                                          amount=None, rationale=RATIONALE),
    }


@pytest.mark.parametrize("taken_by_a_colleague", [False, True])
def test_staff_do_not_take_ask_or_decide_their_own_case(own_case, staff, taken_by_a_colleague):
    discussion = own_case.discussion
    if taken_by_a_colleague:
        services.take_case(discussion, staff)
        db.session.commit()
    for name, attempt in _attempts(discussion, own_case.insider).items():
        before = _state(discussion)
        with pytest.raises(ConflictOfInterest) as refused:
            attempt()
        db.session.rollback()
        assert (refused.value.status, refused.value.code) == (403, "conflict_of_interest"), name
        assert _state(discussion) == before, name
    # the case is not stuck: an impartial colleague handles it
    services.take_case(discussion, staff)
    services.decide(discussion, staff, verdict=Verdict.BUYER_FAVOUR, amount=None,
                    rationale=RATIONALE)
    db.session.commit()
    assert db.session.get(Discussion, discussion.id).decided_by_id == staff.id


def test_in_the_browser_they_see_their_case_as_its_party_and_cannot_act_as_staff(
        client, auth, own_case):
    discussion = own_case.discussion
    auth.login(own_case.insider.email)
    page = client.get(f"/discussions/{discussion.id}")
    assert page.status_code == 200
    assert NOTE in page.text and "Take the case" not in page.text
    url = f"/discussions/{discussion.id}"
    posts = {"take": {}, "information-requests": {"party": "seller", "question": "Tracking?"},
             "decide": {"verdict": "buyer_favour", "rationale": RATIONALE}}
    for action, form in posts.items():
        before = _state(discussion)
        response = client.post(f"{url}/{action}", data=form)
        assert response.status_code == 403, action
        assert "another staff member must handle it" in response.text
        assert _state(discussion) == before, action


def test_over_the_api_the_same_refusal(api, token_for, own_case):
    discussion = own_case.discussion
    token = token_for(own_case.insider)
    url = f"/api/v1/discussions/{discussion.id}"
    posts = {"take": None, "information-requests": {"party": "buyer", "question": "Photos?"},
             "decide": {"verdict": "seller_favour", "rationale": RATIONALE}}
    assert api.get(url, token=token).status_code == 200  # their own case, as its party
    for action, body in posts.items():
        before = _state(discussion)
        response = api.post(f"{url}/{action}", token=token,
                            **({"json": body} if body else {}))
        assert response.status_code == 403, action
        assert response.json["error"]["code"] == "conflict_of_interest"
        assert _state(discussion) == before, action


def test_the_queues_offer_a_case_to_every_staff_member_but_its_parties(
        client, auth, api, token_for, own_case, staff, escalated):
    own, theirs = own_case.discussion.id, escalated.id
    for user, expected in ((own_case.insider, [theirs]), (staff, [own, theirs])):
        assert [d.id for d in queries.escalation_queue(user).items] == expected
        api_queue = api.get("/api/v1/staff/discussions", token=token_for(user)).json
        assert [d["id"] for d in api_queue["items"]] == expected
        auth.login(user.email)
        page = client.get("/staff/escalations").text
        auth.logout()
        shown = [n for n in (own, theirs) if f'href="/discussions/{n}"' in page]
        assert shown == expected, user.name


def test_the_database_refuses_a_party_as_advisor_decider_or_requester(own_case, staff):
    discussion, insider = own_case.discussion, own_case.insider
    now = clock.now()
    this = update(Discussion).where(Discussion.id == discussion.id)
    refused_by_the_database(this.values(assigned_staff_id=insider.id, taken_at=now),
                            "ck_discussions_advisor_not_a_party")
    refused_by_the_database(
        this.values(state=DiscussionState.DECIDED, verdict=Verdict.BUYER_FAVOUR,
                    refund_amount=discussion.order.total, rationale=RATIONALE, decided_at=now,
                    decided_by_id=insider.id),
        "ck_discussions_decider_not_a_party")
    request = {"discussion_id": discussion.id, "buyer_id": own_case.buyer.id,
               "seller_id": own_case.seller.id, "party": Party.SELLER, "question": "?",
               "requested_at": now, "due_at": now + (now - discussion.opened_at)}
    refused_by_the_database(insert(InformationRequest).values(requested_by_id=insider.id,
                                                              **request),
                            "ck_information_requests_requester_not_a_party")
    # the same rows with an impartial colleague are fine
    db.session.execute(this.values(assigned_staff_id=staff.id, taken_at=now))
    db.session.execute(insert(InformationRequest).values(requested_by_id=staff.id, **request))
    db.session.flush()


def test_the_parties_a_row_carries_are_its_orders(own_case, staff, create_user):
    """The CHECKs compare copies of the parties: the copies cannot be anybody else."""
    discussion, stranger = own_case.discussion, create_user()
    refused_by_the_database(
        update(Discussion).where(Discussion.id == discussion.id).values(buyer_id=stranger.id),
        "fk_discussions_order_parties")
    now = clock.now()
    refused_by_the_database(insert(InformationRequest).values(
        discussion_id=discussion.id, buyer_id=stranger.id, seller_id=own_case.seller.id,
        requested_by_id=staff.id, party=Party.SELLER, question="?", requested_at=now,
        due_at=now + (now - discussion.opened_at)),
        "fk_information_requests_discussion_parties")
    # nor can the order's own parties change under the case
    refused_by_the_database(
        update(Order).where(Order.id == discussion.order_id).values(seller_id=stranger.id),
        "fk_discussions_order_parties")
