"""A small world of buyers for the abuse signals: orders, discussions and claims made
through the services, delivered orders, and bank accounts shared between buyers."""

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import update

from accounts.roles import Role
from arbiter import clock
from arbiter.extensions import db
from arbiter.files import Upload
from claims import services as claims
from claims.models import Claim
from claims.states import ClaimType, Decision, RejectionReason
from disputes.states import Reason
from tests.files import PDF

IBAN = "PL61109010140000071219812874"
OTHER_IBAN = "PL27114020040000300201355387"


@pytest.fixture
def advisor(create_user):
    return create_user("advisor@example.test", name="Adam Advisor", roles=[Role.ADVISOR])


@pytest.fixture
def case_on(create_order, create_discussion):
    """An order of ``buyer`` with a discussion past its 24 h window."""

    def make(buyer, seller, *, reason=Reason.NOT_AS_DESCRIBED, delivered=False):
        """The order, paid 3 days ago (delivered the next day, if ``delivered``)."""
        paid_at = clock.now() - timedelta(days=3)
        order = create_order(buyer=buyer, seller=seller, paid_at=paid_at,
                             delivered_at=paid_at + timedelta(days=1) if delivered else None)
        create_discussion(order, age_hours=25, reason=reason)
        return order

    make.create_order = create_order
    return make


def file_claim(order, claim_type=ClaimType.NOT_AS_DESCRIBED, account=IBAN) -> Claim:
    extra = {}
    if claim_type is ClaimType.NOT_RECEIVED:
        extra = {"police_report_reference": "RSD-1/26",
                 "police_report": Upload("acknowledgement.pdf", PDF)}
    claim = claims.file_claim(order, order.buyer, claim_type=claim_type,
                              description="It is not what I ordered.", payout_account=account,
                              **extra)
    db.session.commit()
    return claim


def reject(claim, staff) -> None:
    claims.take(claim, staff)
    claims.decide(claim, staff, decision=Decision.REJECTED,
                  rejection_reason=RejectionReason.OTHER,
                  rationale="The photos show the item as the listing describes it.")
    db.session.commit()


def store_account_as_typed(claim, typed: str) -> None:
    """Set-up only: the account as someone typed it (older rows, imports), not as the
    service normalises it."""
    db.session.execute(update(Claim).where(Claim.id == claim.id)
                       .values(payout_account=typed))
    db.session.commit()


@dataclass
class World:
    buyer: object
    seller: object
    sharer: object      # another buyer, same IBAN in lower case with spaces and dashes
    domestic: object    # another buyer, same account as a 26-digit number without "PL"
    stranger: object    # another buyer, another account
    honest: object      # one claim on one order: no signal above its threshold
    claims: list


@pytest.fixture
def world(create_user, case_on, staff, time_machine):
    """``buyer``, in the last 12 months: 6 orders, 5 discussions (3 "not received", 2 of
    them on delivered orders), 4 claims (3 rejected, 2 "not received" on delivered
    orders); a case of 13 months ago that counts for nothing. Two other buyers name the
    buyer's IBAN, written differently; two erased accounts match nobody. ``honest`` has one
    claim on one order."""
    buyer = create_user("buyer@example.test", name="Barbara Buyer")
    seller = create_user("seller@example.test", name="Stefan Seller")
    sharer = create_user(name="Sara Sharer")
    domestic = create_user(name="Dominik Domestic")
    stranger = create_user(name="Stanisław Stranger")
    honest = create_user(name="Halina Honest")
    gone = create_user(name="Gabriela Gone")

    now = clock.now()
    time_machine.move_to(now - timedelta(days=400), tick=False)
    old = case_on(buyer, seller, reason=Reason.NOT_RECEIVED, delivered=True)
    reject(file_claim(old, ClaimType.NOT_RECEIVED), staff)
    time_machine.move_to(now, tick=False)

    o1 = case_on(buyer, seller, reason=Reason.NOT_RECEIVED, delivered=True)
    o2 = case_on(buyer, seller, reason=Reason.NOT_RECEIVED, delivered=True)
    o3 = case_on(buyer, seller, reason=Reason.NOT_AS_DESCRIBED)
    o4 = case_on(buyer, seller, reason=Reason.DAMAGED)
    case_on(buyer, seller, reason=Reason.NOT_RECEIVED)  # not delivered: no signal
    create_order = case_on.create_order
    create_order(buyer=buyer, seller=seller)  # an order without a case

    c1 = file_claim(o1, ClaimType.NOT_RECEIVED)
    reject(c1, staff)
    c2 = file_claim(o2, ClaimType.NOT_RECEIVED)
    c3 = file_claim(o3)
    reject(c3, staff)
    c4 = file_claim(o4)
    reject(c4, staff)
    world_claims = [c1, c2, c3, c4]

    s = file_claim(case_on(sharer, seller), account=IBAN)
    store_account_as_typed(s, "pl61 1090-1014 0000 0712 1981 2874")
    d = file_claim(case_on(domestic, seller), account=IBAN)
    store_account_as_typed(d, "61109010140000071219812874")
    file_claim(case_on(stranger, seller), account=OTHER_IBAN)
    # Erased accounts (claims.personal_data) are empty strings: they match nobody.
    store_account_as_typed(file_claim(case_on(honest, seller), account=IBAN), "")
    store_account_as_typed(file_claim(case_on(gone, seller), account=IBAN), "")
    return World(buyer, seller, sharer, domestic, stranger, honest, world_claims)
