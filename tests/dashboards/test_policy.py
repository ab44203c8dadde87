"""Dashboard rules without a database: periods in Warsaw days, buckets, age buckets."""

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import pytest

from dashboards import policy
from dashboards.policy import AgeBucket, Period, PeriodError, PeriodProblem

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def test_the_default_period_is_the_last_30_warsaw_days():
    assert policy.parse_period(None, None, NOW) == Period(date(2026, 2, 9), date(2026, 3, 10))
    # 23:30 UTC on 31 March is already 1 April in Warsaw (CEST)
    late = datetime(2026, 3, 31, 23, 30, tzinfo=UTC)
    assert policy.parse_period("", "", late).end == date(2026, 4, 1)


def test_a_start_alone_ends_today_and_an_end_alone_starts_30_days_earlier():
    assert policy.parse_period("2026-03-01", None, NOW) == Period(date(2026, 3, 1),
                                                                  date(2026, 3, 10))
    assert policy.parse_period(None, "2026-01-31", NOW) == Period(date(2026, 1, 2),
                                                                  date(2026, 1, 31))


@pytest.mark.parametrize(("start", "end", "problem", "field"), [
    ("2026-13-01", "2026-12-31", PeriodProblem.INVALID_DATE, "from"),
    ("yesterday", None, PeriodProblem.INVALID_DATE, "from"),
    ("2026-3-1", None, PeriodProblem.INVALID_DATE, "from"),
    ("20260301", None, PeriodProblem.INVALID_DATE, "from"),
    ("2026-03-01", "2026-02-30", PeriodProblem.INVALID_DATE, "to"),
    ("0001-01-01", "0001-01-02", PeriodProblem.OUT_OF_RANGE, "from"),
    ("2026-01-01", "9999-12-31", PeriodProblem.OUT_OF_RANGE, "to"),
    ("2026-03-02", "2026-03-01", PeriodProblem.REVERSED, "from"),
    ("2025-01-01", "2026-01-02", PeriodProblem.TOO_LONG, "from"),
])
def test_bad_periods_are_refused_with_the_field_named(start, end, problem, field):
    with pytest.raises(PeriodError) as caught:
        policy.parse_period(start, end, NOW)
    assert caught.value.problem is problem
    assert caught.value.field == field


def test_366_days_is_the_longest_period():
    period = policy.parse_period("2024-01-01", "2024-12-31", NOW)  # a leap year
    assert period.days == 366
    with pytest.raises(PeriodError):
        policy.parse_period("2023-12-31", "2024-12-31", NOW)


def test_a_period_runs_from_warsaw_midnight_to_warsaw_midnight():
    winter = Period(date(2026, 1, 5), date(2026, 1, 5))
    assert winter.starts_at == datetime(2026, 1, 4, 23, 0, tzinfo=UTC)
    assert winter.ends_before == datetime(2026, 1, 5, 23, 0, tzinfo=UTC)
    summer = Period(date(2026, 7, 1), date(2026, 7, 1))
    assert summer.starts_at == datetime(2026, 6, 30, 22, 0, tzinfo=UTC)


def test_day_buckets_are_23_or_25_hours_long_across_dst():
    spring = policy.day_buckets(Period(date(2026, 3, 28), date(2026, 3, 30)))
    assert [b.label for b in spring] == [date(2026, 3, 28), date(2026, 3, 29),
                                         date(2026, 3, 30)]
    assert [b.ends_before - b.starts_at for b in spring] == [
        timedelta(hours=24), timedelta(hours=23), timedelta(hours=24)]
    autumn = policy.day_buckets(Period(date(2026, 10, 25), date(2026, 10, 25)))
    assert autumn[0].ends_before - autumn[0].starts_at == timedelta(hours=25)
    # contiguous: nothing falls between two buckets
    assert all(a.ends_before == b.starts_at for a, b in pairwise(spring))


def test_week_buckets_start_on_monday_and_are_cut_to_the_period():
    # Wednesday 4 March to Tuesday 17 March 2026
    weeks = policy.week_buckets(Period(date(2026, 3, 4), date(2026, 3, 17)))
    assert [b.label for b in weeks] == [date(2026, 3, 4), date(2026, 3, 9), date(2026, 3, 16)]
    assert weeks[0].ends_before == policy.local_midnight(date(2026, 3, 9))
    assert weeks[-1].ends_before == policy.local_midnight(date(2026, 3, 18))
    one_day = policy.week_buckets(Period(date(2026, 3, 8), date(2026, 3, 8)))
    assert len(one_day) == 1


def test_every_escalation_age_falls_in_exactly_one_bucket():
    thresholds = policy.age_thresholds(NOW)

    def bucket_of(escalated_at):
        found = [key for key, after, at_or_before in thresholds
                 if (after is None or escalated_at > after)
                 and (at_or_before is None or escalated_at <= at_or_before)]
        assert len(found) == 1, escalated_at
        return found[0]

    assert bucket_of(NOW) is AgeBucket.UNDER_24_HOURS
    assert bucket_of(NOW + timedelta(minutes=1)) is AgeBucket.UNDER_24_HOURS  # clock skew
    assert bucket_of(NOW - timedelta(hours=23, minutes=59)) is AgeBucket.UNDER_24_HOURS
    assert bucket_of(NOW - timedelta(hours=24)) is AgeBucket.ONE_TO_THREE_DAYS
    assert bucket_of(NOW - timedelta(days=3)) is AgeBucket.THREE_TO_SEVEN_DAYS
    assert bucket_of(NOW - timedelta(days=7)) is AgeBucket.OVER_SEVEN_DAYS
    assert bucket_of(NOW - timedelta(days=400)) is AgeBucket.OVER_SEVEN_DAYS
