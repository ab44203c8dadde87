"""Four eyes on money: an approval above CLAIM_SECOND_APPROVAL_ABOVE (2,000.00 zł) waits for
a second, different senior; the database refuses a payout without the approvals it needs."""

import re

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from accounts.models import RoleGrant
from accounts.roles import Role
from arbiter import clock
from arbiter.audit import AuditEntry
from arbiter.documents import DecisionDocument
from arbiter.errors import ConflictOfInterest, NotFound, TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.notifications import Notification
from claims import services
from claims.models import Claim, Payout
from claims.states import ClaimState, Decision
from disputes.models import Discussion
from disputes.states import DiscussionState
from orders.models import Order
from orders.states import PaymentMethod
from settlements.models import Settlement
from tests.claims.helpers import PARTIAL_RATIONALE, decide_in_browser, file

THRESHOLD = 200_000
REASON = "The invoice shows a lower value; check the repair estimate again."


@pytest.fixture
def big_claim(ready_order, staff):
    """A claim under review (taken by ``staff``) whose maximum is ``price`` (bank transfer:
    no shipping), 5,000.00 zł by default."""

    def make(price: int = 500_000):
        claim = file(ready_order(item_price=price, shipping_cost=0,
                                 payment_method=PaymentMethod.BANK_TRANSFER))
        services.take(claim, staff)
        db.session.commit()
        return claim

    return make


def _payouts() -> int:
    return db.session.scalar(select(func.count()).select_from(Payout))


def _ledger(claim) -> list[Settlement]:
    return list(db.session.scalars(select(Settlement).where(Settlement.claim_id == claim.id)))


def _kinds(user) -> list[str]:
    return list(db.session.scalars(select(Notification.kind).where(
        Notification.user_id == user.id, Notification.object_type == "claims")
        .order_by(Notification.id)))


def _fresh(claim) -> Claim:
    db.session.expire_all()
    return db.session.get(Claim, claim.id)


def _refused(attempt, status: int, code: str | None = None):
    payouts, entries = _payouts(), db.session.scalar(select(func.count(AuditEntry.id)))
    with pytest.raises((TransitionNotAllowed, ValidationFailed, NotFound,
                        ConflictOfInterest)) as error:
        attempt()
    db.session.rollback()
    assert error.value.status == status, error.value.message
    if code:
        assert error.value.code == code
    assert _payouts() == payouts
    assert db.session.scalar(select(func.count(AuditEntry.id))) == entries
    return error.value


# --- the threshold --------------------------------------------------------------------------


def test_an_approval_of_exactly_the_threshold_is_final_at_once(big_claim, staff):
    claim = big_claim(THRESHOLD)
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    claim = _fresh(claim)
    assert claim.state is ClaimState.APPROVED and not claim.requires_second_approval
    assert claim.first_approver_id == staff.id and claim.second_approver_id is None
    assert _payouts() == 1


def test_one_grosz_above_the_threshold_waits_for_a_second_senior(big_claim, staff, buyer, app):
    claim = big_claim(THRESHOLD + 1)
    order = db.session.get(Order, claim.order_id)
    services.decide(claim, staff, decision=Decision.APPROVED, rationale="Photos are clear.")
    db.session.commit()
    claim = _fresh(claim)
    assert claim.state is ClaimState.AWAITING_SECOND_APPROVAL
    assert claim.requires_second_approval and claim.pending_decision is Decision.APPROVED
    assert claim.approved_amount == THRESHOLD + 1 and claim.first_approver_id == staff.id
    assert claim.decided_at is None and claim.decided_by_id is None
    # Nothing is final: no payout, nothing in the ledger, the discussion still open, the
    # buyer not told of an approval, no decision document.
    assert _payouts() == 0 and _ledger(claim) == []
    assert db.session.get(Order, order.id).compensation_committed == 0
    assert db.session.get(Discussion, claim.discussion_id).state is not (
        DiscussionState.SETTLED_BY_PLATFORM)
    assert "claim.approved" not in _kinds(buyer)
    assert db.session.scalar(select(func.count(DecisionDocument.id))) == 0


def test_the_threshold_is_a_setting(big_claim, staff, app):
    claim = big_claim(THRESHOLD + 1)
    app.config["CLAIM_SECOND_APPROVAL_ABOVE"] = THRESHOLD + 1
    try:
        services.decide(claim, staff, decision=Decision.APPROVED)
        db.session.commit()
    finally:
        app.config["CLAIM_SECOND_APPROVAL_ABOVE"] = THRESHOLD
    assert _fresh(claim).state is ClaimState.APPROVED


# --- confirming -----------------------------------------------------------------------------


def test_a_second_senior_confirms_and_only_then_the_money_moves(big_claim, staff, senior,
                                                                buyer, seller):
    claim = big_claim()
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    services.confirm_approval(claim, senior, confirm_amount=500_000)
    db.session.commit()
    claim = _fresh(claim)
    assert claim.state is ClaimState.APPROVED and claim.pending_decision is None
    assert claim.second_approver_id == senior.id
    assert claim.second_approved_at == claim.decided_at is not None
    assert claim.decided_by_id == staff.id  # the first approver decided; the senior confirmed
    (payout,) = db.session.scalars(select(Payout))
    assert (payout.amount, payout.first_approver_id, payout.second_approver_id,
            payout.requires_second_approval) == (500_000, staff.id, senior.id, True)
    (row,) = _ledger(claim)
    assert row.amount == 500_000
    assert db.session.get(Order, claim.order_id).compensation_committed == 500_000
    assert db.session.get(Discussion, claim.discussion_id).state is (
        DiscussionState.SETTLED_BY_PLATFORM)
    assert _kinds(buyer)[-1] == "claim.approved"
    assert _kinds(seller)[-1] == "claim.seller_approved"
    assert _kinds(staff)[-1] == "claim.second_approved"
    actions = list(db.session.scalars(select(AuditEntry.action).where(
        AuditEntry.object_type == "claims", AuditEntry.object_id == str(claim.id))
        .order_by(AuditEntry.id)))
    assert actions[-2:] == ["claim.approve_pending_second", "claim.confirm_approval"]
    (document,) = db.session.scalars(select(DecisionDocument).where(
        DecisionDocument.object_type == "claims", DecisionDocument.object_id == claim.id))
    assert document.data["advisor"] == staff.name
    assert document.data["second_approver"] == senior.name


def test_a_partial_approval_above_the_threshold_is_confirmed_as_partial(big_claim, staff,
                                                                       senior):
    claim = big_claim()
    services.decide(claim, staff, decision=Decision.PARTIALLY_APPROVED, amount=300_000,
                    rationale=PARTIAL_RATIONALE)
    db.session.commit()
    assert _fresh(claim).pending_decision is Decision.PARTIALLY_APPROVED
    services.confirm_approval(claim, senior, confirm_amount=300_000)
    db.session.commit()
    claim = _fresh(claim)
    assert claim.state is ClaimState.PARTIALLY_APPROVED and claim.approved_amount == 300_000
    assert claim.payout.amount == 300_000


def test_a_partial_approval_below_the_threshold_is_final(big_claim, staff):
    claim = big_claim()
    services.decide(claim, staff, decision=Decision.PARTIALLY_APPROVED, amount=THRESHOLD,
                    rationale=PARTIAL_RATIONALE)
    db.session.commit()
    assert _fresh(claim).state is ClaimState.PARTIALLY_APPROVED and _payouts() == 1


def test_the_first_approver_cannot_confirm_their_own_approval(big_claim, staff):
    claim = big_claim()  # staff holds every role, senior included
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    error = _refused(lambda: services.confirm_approval(claim, staff, confirm_amount=500_000),
                     403, "same_approver")
    assert "potwierdzić je albo odesłać musi inny starszy doradca" in error.message
    _refused(lambda: services.send_back(claim, staff, REASON), 403, "same_approver")
    assert _fresh(claim).state is ClaimState.AWAITING_SECOND_APPROVAL


def test_only_a_senior_who_is_not_a_party_confirms(big_claim, staff, create_user, buyer,
                                                   seller):
    claim = big_claim()
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    advisor = create_user(roles=[Role.ADVISOR])
    _refused(lambda: services.confirm_approval(claim, advisor, confirm_amount=500_000), 404)
    for party in (buyer, seller):
        db.session.add(RoleGrant(user_id=party.id, role=Role.SENIOR, granted_at=clock.now()))
        db.session.commit()
        db.session.expire(party)
        _refused(lambda party=party: services.confirm_approval(
            claim, party, confirm_amount=500_000), 403)


def test_a_confirmation_of_another_amount_changes_nothing(big_claim, staff, senior):
    claim = big_claim()
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    error = _refused(lambda: services.confirm_approval(claim, senior, confirm_amount=50_000),
                     409, "amount_not_confirmed")
    assert "Ten krok wypłaca 5 000,00 zł" in error.message.replace("\xa0", " ")
    assert _fresh(claim).state is ClaimState.AWAITING_SECOND_APPROVAL


def test_a_claim_is_confirmed_once(big_claim, staff, senior, create_user):
    claim = big_claim()
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    services.confirm_approval(claim, senior, confirm_amount=500_000)
    db.session.commit()
    other = create_user(roles=[Role.SENIOR])
    _refused(lambda: services.confirm_approval(claim, other, confirm_amount=500_000), 409,
             "transition_not_allowed")
    _refused(lambda: services.send_back(claim, other, REASON), 409, "transition_not_allowed")
    assert _payouts() == 1


def test_the_ledger_still_refuses_more_than_the_order_total_at_confirmation(
        big_claim, staff, senior, buyer, seller):
    """Nothing is reserved while the approval waits: an outcome committed meanwhile (a
    refund the seller offered and the buyer accepted) counts, and a confirmation that no
    longer fits the order total is refused (409) with nothing changed."""
    from disputes import services as disputes
    from disputes.states import OfferKind

    claim = big_claim()
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    discussion = db.session.get(Discussion, claim.discussion_id)
    offer = disputes.make_offer(discussion, seller, kind=OfferKind.PARTIAL_REFUND,
                                amount=100_000)
    db.session.commit()
    disputes.accept_offer(discussion, buyer, offer.id)
    db.session.commit()
    _refused(lambda: services.confirm_approval(claim, senior, confirm_amount=500_000), 409,
             "already_compensated")
    order = db.session.get(Order, claim.order_id)
    assert order.compensation_committed == 100_000 <= order.total
    services.send_back(claim, senior, "The seller refunded 1,000.00 zł meanwhile; decide again.")
    db.session.commit()
    assert _fresh(claim).state is ClaimState.UNDER_REVIEW


# --- sending back ---------------------------------------------------------------------------


def test_sent_back_with_a_reason_the_claim_is_under_review_again(big_claim, staff, senior,
                                                                 buyer):
    claim = big_claim()
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    _refused(lambda: services.send_back(claim, senior, "  too short "), 422)
    services.send_back(claim, senior, REASON)
    db.session.commit()
    claim = _fresh(claim)
    assert claim.state is ClaimState.UNDER_REVIEW and claim.approved_amount is None
    assert not claim.requires_second_approval and claim.first_approver_id is None
    assert (claim.sent_back_reason, claim.sent_back_by_id) == (REASON, senior.id)
    assert claim.assigned_staff_id == staff.id  # still the first approver's to decide
    assert _payouts() == 0 and _ledger(claim) == []
    (told,) = db.session.scalars(select(Notification).where(
        Notification.user_id == staff.id, Notification.kind == "claim.sent_back"))
    assert told.context["reason"] == REASON
    assert "claim.sent_back" not in _kinds(buyer)
    # Decided again, lower, and confirmed by the same senior.
    services.decide(claim, staff, decision=Decision.PARTIALLY_APPROVED, amount=250_000,
                    rationale=PARTIAL_RATIONALE)
    db.session.commit()
    services.confirm_approval(claim, senior, confirm_amount=250_000)
    db.session.commit()
    assert _fresh(claim).state is ClaimState.PARTIALLY_APPROVED and _payouts() == 1


# --- what the database refuses --------------------------------------------------------------


def _insert_payout(claim, **approvals):
    values = {"claim_id": claim.id, "buyer_id": claim.buyer_id, "seller_id": claim.seller_id,
              "amount": 500_000, "currency": "PLN", "beneficiary_name": "Raw",
              "account": claim.payout_account, "state": "pending", "created_at": clock.now(),
              "first_approver_id": claim.first_approver_id,
              "requires_second_approval": claim.requires_second_approval,
              "second_approver_id": None, **approvals}
    columns = ", ".join(values)
    db.session.execute(text(f"INSERT INTO payouts ({columns}) VALUES "
                            f"({', '.join(':' + key for key in values)})"), values)


@pytest.mark.parametrize("label", ["as the claim is", "claiming no second approval is needed",
                                   "naming a second approver the claim has not",
                                   "naming the first approver twice"])
def test_the_database_refuses_a_payout_for_a_claim_awaiting_its_second_approval(
        big_claim, staff, senior, label):
    claim = big_claim()
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    approvals = {"as the claim is": {},
                 "claiming no second approval is needed": {"requires_second_approval": False},
                 "naming a second approver the claim has not": {"second_approver_id": senior.id},
                 "naming the first approver twice": {"second_approver_id": staff.id}}[label]
    with pytest.raises(IntegrityError), db.session.begin_nested():
        _insert_payout(claim, **approvals)


def test_the_database_refuses_a_payout_for_a_claim_nobody_approved(big_claim, staff):
    claim = big_claim()
    for first_approver_id in (staff.id, None):  # someone, or nobody (not an appeal's payout)
        with pytest.raises(IntegrityError), db.session.begin_nested():
            _insert_payout(claim, first_approver_id=first_approver_id,
                           requires_second_approval=False)


def test_the_raw_payout_is_accepted_once_the_approvals_are_there(big_claim, staff, senior):
    """The control: the same insert passes for a confirmed claim (then the one-payout index
    refuses a second)."""
    claim = big_claim()
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    services.confirm_approval(claim, senior, confirm_amount=500_000)
    db.session.commit()
    db.session.execute(text("DELETE FROM payouts"))
    _insert_payout(_fresh(claim), second_approver_id=senior.id)
    assert _payouts() == 1


def test_the_database_refuses_the_first_approver_as_second(big_claim, staff):
    claim = big_claim()
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.execute(text(
            "UPDATE claims SET state = 'approved', pending_decision = NULL, decided_at = :now, "
            "decided_by_id = :staff, second_approver_id = :staff, second_approved_at = :now "
            "WHERE id = :id"), {"now": clock.now(), "staff": staff.id, "id": claim.id})


def test_the_database_refuses_approving_without_the_required_second_approval(big_claim,
                                                                             staff):
    claim = big_claim()
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    for values in ({"state": "approved", "pending_decision": None, "decided_at": clock.now(),
                    "decided_by_id": staff.id},
                   {"requires_second_approval": False}):
        with pytest.raises(IntegrityError), db.session.begin_nested():
            db.session.execute(update(Claim).where(Claim.id == claim.id).values(**values))


# --- pages ----------------------------------------------------------------------------------


def _text(response) -> str:
    return re.sub(r"\s+", " ", response.text).replace("\xa0", " ")


def test_the_approval_form_confirms_the_amount_and_the_buyer_before_changing_anything(
        client, auth, big_claim, staff, buyer):
    claim = big_claim()
    auth.login(staff.email)
    entries = db.session.scalar(select(func.count(AuditEntry.id)))
    page = client.post(f"/claims/{claim.id}/decide", data={"decision": "approved"},
                       headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert f"This approval pays PLN 5,000.00 to {buyer.name}." in _text(page)
    assert "a senior other than you must approve it too" in _text(page)
    assert _fresh(claim).state is ClaimState.UNDER_REVIEW
    assert db.session.scalar(select(func.count(AuditEntry.id))) == entries
    # A confirmation of another amount (the page was stale) is refused.
    stale = client.post(f"/claims/{claim.id}/decide", data={
        "decision": "approved", "confirmed": "1", "confirm_amount": "4000.00"})
    assert stale.status_code == 409
    assert _fresh(claim).state is ClaimState.UNDER_REVIEW
    response = decide_in_browser(client, claim.id, {"decision": "approved"},
                                 headers={"Accept-Language": "en"})
    assert response.status_code == 302
    assert _fresh(claim).state is ClaimState.AWAITING_SECOND_APPROVAL


def test_the_queue_and_the_second_approval_page(client, auth, big_claim, staff, senior, buyer,
                                                create_user):
    claim = big_claim()
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    advisor = create_user(roles=[Role.ADVISOR])
    auth.login(advisor.email)
    assert client.get("/staff/claims/second-approvals").status_code == 403
    assert client.get(f"/claims/{claim.id}/second-approval").status_code == 403
    assert client.post(f"/claims/{claim.id}/second-approval/confirm",
                       data={"confirm_amount": "5000.00"}).status_code == 403
    auth.logout()

    auth.login(staff.email)  # the first approver: listed, but not theirs to confirm
    queue = _text(client.get("/staff/claims/second-approvals",
                             headers={"Accept-Language": "en"}))
    assert "your approval: another senior confirms it" in queue
    page = _text(client.get(f"/claims/{claim.id}/second-approval",
                            headers={"Accept-Language": "en"}))
    assert "You approved this claim: another senior must confirm it" in page
    assert "second-approval/confirm" not in page
    refused = client.post(f"/claims/{claim.id}/second-approval/confirm",
                          data={"confirm_amount": "5000.00"}, headers={"Accept-Language": "en"})
    assert refused.status_code == 403
    assert "another senior must confirm it" in refused.text
    auth.logout()

    auth.login(senior.email)
    queue = _text(client.get("/staff/claims/second-approvals",
                             headers={"Accept-Language": "en"}))
    assert f"#{claim.id}" in queue and "PLN 5,000.00" in queue
    assert buyer.name in queue and staff.name in queue
    page = _text(client.get(f"/claims/{claim.id}/second-approval",
                            headers={"Accept-Language": "en"}))
    assert f"Confirming pays PLN 5,000.00 to {buyer.name}." in page
    assert "PL61 1090 1014 0000 0712 1981 2874" in page
    short = client.post(f"/claims/{claim.id}/second-approval/send-back",
                        data={"reason": "no"})
    assert short.status_code == 422
    assert client.post(f"/claims/{claim.id}/second-approval/send-back",
                       data={"reason": REASON}).status_code == 302
    auth.logout()

    # Staff see the reason and the trail; the buyer sees neither.
    auth.login(staff.email)
    page = _text(client.get(f"/claims/{claim.id}", headers={"Accept-Language": "en"}))
    assert REASON in page and "data-approval-trail" in page
    assert f"Sent back by {senior.name}" in page
    auth.logout()
    auth.login(buyer.email)
    page = _text(client.get(f"/claims/{claim.id}", headers={"Accept-Language": "en"}))
    assert REASON not in page and "data-approval-trail" not in page
    assert "sent back" not in page


def test_the_claim_page_shows_the_approval_trail(client, auth, big_claim, staff, senior):
    claim = big_claim()
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    auth.login(senior.email)
    page = _text(client.get(f"/claims/{claim.id}", headers={"Accept-Language": "en"}))
    assert "a senior other than them must confirm it before it is final" in page
    assert client.post(f"/claims/{claim.id}/second-approval/confirm",
                       data={"confirm_amount": "5000.00"}).status_code == 302
    page = _text(client.get(f"/claims/{claim.id}", headers={"Accept-Language": "en"}))
    trail = page[page.index("Approval trail"):]
    assert (f"Approved by an advisor; awaiting a second approval: {staff.name}, "
            "PLN 5,000.00") in trail
    assert f"Approved (confirmed by a second approver): {senior.name}, PLN 5,000.00" in trail


# --- the API --------------------------------------------------------------------------------


def test_four_eyes_over_the_api(api, token_for, big_claim, staff, senior, buyer,
                                create_user):
    claim = big_claim()
    first, second = token_for(staff), token_for(senior)
    advisor = token_for(create_user(roles=[Role.ADVISOR]))
    url = f"/api/v1/claims/{claim.id}"
    # The confirmed amount must be what the approval pays; without it, as before.
    wrong = api.post(f"{url}/decide", token=first,
                     json={"decision": "approved", "confirm_amount": "4000.00"})
    assert wrong.status_code == 409 and wrong.json["error"]["code"] == "amount_not_confirmed"
    decided = api.post(f"{url}/decide", token=first,
                       json={"decision": "approved", "confirm_amount": "5000.00"})
    assert decided.status_code == 200, decided.json
    assert decided.json["state"] == "awaiting_second_approval"
    assert decided.json["requires_second_approval"] is True
    assert decided.json["approved_amount"] == "5000.00"
    assert _payouts() == 0

    queue = api.get("/api/v1/staff/claims/second-approvals", token=second)
    assert queue.status_code == 200
    (item,) = queue.json["items"]
    assert (item["id"], item["approved_amount"], item["buyer_name"], item["first_approver"],
            item["pending_decision"]) == (claim.id, "5000.00", buyer.name, staff.name,
                                          "approved")
    assert api.get("/api/v1/staff/claims/second-approvals", token=advisor).status_code == 403
    assert api.post(f"{url}/second-approval", token=advisor,
                    json={"confirm_amount": "5000.00"}).status_code == 403
    own = api.post(f"{url}/second-approval", token=first, json={"confirm_amount": "5000.00"})
    assert own.status_code == 403 and own.json["error"]["code"] == "same_approver"
    missing = api.post(f"{url}/second-approval", token=second, json={})
    assert missing.status_code == 422
    other = api.post(f"{url}/second-approval", token=second, json={"confirm_amount": "50.00"})
    assert other.status_code == 409 and other.json["error"]["code"] == "amount_not_confirmed"
    assert _payouts() == 0
    confirmed = api.post(f"{url}/second-approval", token=second,
                         json={"confirm_amount": "5000.00"})
    assert confirmed.status_code == 200, confirmed.json
    assert confirmed.json["state"] == "approved" and _payouts() == 1
    again = api.post(f"{url}/send-back", token=second, json={"reason": REASON})
    assert again.status_code == 409


def test_sending_back_over_the_api(api, token_for, big_claim, staff, senior):
    claim = big_claim()
    services.decide(claim, staff, decision=Decision.PARTIALLY_APPROVED, amount=300_000,
                    rationale=PARTIAL_RATIONALE)
    db.session.commit()
    url = f"/api/v1/claims/{claim.id}/send-back"
    assert api.post(url, token=token_for(senior), json={"reason": "no"}).status_code == 422
    sent = api.post(url, token=token_for(senior), json={"reason": REASON})
    assert sent.status_code == 200, sent.json
    assert sent.json["state"] == "under_review" and sent.json["approved_amount"] is None
    assert "sent_back_reason" not in sent.json  # for staff pages, not the parties' API
