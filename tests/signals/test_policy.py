"""The rules of the abuse signals, without a database: thresholds, shares, the score."""

from datetime import UTC, datetime

import pytest

from signals.policy import (
    RULE_FOR,
    RULES,
    Figures,
    Signal,
    assess,
    ranking_key,
    score_of,
    window_start,
)


def strong(**figures) -> frozenset[Signal]:
    return assess(Figures(**figures)).strong


def test_every_signal_has_one_rule():
    assert [rule.signal for rule in RULES] == list(Signal)
    assert all(rule.weight > 0 and rule.at_least > 0 for rule in RULES)


def test_nothing_is_no_signal():
    assert strong() == frozenset()
    assert assess(Figures()).score == 0


@pytest.mark.parametrize(("claims", "orders", "expected"), [
    (1, 1, False),    # one honest claim on a first order: 100 %, but one claim
    (2, 20, False),   # exactly 10 %: not more than
    (2, 19, True),    # 10.5 %
    (3, 100, False),
    (2, 0, True),     # claims, and no order in the window: more than any share
])
def test_claims_per_orders_above_10_percent_from_two_claims(claims, orders, expected):
    assert (Signal.CLAIMS_SHARE in strong(claims=claims, orders=orders)) is expected


@pytest.mark.parametrize(("discussions", "orders", "expected"), [
    (2, 2, False),    # 100 %, but two discussions
    (3, 12, False),   # exactly 25 %
    (3, 11, True),
])
def test_discussions_per_orders_above_25_percent_from_three(discussions, orders, expected):
    assert (Signal.DISCUSSIONS_SHARE in strong(discussions=discussions, orders=orders)) \
        is expected


@pytest.mark.parametrize(("signal", "figure", "threshold"), [
    (Signal.REJECTED_CLAIMS, "rejected_claims", 3),
    (Signal.NOT_RECEIVED_CLAIMS_ON_DELIVERED, "not_received_claims_on_delivered", 2),
    (Signal.NOT_RECEIVED_DISCUSSIONS_ON_DELIVERED, "not_received_discussions_on_delivered",
     2),
    (Signal.SHARED_ACCOUNT, "other_buyers", 1),
])
def test_counts_are_strong_from_their_threshold(signal, figure, threshold):
    assert signal not in strong(orders=100, **{figure: threshold - 1})
    assert signal in strong(orders=100, **{figure: threshold})


def test_the_score_is_the_sum_of_the_weights_of_the_strong_signals():
    assessment = assess(Figures(orders=100, rejected_claims=3, other_buyers=1))
    assert assessment.strong == {Signal.REJECTED_CLAIMS, Signal.SHARED_ACCOUNT}
    assert assessment.score == RULE_FOR[Signal.REJECTED_CLAIMS].weight \
        + RULE_FOR[Signal.SHARED_ACCOUNT].weight == 7
    assert score_of(Signal) == 15


def test_a_shared_account_outweighs_frequent_claims():
    assert score_of({Signal.SHARED_ACCOUNT}) > score_of({Signal.CLAIMS_SHARE})
    assert score_of({Signal.SHARED_ACCOUNT}) > score_of({Signal.DISCUSSIONS_SHARE})


def test_the_ranking_order():
    top = assess(Figures(orders=10, other_buyers=1, claims=1))
    busier = assess(Figures(orders=100, rejected_claims=3, claims=3))
    same_score_more_claims = assess(Figures(orders=100, other_buyers=1, claims=2))
    keys = sorted([(3, top), (2, busier), (1, same_score_more_claims), (0, top)],
                  key=lambda pair: ranking_key(*pair))
    # score 4 with 2 claims, score 4 with 1 claim (older account first), then score 3
    assert [user_id for user_id, _ in keys] == [1, 0, 3, 2]


def test_the_rules_say_which_are_strong():
    rules = assess(Figures(orders=1, other_buyers=2)).rules
    assert [r["signal"] for r in rules if r["strong"]] == [Signal.SHARED_ACCOUNT]
    assert len(rules) == len(RULES)


def test_the_shares_in_percent():
    figures = Figures(orders=3, claims=2, discussions=1)
    assert (str(figures.claims_percent), str(figures.discussions_percent)) == ("66.7", "33.3")
    assert Figures().claims_percent is None


def test_the_window_is_12_calendar_months_in_warsaw():
    assert window_start(datetime(2027, 3, 1, 12, 0, tzinfo=UTC)) == \
        datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    # 29 February 2028 looks back to 28 February 2027
    assert window_start(datetime(2028, 2, 29, 11, 0, tzinfo=UTC)) == \
        datetime(2027, 2, 28, 11, 0, tzinfo=UTC)
