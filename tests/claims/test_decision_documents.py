"""A claim decision cites the numbers of the policy version that judged the claim.

The first versions of the document printed 2017-08's caps whatever version applied: the
next version would have put wrong caps into issued, hash-frozen legal documents.
"""

from datetime import UTC, datetime

from sqlalchemy import select

from arbiter.documents import DecisionDocument
from arbiter.extensions import db
from arbiter.money import format_money
from claims.models import PolicyVersion
from claims.policy import Clause
from tests.claims import PLAIN_VERSION


def _newer_version() -> PolicyVersion:
    version = PolicyVersion(
        code="2019-01", effective_from=datetime(2019, 1, 1, tzinfo=UTC),
        covered_payment_methods=["platform_payments", "bank_transfer"],
        shipping_covered_for=["platform_payments"], shipping_cap_minor=2_000,
        total_cap_minor=2_500_000, filing_window_days=45, **PLAIN_VERSION)
    db.session.add(version)
    db.session.flush()
    return version


def test_the_decision_cites_the_caps_of_the_version_that_judged_the_claim(approve):
    _newer_version()
    claim = approve(item_price=3_000_000, shipping_cost=5_000)  # both caps apply
    assert claim.policy_version.code == "2019-01"
    assert {Clause.SHIPPING_CAP, Clause.TOTAL_CAP} <= {Clause(c) for c in claim.clauses}

    (document,) = db.session.scalars(select(DecisionDocument).where(
        DecisionDocument.object_type == "claims", DecisionDocument.object_id == claim.id))
    data = document.data
    total_cap, shipping_cap = format_money(2_500_000, "PLN", "pl"), format_money(2_000, "PLN", "pl")
    assert total_cap in [value for _label, value in data["amounts"]]
    assert f"łącznie najwyżej {total_cap}" in data["policy"]
    assert f"dostawa najwyżej {shipping_cap}" in data["policy"]
    assert format_money(1_000_000, "PLN", "pl") not in str(data)  # 2017-08's cap nowhere


def test_the_claim_page_cites_the_same_numbers(approve, client, auth, buyer):
    _newer_version()
    claim = approve(item_price=3_000_000, shipping_cost=5_000)
    auth.login(buyer.email)
    page = client.get(f"/claims/{claim.id}").text
    assert f"total at most {format_money(2_500_000, 'PLN', 'en')}" in page
    assert f"shipping at most {format_money(2_000, 'PLN', 'en')}" in page
