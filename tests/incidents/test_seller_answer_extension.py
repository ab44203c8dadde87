"""A platform incident extends the seller's time to answer a claim by 24 h, once (#18 §3)."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from arbiter.extensions import db
from claims import services as claims
from incidents.models import DeadlineExtension
from incidents.states import DeadlineKind
from tests.claims.helpers import file
from tests.incidents.helpers import audit_actions, extend, fresh, resolve, shift_back

DAY = timedelta(hours=24)


@pytest.fixture(autouse=True)
def _the_seller_has_48_hours(seller_answer_hours):
    seller_answer_hours(48)


def _claim(create_order, create_discussion, buyer, seller):
    order = create_order(buyer=buyer, seller=seller)
    create_discussion(order, age_hours=25)
    return file(order)


@pytest.mark.parametrize("services_affected", [("claims",), ("whole_site",)])
def test_an_incident_extends_the_sellers_window_once(declare_incident, create_order,
                                                     create_discussion, buyer, seller, staff,
                                                     services_affected):
    claim = _claim(create_order, create_discussion, buyer, seller)
    shift_back(claim, 10, "submitted_at", "seller_answer_due_at")
    due = fresh(claim).seller_answer_due_at
    incident = declare_incident(hours_ago=8, services_affected=services_affected)
    resolve(incident, staff, hours_ago=2)
    extend(incident)
    extend(incident)  # a second run changes nothing
    assert fresh(claim).seller_answer_due_at == due + DAY
    (record,) = db.session.scalars(select(DeadlineExtension).where(
        DeadlineExtension.deadline_kind == DeadlineKind.CLAIM_SELLER_ANSWER)).all()
    assert (record.object_id, record.due_before, record.due_after) == (claim.id, due, due + DAY)
    assert audit_actions("claims", claim.id).count("claim.seller_answer_extended") == 1


def test_a_discussions_incident_or_an_answered_claim_is_left_alone(
        declare_incident, create_order, create_discussion, buyer, seller, staff):
    answered = _claim(create_order, create_discussion, buyer, seller)
    claims.answer_as_seller(answered, seller, "Shipped with tracking.")
    db.session.commit()
    shift_back(answered, 10, "submitted_at", "seller_answer_due_at", "seller_answered_at")
    before = fresh(answered).seller_answer_due_at
    for services_affected in (("discussions",), ("claims",)):
        incident = declare_incident(hours_ago=8, services_affected=services_affected)
        resolve(incident, staff, hours_ago=2)
        extend(incident)
    assert fresh(answered).seller_answer_due_at == before
    assert not db.session.scalars(select(DeadlineExtension).where(
        DeadlineExtension.deadline_kind == DeadlineKind.CLAIM_SELLER_ANSWER)).all()
