"""The per-buyer cap of a policy version: at most so much per buyer over a rolling window
(the later Allegro rules: 40,000.00 zł per person per 24 months; 2017-08 has none). An
approval that would exceed it pays the remaining room, and the decision says so."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from arbiter.documents import DecisionDocument
from arbiter.errors import TransitionNotAllowed
from arbiter.extensions import db
from claims import policy, services
from claims.models import Claim, PolicyVersion
from claims.states import ClaimState, Decision
from orders.states import PaymentMethod
from tests.claims import PLAIN_VERSION
from tests.claims.helpers import PARTIAL_RATIONALE, confirm_if_needed, decide_in_browser, file

CAP = 4_000_000        # 40,000.00 zł
WINDOW = 730           # 24 months, in days of 24 h
CLAIM_CAP = 1_000_000  # 10,000.00 zł per claim


def _capped_version() -> PolicyVersion:
    version = PolicyVersion(
        code="2019-01", effective_from=datetime(2019, 1, 1, tzinfo=UTC),
        covered_payment_methods=["platform_payments", "bank_transfer"],
        shipping_covered_for=["platform_payments"], shipping_cap_minor=10_000,
        total_cap_minor=CLAIM_CAP, filing_window_days=90, **PLAIN_VERSION,
        per_buyer_cap_minor=CAP, per_buyer_window_days=WINDOW)
    db.session.add(version)
    db.session.commit()
    return version


@pytest.fixture
def capped(db_session):
    return _capped_version()


@pytest.fixture
def claim_for(ready_order, staff):
    """A claim of ``buyer`` under review whose maximum is ``price`` (bank transfer)."""

    def make(price: int = CLAIM_CAP) -> Claim:
        claim = file(ready_order(item_price=price, shipping_cost=0,
                                 payment_method=PaymentMethod.BANK_TRANSFER))
        services.take(claim, staff)
        db.session.commit()
        return claim

    return make


@pytest.fixture
def granted(claim_for, staff, senior):
    """Claims approved (and confirmed) for ``buyer``: ``amounts`` in grosze."""

    def make(*amounts: int) -> list[Claim]:
        claims = []
        for amount in amounts:
            claim = claim_for(CLAIM_CAP)
            if amount == CLAIM_CAP:
                services.decide(claim, staff, decision=Decision.APPROVED)
            else:
                services.decide(claim, staff, decision=Decision.PARTIALLY_APPROVED,
                                amount=amount, rationale=PARTIAL_RATIONALE)
            db.session.commit()
            claims.append(confirm_if_needed(claim, senior))
        return claims

    return make


# --- the rule, without a database -----------------------------------------------------------


def _rules(**cap) -> policy.PolicyRules:
    return policy.PolicyRules(version="x", effective_from=datetime(2019, 1, 1, tzinfo=UTC),
                              **cap)


@pytest.mark.parametrize(("amount", "paid", "expected"), [
    (500_000, 0, (500_000, None, CAP)),
    (1_000_000, 3_000_000, (1_000_000, None, 1_000_000)),        # exactly the room
    (1_000_000, 3_500_000, (500_000, 1_000_000, 500_000)),       # lowered to the room
    (1_000_000, CAP, (0, 1_000_000, 0)),                         # nothing left
    (1_000_000, CAP + 5, (0, 1_000_000, 0)),                     # never negative
])
def test_the_cap_leaves_at_most_the_remaining_room(amount, paid, expected):
    rules = _rules(per_buyer_cap_minor=CAP, per_buyer_window_days=WINDOW)
    result = policy.apply_buyer_cap(rules, amount, paid)
    assert (result.amount, result.lowered_from, result.room) == expected


def test_without_a_cap_the_amount_stands():
    result = policy.apply_buyer_cap(_rules(), 1_000_000, 99_000_000)
    assert (result.amount, result.lowered_from, result.room) == (1_000_000, None, None)
    assert _rules().buyer_window_start(datetime(2026, 1, 1, tzinfo=UTC)) is None


def test_the_window_is_days_of_24_hours_before_now():
    rules = _rules(per_buyer_cap_minor=CAP, per_buyer_window_days=WINDOW)
    now = datetime(2026, 3, 29, 12, tzinfo=UTC)  # across a DST change in Warsaw
    assert rules.buyer_window_start(now) == now - timedelta(days=WINDOW)


@pytest.mark.parametrize("cap", [{"per_buyer_cap_minor": CAP},
                                 {"per_buyer_window_days": WINDOW},
                                 {"per_buyer_cap_minor": 0, "per_buyer_window_days": WINDOW}])
def test_a_cap_needs_its_window_and_positive_numbers(cap):
    with pytest.raises(ValueError):
        _rules(**cap)


def test_2017_08_has_no_per_buyer_cap(db_session):
    first = db.session.scalar(select(PolicyVersion).where(PolicyVersion.code == "2017-08"))
    assert first.per_buyer_cap_minor is None and first.per_buyer_window_days is None
    assert first.to_rules().per_buyer_cap_minor is None


# --- approvals under a capped version -------------------------------------------------------


def test_an_approval_beyond_the_cap_pays_the_remaining_room_and_the_decision_says_so(
        capped, granted, claim_for, staff, senior, client, auth, buyer):
    granted(CLAIM_CAP, CLAIM_CAP, CLAIM_CAP, 500_000)  # 35,000.00 zł in the window
    claim = claim_for()
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    assert claim.approved_amount == 500_000 and claim.buyer_cap_lowered_from == CLAIM_CAP
    assert claim.state is ClaimState.AWAITING_SECOND_APPROVAL  # 5,000.00 zł > 2,000.00 zł
    confirm_if_needed(claim, senior)
    assert claim.state is ClaimState.APPROVED and claim.payout.amount == 500_000

    (document,) = db.session.scalars(select(DecisionDocument).where(
        DecisionDocument.object_type == "claims", DecisionDocument.object_id == claim.id))
    text = document.data["buyer_cap"].replace("\xa0", " ")
    assert "najwyżej 40 000,00 zł w ciągu 730 dni" in text
    assert "10 000,00 zł" in text and "5 000,00 zł" in text
    assert ["Limit na kupującego", "40\xa0000,00\xa0zł w ciągu 730 dni"] in document.data["amounts"]
    assert document.data["total"].replace("\xa0", " ") == "5 000,00 zł"

    auth.login(buyer.email)
    page = re.sub(r"\s+", " ", client.get(f"/claims/{claim.id}",
                                          headers={"Accept-Language": "en"}).text)
    assert "data-buyer-cap" in page
    assert ("this approval of PLN 10,000.00 was lowered to the PLN 5,000.00 the buyer had "
            "left") in page.replace("\xa0", " ")


def test_the_confirmation_page_states_the_cap(capped, granted, claim_for, staff, client, auth,
                                              buyer):
    granted(CLAIM_CAP, CLAIM_CAP, CLAIM_CAP, 500_000)
    claim = claim_for()
    auth.login(staff.email)
    page = client.post(f"/claims/{claim.id}/decide", data={"decision": "approved"},
                       headers={"Accept-Language": "en"})
    text = re.sub(r"\s+", " ", page.text).replace("\xa0", " ")
    assert f"This approval pays PLN 5,000.00 to {buyer.name}." in text
    assert f"{buyer.name} has PLN 5,000.00 left" in text
    assert decide_in_browser(client, claim.id, {"decision": "approved"}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Claim, claim.id).approved_amount == 500_000


def test_nothing_left_under_the_cap_is_409_and_claims_outside_the_window_do_not_count(
        capped, granted, claim_for, staff):
    old, *_ = granted(CLAIM_CAP, CLAIM_CAP, CLAIM_CAP, CLAIM_CAP)
    claim = claim_for()
    with pytest.raises(TransitionNotAllowed) as refused:
        services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.rollback()
    assert refused.value.code == "buyer_cap_reached"
    assert db.session.get(Claim, claim.id).state is ClaimState.UNDER_REVIEW
    # The oldest decision leaves the 24 months: its amount is room again.
    db.session.execute(update(Claim).where(Claim.id == old.id).values(
        decided_at=old.decided_at - timedelta(days=WINDOW, seconds=1)))
    db.session.commit()
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    assert claim.approved_amount == CLAIM_CAP and claim.buyer_cap_lowered_from is None


def test_the_second_approval_checks_the_cap_again(capped, granted, claim_for, staff, senior):
    """Two approvals awaiting their second approval both fit alone, not together: the one
    confirmed second is refused (409) and can be sent back for a new decision."""
    granted(CLAIM_CAP, CLAIM_CAP)  # 20,000.00 zł: 20,000.00 left
    first, second = claim_for(), claim_for()
    for claim in (first, second):
        services.decide(claim, staff, decision=Decision.APPROVED)
        db.session.commit()
    for claim in (first, second):
        assert claim.state is ClaimState.AWAITING_SECOND_APPROVAL
    granted(CLAIM_CAP)  # another 10,000.00 zł meanwhile
    services.confirm_approval(first, senior, confirm_amount=CLAIM_CAP)
    db.session.commit()
    with pytest.raises(TransitionNotAllowed) as refused:
        services.confirm_approval(second, senior, confirm_amount=CLAIM_CAP)
    db.session.rollback()
    assert refused.value.code == "buyer_cap_reached"
    assert db.session.get(Claim, second.id).state is ClaimState.AWAITING_SECOND_APPROVAL


def test_the_cap_counts_only_this_buyers_claims(capped, granted, staff, create_order,
                                                create_discussion, create_user, seller):
    granted(CLAIM_CAP, CLAIM_CAP, CLAIM_CAP, CLAIM_CAP)
    other = create_user(name="Olga Other")
    order = create_order(buyer=other, seller=seller, item_price=CLAIM_CAP, shipping_cost=0,
                         payment_method=PaymentMethod.BANK_TRANSFER)
    create_discussion(order, age_hours=25)
    claim = file(order)
    services.take(claim, staff)
    services.decide(claim, staff, decision=Decision.APPROVED)
    db.session.commit()
    assert claim.approved_amount == CLAIM_CAP and claim.buyer_cap_lowered_from is None
