"""The compensation maths of policy 2017-08, to the grosz. Pure: no database, no app."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from arbiter import clock
from arbiter.money import MAX_MINOR
from claims.policy import (
    Clause,
    NoPolicyInForce,
    PolicyRules,
    Reason,
    quote,
    quote_in_force,
    rules_in_force,
)
from claims.states import FILING_DOCUMENT_KINDS, ClaimType
from orders.states import PaymentMethod
from tests.claims import POLICY_2017_08

PP = PaymentMethod.PLATFORM_PAYMENTS
PAID_AT = datetime(2017, 9, 1, 12, 0, tzinfo=UTC)
CAP = 1_000_000  # 10,000.00 zł
SHIPPING_CAP = 10_000  # 100.00 zł


def _quote(rules=POLICY_2017_08, **overrides):
    facts = {
        "item_price": 995_000,
        "shipping_cost": 8_000,
        "payment_method": PP,
        "claim_type": ClaimType.NOT_RECEIVED,
        "claimed_amount": None,
        "paid_at": PAID_AT,
        "now": PAID_AT + timedelta(days=10),
    }
    facts.update(overrides)
    return quote(rules, **facts)


# --- examples -------------------------------------------------------------------------


def test_the_defaults_are_version_2017_08():
    assert PolicyRules("2017-08", POLICY_2017_08.effective_from) == POLICY_2017_08


def test_price_and_shipping_exactly_at_the_cap_are_paid_in_full_without_the_cap():
    result = _quote(item_price=992_000, shipping_cost=8_000)
    assert (result.item_amount, result.shipping_amount, result.total) == (992_000, 8_000, CAP)
    assert result.cap_applied is False
    assert result.eligible and result.reasons == ()
    assert result.policy_version == "2017-08"


def test_the_cap_lowers_9950_plus_80_to_10000():
    result = _quote(item_price=995_000, shipping_cost=8_000)
    assert (result.item_amount, result.shipping_amount, result.total) == (995_000, 8_000, CAP)
    assert result.cap_applied is True  # 10,030.00 zł lowered to 10,000.00 zł
    assert Clause.TOTAL_CAP in result.clauses


def test_the_cap_lowers_9950_plus_100_to_10000():
    result = _quote(item_price=995_000, shipping_cost=10_000)
    assert (result.item_amount, result.shipping_amount, result.total) == (995_000, 10_000, CAP)
    assert result.cap_applied is True


def test_one_grosz_over_the_cap_applies_it():
    result = _quote(item_price=992_001, shipping_cost=8_000)
    assert result.total == CAP and result.cap_applied is True


def test_shipping_is_reimbursed_up_to_100_zloty():
    result = _quote(item_price=20_000, shipping_cost=15_000)
    assert (result.item_amount, result.shipping_amount, result.total) == (20_000, 10_000, 30_000)
    assert result.cap_applied is False
    assert Clause.SHIPPING_CAP in result.clauses


def test_shipping_of_exactly_100_zloty_is_not_capped():
    result = _quote(item_price=20_000, shipping_cost=10_000)
    assert result.shipping_amount == 10_000
    assert Clause.SHIPPING_CAP not in result.clauses


def test_bank_transfer_is_covered_but_its_shipping_is_not():
    result = _quote(payment_method=PaymentMethod.BANK_TRANSFER, item_price=20_000,
                    shipping_cost=8_000)
    assert result.eligible
    assert (result.item_amount, result.shipping_amount, result.total) == (20_000, 0, 20_000)
    assert Clause.SHIPPING_NOT_COVERED in result.clauses


@pytest.mark.parametrize("method", [PaymentMethod.CASH_ON_DELIVERY, PaymentMethod.OTHER])
def test_other_payment_methods_are_not_eligible_but_the_amounts_are_shown(method):
    result = _quote(payment_method=method, item_price=20_000, shipping_cost=8_000)
    assert result.eligible is False
    assert result.reasons == (Reason.PAYMENT_METHOD_NOT_COVERED,)
    assert (result.item_amount, result.shipping_amount, result.total) == (20_000, 0, 20_000)


def test_not_as_described_pays_the_full_price():
    result = _quote(claim_type=ClaimType.NOT_AS_DESCRIBED, item_price=12_345, shipping_cost=0)
    assert (result.item_amount, result.total) == (12_345, 12_345)
    assert Clause.ITEM_FULL_PRICE in result.clauses


def test_the_claimed_amount_is_ignored_unless_the_type_is_other():
    assert _quote(claimed_amount=1, item_price=12_345).item_amount == 12_345


def test_other_pays_the_documented_loss():
    result = _quote(claim_type=ClaimType.OTHER, item_price=995_000, claimed_amount=50_000,
                    shipping_cost=8_000)
    assert result.eligible
    assert (result.item_amount, result.shipping_amount, result.total) == (50_000, 8_000, 58_000)
    assert Clause.ITEM_DOCUMENTED_LOSS in result.clauses


def test_other_may_claim_exactly_the_price():
    result = _quote(claim_type=ClaimType.OTHER, item_price=12_345, claimed_amount=12_345)
    assert result.eligible and result.item_amount == 12_345


def test_other_claiming_more_than_the_price_is_refused_and_shows_the_price():
    result = _quote(claim_type=ClaimType.OTHER, item_price=12_345, claimed_amount=12_346)
    assert result.reasons == (Reason.CLAIMED_AMOUNT_EXCEEDS_PRICE,)
    assert result.item_amount == 12_345


@pytest.mark.parametrize("claimed", [None, 0])
def test_other_needs_a_claimed_amount(claimed):
    result = _quote(claim_type=ClaimType.OTHER, claimed_amount=claimed, shipping_cost=8_000)
    assert result.reasons == (Reason.CLAIMED_AMOUNT_REQUIRED,)
    assert (result.item_amount, result.shipping_amount, result.total) == (0, 8_000, 8_000)


def test_every_reason_is_given_at_once():
    result = _quote(payment_method=PaymentMethod.CASH_ON_DELIVERY, claim_type=ClaimType.OTHER,
                    claimed_amount=None, now=PAID_AT + timedelta(days=91))
    assert result.reasons == (Reason.PAYMENT_METHOD_NOT_COVERED,
                              Reason.CLAIMED_AMOUNT_REQUIRED, Reason.FILING_WINDOW_EXPIRED)


def test_the_police_report_is_required_for_not_received_only():
    assert _quote(claim_type=ClaimType.NOT_RECEIVED).police_report_required is True
    for claim_type in (ClaimType.NOT_AS_DESCRIBED, ClaimType.OTHER):
        result = _quote(claim_type=claim_type, claimed_amount=100)
        assert result.police_report_required is False
        assert Clause.POLICE_REPORT_REQUIRED not in result.clauses


def test_clauses_cite_the_rules_in_policy_order():
    result = _quote(item_price=995_000, shipping_cost=15_000)
    assert result.clauses == (
        Clause.COVERED_PAYMENT_METHODS, Clause.ITEM_FULL_PRICE, Clause.SHIPPING_COVERED,
        Clause.SHIPPING_CAP, Clause.TOTAL_CAP, Clause.FILING_WINDOW,
        Clause.POLICE_REPORT_REQUIRED,
    )


# --- the 90-day filing window ---------------------------------------------------------


def test_filing_exactly_90_days_after_payment_is_on_time():
    deadline = PAID_AT + timedelta(days=90)
    result = _quote(now=deadline)
    assert result.eligible
    assert result.filing_deadline == deadline


def test_one_microsecond_after_90_days_the_window_has_expired():
    result = _quote(now=PAID_AT + timedelta(days=90, microseconds=1))
    assert result.reasons == (Reason.FILING_WINDOW_EXPIRED,)
    assert result.total == CAP  # the amounts are still shown


def test_incident_extensions_move_the_end_of_the_window_later():
    late = PAID_AT + timedelta(days=90, hours=1)
    assert _quote(now=late).reasons == (Reason.FILING_WINDOW_EXPIRED,)
    result = _quote(now=late, extended_by=timedelta(hours=24))
    assert result.eligible
    assert result.filing_deadline == PAID_AT + timedelta(days=91)
    assert quote_in_force([POLICY_2017_08], **{
        "item_price": 995_000, "shipping_cost": 8_000, "payment_method": PP,
        "claim_type": ClaimType.NOT_RECEIVED, "claimed_amount": None, "paid_at": PAID_AT,
        "now": late, "extended_by": timedelta(hours=24)}).eligible


def test_the_window_is_90_times_24_hours_even_across_the_end_of_summer_time():
    # Paid 14:00 CEST on 1 September; DST ends on 29 October, so the deadline is 13:00 CET.
    deadline = _quote().filing_deadline
    assert deadline - PAID_AT == timedelta(hours=90 * 24)
    assert clock.to_local(deadline).strftime("%Y-%m-%d %H:%M %Z") == "2017-11-30 13:00 CET"


# --- which version is in force --------------------------------------------------------

POLICY_2018_05 = PolicyRules("2018-05", datetime(2018, 4, 30, 22, 0, tzinfo=UTC),
                             shipping_cap_minor=0)
WARSAW = clock.WARSAW


def test_the_first_version_applies_from_midnight_warsaw_time_on_1_august_2017():
    at_midnight = datetime(2017, 8, 1, 0, 0, tzinfo=WARSAW)
    assert rules_in_force([POLICY_2017_08], at_midnight) == POLICY_2017_08
    with pytest.raises(NoPolicyInForce) as refused:
        rules_in_force([POLICY_2017_08], at_midnight - timedelta(microseconds=1))
    assert refused.value.reason == "no_policy_in_force"


def test_the_latest_version_effective_at_payment_is_in_force_whatever_the_order():
    versions = [POLICY_2018_05, POLICY_2017_08]
    assert rules_in_force(versions, datetime(2018, 4, 30, 23, 59, tzinfo=WARSAW)).version \
        == "2017-08"
    assert rules_in_force(versions, datetime(2018, 5, 1, 0, 0, tzinfo=WARSAW)).version \
        == "2018-05"
    assert rules_in_force(reversed(versions), datetime(2030, 1, 1, tzinfo=UTC)).version \
        == "2018-05"


def test_a_quote_before_any_policy_is_ineligible_with_zero_amounts():
    result = quote_in_force([POLICY_2017_08], item_price=20_000, shipping_cost=1_000,
                            payment_method=PP, claim_type=ClaimType.NOT_RECEIVED,
                            claimed_amount=None, paid_at=datetime(2017, 7, 1, tzinfo=UTC),
                            now=datetime(2017, 7, 2, tzinfo=UTC))
    assert result.eligible is False
    assert result.reasons == (Reason.NO_POLICY_IN_FORCE,)
    assert result.policy_version is None
    assert (result.item_amount, result.shipping_amount, result.total) == (0, 0, 0)


def test_quote_in_force_uses_the_version_of_the_payment_date():
    result = quote_in_force([POLICY_2017_08, POLICY_2018_05], item_price=20_000,
                            shipping_cost=1_000, payment_method=PP,
                            claim_type=ClaimType.NOT_RECEIVED, claimed_amount=None,
                            paid_at=datetime(2018, 6, 1, tzinfo=UTC),
                            now=datetime(2018, 6, 2, tzinfo=UTC))
    assert result.policy_version == "2018-05"
    assert result.shipping_amount == 0


# --- refused inputs -------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [
    {"item_price": 0}, {"item_price": -1}, {"shipping_cost": -1},
    {"claim_type": ClaimType.OTHER, "claimed_amount": -1},
    {"paid_at": datetime(2017, 7, 1, tzinfo=UTC)},  # before 2017-08 took effect
], ids=["zero_price", "negative_price", "negative_shipping", "negative_claim", "too_early"])
def test_impossible_inputs_are_programming_errors(overrides):
    with pytest.raises(ValueError):
        _quote(**overrides)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        _quote(now=datetime(2017, 9, 2, 12, 0))  # noqa: DTZ001 - the point of the test


def test_rules_from_a_row_accept_plain_codes_and_refuse_unknown_ones():
    rules = PolicyRules("x", PAID_AT, covered_payment_methods=["bank_transfer"],
                        documents_required={"other": ["supporting"]})
    assert rules.covered_payment_methods == frozenset({PaymentMethod.BANK_TRANSFER})
    with pytest.raises(ValueError, match="barter"):
        PolicyRules("x", PAID_AT, covered_payment_methods=["barter"])


# --- properties -----------------------------------------------------------------------

# Hypothesis takes naive bounds and attaches the zone itself.
FIRST_DAY = POLICY_2017_08.effective_from.replace(tzinfo=None)
LAST_DAY = datetime(2040, 1, 1)  # noqa: DTZ001


@st.composite
def purchases(draw):
    """The facts of any purchase paid under 2017-08, and a moment to quote it."""
    paid_at = draw(st.datetimes(min_value=FIRST_DAY, max_value=LAST_DAY,
                                timezones=st.just(UTC)))
    return {
        "item_price": draw(st.integers(min_value=1, max_value=MAX_MINOR)),
        "shipping_cost": draw(st.integers(min_value=0, max_value=MAX_MINOR)),
        "payment_method": draw(st.sampled_from(PaymentMethod)),
        "claim_type": draw(st.sampled_from(ClaimType)),
        "claimed_amount": draw(st.none() | st.integers(min_value=0, max_value=MAX_MINOR)),
        "paid_at": paid_at,
        "now": paid_at + draw(st.timedeltas(min_value=timedelta(0),
                                            max_value=timedelta(days=200))),
    }


@given(purchases())
def test_total_never_exceeds_10000_zloty(facts):
    assert quote(POLICY_2017_08, **facts).total <= CAP


@given(purchases())
def test_shipping_never_exceeds_100_zloty_and_is_zero_unless_platform_payments(facts):
    result = quote(POLICY_2017_08, **facts)
    assert 0 <= result.shipping_amount <= SHIPPING_CAP
    if facts["payment_method"] is PP:
        assert result.shipping_amount == min(facts["shipping_cost"], SHIPPING_CAP)
    else:
        assert result.shipping_amount == 0


@given(purchases())
def test_total_never_exceeds_price_plus_shipping(facts):
    result = quote(POLICY_2017_08, **facts)
    assert 0 <= result.total <= facts["item_price"] + facts["shipping_cost"]
    assert 0 <= result.item_amount <= facts["item_price"]


@given(purchases())
def test_total_is_the_capped_sum_and_cap_applied_says_whether_the_cap_lowered_it(facts):
    result = quote(POLICY_2017_08, **facts)
    uncapped = result.item_amount + result.shipping_amount
    assert result.total == min(uncapped, CAP)
    assert result.cap_applied == (uncapped > CAP)
    assert (Clause.TOTAL_CAP in result.clauses) == result.cap_applied


@given(purchases())
def test_eligible_exactly_when_no_rule_refuses(facts):
    result = quote(POLICY_2017_08, **facts)
    assert result.eligible == (result.reasons == ())
    covered = facts["payment_method"] in {PP, PaymentMethod.BANK_TRANSFER}
    assert (Reason.PAYMENT_METHOD_NOT_COVERED in result.reasons) == (not covered)
    late = facts["now"] > facts["paid_at"] + timedelta(days=90)
    assert (Reason.FILING_WINDOW_EXPIRED in result.reasons) == late
    if facts["claim_type"] is not ClaimType.OTHER:
        assert result.item_amount == facts["item_price"]


@st.composite
def any_rules(draw):
    total_cap = draw(st.integers(min_value=1, max_value=MAX_MINOR))
    return PolicyRules(
        version="any",
        effective_from=POLICY_2017_08.effective_from,
        covered_payment_methods=draw(st.frozensets(st.sampled_from(PaymentMethod))),
        shipping_covered_for=draw(st.frozensets(st.sampled_from(PaymentMethod))),
        shipping_cap_minor=draw(st.integers(min_value=0, max_value=total_cap)),
        total_cap_minor=total_cap,
        filing_window_days=draw(st.integers(min_value=1, max_value=3_650)),
        documents_required={claim_type: draw(st.frozensets(st.sampled_from(FILING_DOCUMENT_KINDS)))
                            for claim_type in ClaimType},
    )


@given(any_rules(), purchases())
def test_no_version_ever_pays_above_its_own_caps(rules, facts):
    result = quote(rules, **facts)
    assert result.total <= rules.total_cap_minor
    assert result.shipping_amount <= rules.shipping_cap_minor
    assert result.total <= facts["item_price"] + facts["shipping_cost"]
