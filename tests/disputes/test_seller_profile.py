"""The public seller profile: two rates over the last 12 months, from 10 discussions on."""

from datetime import UTC, datetime, timedelta

import pytest

from arbiter.extensions import db
from disputes import policy, services

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)  # 12:00 in Warsaw (CEST)
WINDOW_START = datetime(2025, 6, 15, 10, 0, tzinfo=UTC)


def test_the_window_is_12_calendar_months_in_warsaw():
    assert policy.profile_window_start(NOW) == WINDOW_START
    # 29 February has no twin a year later or earlier: the last day of the month
    leap = datetime(2028, 2, 29, 11, 0, tzinfo=UTC)
    assert policy.profile_window_start(leap) == datetime(2027, 2, 28, 11, 0, tzinfo=UTC)
    # the same Warsaw wall-clock time across DST: 12:00 CEST then, 12:00 CET now
    winter = datetime(2026, 1, 10, 11, 0, tzinfo=UTC)
    assert policy.profile_window_start(winter) == datetime(2025, 1, 10, 11, 0, tzinfo=UTC)
    assert not policy.profile_has_enough_data(9)
    assert policy.profile_has_enough_data(10)


@pytest.fixture
def record(time_machine, buyer, seller, create_discussion):
    """Nine discussions of the seller in the last 12 months (three answered on time and
    solved, six never answered) and one opened a minute before the window."""
    def opened(when):
        time_machine.move_to(when, tick=False)
        return create_discussion(buyer=buyer, seller=seller)

    recent = [opened(NOW - timedelta(days=30 + n)) for n in range(9)]
    for discussion in recent[:3]:
        time_machine.move_to(discussion.opened_at + timedelta(hours=1), tick=False)
        services.post_message(discussion, seller, "I will send a new one today.")
        services.close_as_solved(discussion, buyer)
        db.session.commit()
    opened(WINDOW_START - timedelta(minutes=1))
    time_machine.move_to(NOW, tick=False)
    return recent


def _profile(client, seller):
    response = client.get(f"/sellers/{seller.id}")
    assert response.status_code == 200
    return response.text


def test_nine_discussions_are_not_enough_data(client, seller, buyer, record):
    page = _profile(client, seller)  # public: no login
    assert "Stefan Seller" in page
    assert "data-not-enough" in page and "Not enough data yet" in page
    assert "data-seller-rates" not in page and "data-rate" not in page
    assert " %" not in page  # no number at all, not even a partial one


def test_the_tenth_discussion_inside_the_window_shows_the_rates(
        client, time_machine, seller, buyer, record, create_discussion):
    time_machine.move_to(WINDOW_START, tick=False)  # exactly 12 months ago: inside
    create_discussion(buyer=buyer, seller=seller)
    time_machine.move_to(NOW, tick=False)
    page = _profile(client, seller)
    assert "data-not-enough" not in page
    assert 'data-rate="no_intervention">100.0 %<' in page  # 3 ended, all without us
    assert 'data-rate="on_time">30.0 %<' in page           # 3 on time of 10 due
    assert "Based on 10 discussions" in page
    # a year later the old ones have left the window
    time_machine.move_to(NOW + timedelta(days=365), tick=False)
    assert "data-not-enough" in _profile(client, seller)


def test_the_profile_shows_no_personal_data(client, auth, seller, buyer, record):
    page = _profile(client, seller)
    for secret in (seller.email, buyer.email, buyer.name, record[0].description):
        assert secret not in page
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "pl"
    assert "Za mało danych" in _profile(client, seller)


def test_unknown_users_and_buyers_have_no_profile(client, create_order, buyer, seller):
    create_order(buyer=buyer, seller=seller)
    assert client.get(f"/sellers/{seller.id}").status_code == 200
    assert client.get(f"/sellers/{buyer.id}").status_code == 404   # bought, never sold
    assert client.get(f"/sellers/{seller.id + 1000}").status_code == 404


def test_orders_and_discussions_link_to_the_profile(client, auth, buyer, seller,
                                                    create_discussion):
    discussion = create_discussion(buyer=buyer, seller=seller)
    auth.login(buyer.email)
    link = f'href="/sellers/{seller.id}"'
    assert link in client.get(f"/orders/{discussion.order_id}").text
    assert link in client.get("/purchases").text
    assert link in client.get(f"/discussions/{discussion.id}").text
