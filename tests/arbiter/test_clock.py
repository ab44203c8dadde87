from datetime import UTC, datetime

import pytest

from arbiter import clock


def test_now_is_aware_utc():
    assert clock.now().utcoffset().total_seconds() == 0


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError, match="naive"):
        clock.ensure_aware(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test


@pytest.mark.parametrize(
    "opened",
    [datetime(2026, 3, 28, 12, 0, tzinfo=UTC), datetime(2026, 10, 24, 12, 0, tzinfo=UTC)],
    ids=["spring-forward", "fall-back"],
)
def test_24_hours_is_86400_seconds_across_dst(opened):
    deadline = clock.add_hours(opened, 24)
    assert (deadline - opened).total_seconds() == 86_400
    local_open, local_deadline = clock.to_local(opened), clock.to_local(deadline)
    # On the wall clock in Warsaw the same deadline is 23 h or 25 h later.
    wall_hours = (local_deadline.replace(tzinfo=None) - local_open.replace(tzinfo=None))
    assert wall_hours.total_seconds() in (23 * 3600, 25 * 3600)


def test_time_machine_moves_the_clock(time_machine):
    time_machine.move_to(datetime(2026, 5, 1, 10, 0, tzinfo=UTC), tick=False)
    assert clock.now() == datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
