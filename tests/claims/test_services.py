"""Policy versions live in the database, seeded by the migrations."""

import dataclasses
from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from arbiter.extensions import db
from claims import services
from claims.models import PolicyVersion
from claims.states import ClaimType
from orders.states import PaymentMethod
from tests.claims import PLAIN_VERSION, POLICY_2017_08


def _add_version(**overrides):
    values = {
        "code": "2018-05",
        "effective_from": datetime(2018, 4, 30, 22, 0, tzinfo=UTC),
        "covered_payment_methods": ["platform_payments"],
        "shipping_covered_for": [],
        "shipping_cap_minor": 0,
        "total_cap_minor": 500_000,
        "filing_window_days": 30,
        **PLAIN_VERSION,
    }
    values.update(overrides)
    version = PolicyVersion(**values)
    db.session.add(version)
    db.session.flush()
    return version


def test_the_migration_seeds_version_2017_08_as_designed(db_session):
    # The tests' databases give sellers no time to answer (tests/conftest.py); the
    # migrations' own 48 h: tests/claims/test_policy_windows.py.
    assert services.policy_versions() == [dataclasses.replace(POLICY_2017_08,
                                                              seller_answer_hours=0)]


def test_versions_are_listed_newest_first(db_session):
    _add_version()
    assert [rules.version for rules in services.policy_versions()] == ["2018-05", "2017-08"]


def test_a_quote_uses_the_version_in_force_when_the_order_was_paid(db_session):
    _add_version()
    facts = {"item_price": 600_000, "shipping_cost": 5_000,
             "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
             "claim_type": ClaimType.NOT_RECEIVED}
    old = services.quote_for(**facts, paid_at=datetime(2018, 4, 1, tzinfo=UTC),
                             now=datetime(2018, 5, 15, tzinfo=UTC))
    new = services.quote_for(**facts, paid_at=datetime(2018, 5, 1, tzinfo=UTC),
                             now=datetime(2018, 5, 15, tzinfo=UTC))
    assert (old.policy_version, old.total, old.cap_applied) == ("2017-08", 605_000, False)
    assert (new.policy_version, new.total, new.cap_applied) == ("2018-05", 500_000, True)


@pytest.mark.parametrize("overrides", [
    {"code": ""},
    {"code": "2017-08"},
    {"effective_from": POLICY_2017_08.effective_from},
    {"shipping_cap_minor": -1},
    {"total_cap_minor": 0},
    {"shipping_cap_minor": 600_000},  # above the total cap
    {"filing_window_days": 0},
], ids=["empty_code", "duplicate_code", "same_effective_date", "negative_shipping_cap",
        "zero_total_cap", "shipping_cap_above_total_cap", "no_filing_window"])
def test_the_database_refuses_nonsensical_versions(db_session, overrides):
    with pytest.raises(IntegrityError), db.session.begin_nested():
        _add_version(**overrides)
