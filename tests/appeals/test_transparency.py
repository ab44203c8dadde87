"""The public figures of appeals on /transparency and the seller profile, on SQLite and
PostgreSQL, from a known mix: 4 decisions, 2 appeals (one upheld after 2 days, one varied
after 4 days) -> 50 appeals per 100 decisions, 50 % / 50 % / 0 %, median 3 days."""

import re
from datetime import timedelta

from appeals.figures import appeal_figures
from appeals.states import Outcome
from arbiter import clock
from claims.states import Decision
from tests.appeals.helpers import decide_verdict, decided_appeal


def _figure(page, name: str) -> str:
    return re.search(rf'data-figure="{name}">([^<]*)<', page.text).group(1)


def _figures(page) -> dict:
    return {name: _figure(page, name)
            for name in ("appeals_per_100", "upheld", "varied", "overturned", "median_days")}


def _the_mix(create_discussion, decided_claim, buyer, seller, staff, reviewer):
    """Three verdicts and a claim decision on the seller's orders; two of them appealed."""
    first = decide_verdict(create_discussion, buyer, seller, staff)
    second = decide_verdict(create_discussion, buyer, seller, staff)
    decide_verdict(create_discussion, buyer, seller, staff)
    decided_claim(Decision.REJECTED)
    decided_appeal(first, buyer, reviewer, Outcome.UPHELD, after=timedelta(days=2),
                   respondent=seller)
    decided_appeal(second, seller, reviewer, Outcome.VARIED, 2_000, after=timedelta(days=4))


def test_the_transparency_page_is_public_and_shows_the_appeal_figures(
        client, create_discussion, decided_claim, buyer, seller, staff, reviewer):
    empty = client.get("/transparency", headers={"Accept-Language": "en"})
    assert empty.status_code == 200
    assert set(_figures(empty).values()) == {"—"}
    assert 'href="/transparency"' in empty.text  # linked from the footer

    _the_mix(create_discussion, decided_claim, buyer, seller, staff, reviewer)
    page = client.get("/transparency", headers={"Accept-Language": "en"})
    assert _figures(page) == {"appeals_per_100": "50.0", "upheld": "50.0 %",
                              "varied": "50.0 %", "overturned": "0.0 %",
                              "median_days": "3.0"}
    assert "2 appeals of 4 verdicts and claim decisions." in page.text
    # The platform-wide rates the seller profiles show per seller.
    assert 'data-rate="no_intervention"' in page.text and 'data-rate="on_time"' in page.text
    polish = client.get("/transparency", headers={"Accept-Language": "pl"})
    assert _figure(polish, "median_days") == "3,0"
    assert _figure(polish, "upheld").startswith("50,0")


def test_one_statement_on_both_engines_and_a_period(db_session, create_discussion,
                                                    decided_claim, buyer, seller, staff,
                                                    reviewer):
    _the_mix(create_discussion, decided_claim, buyer, seller, staff, reviewer)
    figures = appeal_figures()
    assert (figures.decisions, figures.appeals, figures.decided) == (4, 2, 2)
    assert figures.median_time_to_decide == timedelta(days=3)
    assert appeal_figures(since=clock.now() + timedelta(days=1)).decisions == 0


def test_the_seller_profile_shows_the_figures_of_that_sellers_orders(
        client, create_discussion, create_user, decided_claim, buyer, seller, staff,
        reviewer):
    _the_mix(create_discussion, decided_claim, buyer, seller, staff, reviewer)
    for _ in range(6):  # 10 discussions: enough for the profile to show its rates
        create_discussion(buyer=buyer, seller=seller)
    other_seller = create_user()
    decide_verdict(create_discussion, buyer, other_seller, staff)  # not appealed
    profile = client.get(f"/sellers/{seller.id}", headers={"Accept-Language": "en"})
    assert profile.status_code == 200
    assert _figures(profile) == {"appeals_per_100": "50.0", "upheld": "50.0 %",
                                 "varied": "50.0 %", "overturned": "0.0 %",
                                 "median_days": "3.0"}
    platform = client.get("/transparency", headers={"Accept-Language": "en"})
    assert _figure(platform, "appeals_per_100") == "40.0"  # 2 appeals of 5 decisions
    # A seller without a decision shows no appeal figures at all.
    assert "data-appeal-figures" not in client.get(f"/sellers/{other_seller.id}").text
