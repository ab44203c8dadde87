"""Pure rules: no database, the clock passed in."""

from datetime import UTC, datetime, timedelta

import pytest

from disputes import policy


@pytest.mark.parametrize("opened", [
    datetime(2026, 3, 28, 13, 30, tzinfo=UTC),   # the night of 29 March loses an hour
    datetime(2026, 10, 24, 13, 30, tzinfo=UTC),  # the night of 25 October gains one
])
def test_deadlines_are_86400_seconds_after_opening_across_dst(opened):
    deadlines = policy.deadlines_for(opened)
    assert (deadlines.respond_by - opened).total_seconds() == 86_400
    assert (deadlines.escalation_available_at - opened).total_seconds() == 86_400


def test_escalation_opens_at_the_instant_itself():
    at = datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert not policy.escalation_open(at, at - timedelta(microseconds=1))
    assert policy.escalation_open(at, at)
    assert policy.escalation_open(at, at + timedelta(hours=1))


def test_answer_on_time_means_at_or_before_the_deadline():
    due = datetime(2026, 5, 1, 12, tzinfo=UTC)
    assert policy.answered_on_time(due, due)
    assert not policy.answered_on_time(due, due + timedelta(seconds=1))


@pytest.mark.parametrize(("kind", "amount", "problem"), [
    ("partial_refund", None, "amount_required"),
    ("partial_refund", 0, "amount_not_positive"),
    ("partial_refund", 13_846, "amount_above_order_total"),
    ("partial_refund", 13_845, None),
    ("partial_refund", 1, None),
    ("replacement", None, None),
    ("repair", 500, "amount_not_expected"),
])
def test_offer_amounts(kind, amount, problem):
    assert policy.offer_amount_problem(kind, amount, order_total=13_845) == problem


def test_verdict_amounts():
    assert policy.verdict_amount("buyer_favour", None, 10_000) == 10_000
    assert policy.verdict_amount("buyer_favour", 4_000, 10_000) == 4_000
    assert policy.verdict_amount("seller_favour", None, 10_000) == 0
    assert policy.verdict_amount("partial", 1, 10_000) == 1
    assert policy.verdict_amount("partial", 10_000, 10_000) == 10_000
    for verdict, amount in [("partial", 0), ("partial", 10_001), ("partial", None),
                            ("buyer_favour", 10_001), ("seller_favour", 5)]:
        with pytest.raises(ValueError):
            policy.verdict_amount(verdict, amount, 10_000)


def test_information_requests_are_due_in_72_hours():
    at = datetime(2026, 10, 24, 20, tzinfo=UTC)
    assert (policy.information_due(at) - at).total_seconds() == 72 * 3600
