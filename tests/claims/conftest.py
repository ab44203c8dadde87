"""Claims fixtures: orders ready for a claim, filed claims, claims under review."""

import pytest

from accounts.roles import Role
from arbiter.extensions import db
from claims import services
from claims.states import Decision
from tests.claims.helpers import PARTIAL_RATIONALE, World, confirm_if_needed, file


@pytest.fixture
def ready_order(create_order, create_discussion, buyer, seller):
    """An order of ``buyer`` whose discussion with the seller passed its 24 h window."""

    def make(*, discussion_age_hours: float = 25, **order_overrides):
        order = create_order(buyer=buyer, seller=seller, **order_overrides)
        create_discussion(order, age_hours=discussion_age_hours)
        return order

    return make


@pytest.fixture
def filed(ready_order):
    """A submitted not-as-described claim on a 123.45 + 15.00 zł platform-paid order."""
    return file(ready_order())


@pytest.fixture
def under_review(filed, staff):
    services.take(filed, staff)
    db.session.commit()
    return filed


@pytest.fixture
def world(app, db_session):
    return World(app)


@pytest.fixture
def senior(create_user):
    """A second senior: confirms approvals above the four-eyes threshold."""
    return create_user("senior@example.test", name="Sebastian Senior", roles=[Role.SENIOR])


@pytest.fixture
def approve(ready_order, staff, senior):
    """File, take and decide a claim in the buyer's favour (an approval above the
    four-eyes threshold confirmed by ``senior``); returns the claim."""

    def make(decision=Decision.APPROVED, amount=None, **order_overrides):
        claim = file(ready_order(**order_overrides))
        services.take(claim, staff)
        services.decide(claim, staff, decision=decision, amount=amount,
                        rationale=PARTIAL_RATIONALE if amount else None)
        db.session.commit()
        confirm_if_needed(claim, senior)
        return claim

    return make
