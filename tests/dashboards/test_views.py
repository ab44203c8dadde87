"""The staff dashboard: every chart's numbers on a known data set, its CSV, its SVG, the
period filter and who may see it."""

import csv
import io
import re
from datetime import UTC, datetime, timedelta

import pytest

from arbiter.extensions import db
from claims import services as claims
from claims.states import Decision, RejectionReason
from disputes import services as disputes
from disputes.states import Verdict
from tests.claims.helpers import file

NOW = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)  # a Wednesday; Warsaw is UTC+1
PERIOD = "from=2026-03-09&to=2026-03-11"


def at(time_machine, when: datetime) -> None:
    time_machine.move_to(when, tick=False)


@pytest.fixture
def discussions(time_machine, buyer, seller, staff, create_discussion):
    """Five discussions in the week of Monday 9 March 2026 (times in UTC):

    - d1 opened 9 Mar 09:00, answered in an hour, solved: no platform, on time;
    - d2 opened 9 Mar 23:30 (10 Mar 00:30 in Warsaw), answered, solved;
    - d3 opened 10 Mar 08:00, answered 25 h later (late), solved;
    - d4 opened 9 Mar 06:00, never answered, escalated and decided by staff;
    - d5 opened 11 Mar 11:00, its answer not due yet.
    Ended 4, without the platform 3 (75 %); answers due 4, on time 2 (50 %).
    """
    def opened(when):
        at(time_machine, when)
        return create_discussion(buyer=buyer, seller=seller)

    def answered_and_solved(discussion, answered):
        at(time_machine, answered)
        disputes.post_message(discussion, seller, "Sorry, I will refund you.")
        at(time_machine, answered + timedelta(minutes=30))
        disputes.close_as_solved(discussion, buyer)
        db.session.commit()

    d1 = opened(datetime(2026, 3, 9, 9, 0, tzinfo=UTC))
    answered_and_solved(d1, datetime(2026, 3, 9, 10, 0, tzinfo=UTC))
    d2 = opened(datetime(2026, 3, 9, 23, 30, tzinfo=UTC))
    answered_and_solved(d2, datetime(2026, 3, 10, 1, 0, tzinfo=UTC))
    d3 = opened(datetime(2026, 3, 10, 8, 0, tzinfo=UTC))
    answered_and_solved(d3, datetime(2026, 3, 11, 9, 0, tzinfo=UTC))
    d4 = opened(datetime(2026, 3, 9, 6, 0, tzinfo=UTC))
    at(time_machine, datetime(2026, 3, 10, 7, 0, tzinfo=UTC))
    disputes.escalate(d4, buyer, "The seller does not answer at all.")
    disputes.take_case(d4, staff)
    disputes.decide(d4, staff, verdict=Verdict.BUYER_FAVOUR, amount=None,
                    rationale="The seller never answered within the deadline.")
    db.session.commit()
    opened(datetime(2026, 3, 11, 11, 0, tzinfo=UTC))
    at(time_machine, NOW)
    return [d1, d2, d3, d4]


def _csv(client, chart, query=PERIOD):
    response = client.get(f"/staff/dashboard/charts/{chart}.csv?{query}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    return list(csv.reader(io.StringIO(response.data.decode("utf-8"))))


def _section(page: str, chart: str) -> str:
    start = page.index(f'data-chart="{chart}"')
    return page[start:page.index("</section>", start)]


def test_discussion_charts_on_a_known_data_set(client, auth, staff, discussions):
    auth.login(staff.email)
    page = client.get(f"/staff/dashboard/charts?{PERIOD}").text

    opened = _section(page, "opened_per_day")
    assert "5 discussions opened" in opened
    # d2 opened at 23:30 UTC on 9 March, which is 10 March in Warsaw
    assert _csv(client, "opened_per_day") == [
        ["day", "discussions_opened"], ["2026-03-09", "2"], ["2026-03-10", "2"],
        ["2026-03-11", "1"]]

    quiet = _section(page, "no_intervention")
    assert "75.0 % (3 / 4)" in quiet
    assert "75 %" in quiet  # the programme's reference
    assert _csv(client, "no_intervention") == [
        ["week_start", "ended", "ended_without_intervention", "percent"],
        ["2026-03-09", "4", "3", "75.0"]]

    assert "50.0 % (2 / 4)" in _section(page, "on_time")
    assert _csv(client, "on_time") == [
        ["week_start", "answers_due", "answered_on_time", "percent"],
        ["2026-03-09", "4", "2", "50.0"]]


def test_the_period_filter_counts_only_its_days(client, auth, staff, discussions):
    auth.login(staff.email)
    rows = _csv(client, "opened_per_day", "from=2026-03-10&to=2026-03-10")
    assert rows == [["day", "discussions_opened"], ["2026-03-10", "2"]]
    assert _csv(client, "no_intervention", "from=2026-03-10&to=2026-03-10")[1] == [
        "2026-03-10", "2", "2", "100.0"]
    # a week with nothing: no denominator, no percentage (never a division by zero)
    assert _csv(client, "no_intervention", "from=2026-03-02&to=2026-03-08")[1:] == [
        ["2026-03-02", "0", "0", ""]]
    page = client.get("/staff/dashboard/charts?from=2026-03-02&to=2026-03-08").text
    assert "— (0 / 0)" in _section(page, "no_intervention")


def test_the_default_period_is_the_last_30_days(client, auth, staff, discussions):
    auth.login(staff.email)
    page = client.get("/staff/dashboard/charts").text
    assert 'value="2026-02-10"' in page and 'value="2026-03-11"' in page
    assert "5 discussions opened" in page
    rows = _csv(client, "opened_per_day", "")
    assert len(rows) == 1 + 30
    assert rows[1][0] == "2026-02-10" and rows[-1] == ["2026-03-11", "1"]


def test_escalations_waiting_by_age(client, auth, staff, buyer, seller, create_discussion,
                                    time_machine):
    ages = {"2 h": timedelta(hours=2), "exactly 24 h": timedelta(hours=24),
            "30 h": timedelta(hours=30), "4 d": timedelta(days=4), "8 d": timedelta(days=8),
            "20 d": timedelta(days=20)}
    for age in ages.values():
        at(time_machine, NOW - age - timedelta(hours=25))
        discussion = create_discussion(buyer=buyer, seller=seller)
        at(time_machine, NOW - age)
        disputes.escalate(discussion, buyer, "The seller does not answer at all.")
        db.session.commit()
    at(time_machine, NOW)
    auth.login(staff.email)
    assert _csv(client, "escalations_by_age") == [
        ["age", "escalations_waiting"], ["under_24_hours", "1"], ["1_to_3_days", "2"],
        ["3_to_7_days", "1"], ["over_7_days", "2"]]
    assert "6 escalations waiting" in _section(
        client.get(f"/staff/dashboard/charts?{PERIOD}").text, "escalations_by_age")


@pytest.fixture
def paid_claims(time_machine, staff, ready_order, colleague):
    """Four orders paid 28 Feb; three claims filed 2 Mar: one approved and paid on 4 Mar
    (138.45 zł), one rejected, one still submitted."""
    at(time_machine, datetime(2026, 3, 2, 10, 0, tzinfo=UTC))
    orders = [ready_order() for _ in range(4)]
    approved, rejected, _waiting = (file(order) for order in orders[:3])
    for claim in (approved, rejected):
        claims.take(claim, staff)
    claims.decide(approved, staff, decision=Decision.APPROVED)
    claims.decide(rejected, staff, decision=Decision.REJECTED,
                  rejection_reason=RejectionReason.LOSS_NOT_DOCUMENTED,
                  rationale="No invoice or photo shows the difference from the listing.")
    db.session.commit()
    at(time_machine, datetime(2026, 3, 3, 10, 0, tzinfo=UTC))
    batch = claims.export_payouts(staff)
    db.session.commit()
    at(time_machine, datetime(2026, 3, 4, 10, 0, tzinfo=UTC))
    claims.mark_batch_paid(batch.id, colleague)  # never the exporter (issue 20)
    db.session.commit()
    at(time_machine, NOW)
    return orders


def test_claim_charts_on_a_known_data_set(client, auth, staff, paid_claims):
    auth.login(staff.email)
    query = "from=2026-02-23&to=2026-03-08"  # two whole weeks
    states = dict(_csv(client, "claims_by_state", query)[1:])
    assert states == {"submitted": "1", "under_review": "0", "awaiting_documents": "0",
                      "awaiting_second_approval": "0", "approved": "0",
                      "partially_approved": "0", "rejected": "1", "withdrawn": "0", "paid": "1"}
    assert _csv(client, "paid_per_week", query) == [
        ["week_start", "payouts", "amount", "currency"],
        ["2026-02-23", "0", "0.00", "PLN"], ["2026-03-02", "1", "138.45", "PLN"]]
    assert _csv(client, "paid_per_orders", query) == [
        ["week_start", "orders", "paid_claims", "percent"],
        ["2026-02-23", "4", "0", "0.0000"], ["2026-03-02", "0", "1", ""]]
    page = client.get(f"/staff/dashboard/charts?{query}").text
    assert "3 claims submitted" in _section(page, "claims_by_state")
    assert "PLN\xa0138.45 paid" in _section(page, "paid_per_week")
    per_orders = _section(page, "paid_per_orders")
    assert "25.0000 % (1 / 4)" in per_orders
    assert "0.0036 %" in per_orders  # the programme's reference


def test_money_and_percentages_in_polish(client, auth, staff, paid_claims, discussions):
    auth.login(staff.email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "pl"
    page = client.get("/staff/dashboard/charts?from=2026-02-23&to=2026-03-11").text
    assert "138,45\xa0zł" in _section(page, "paid_per_week")
    assert "75,0 %" in _section(page, "no_intervention")
    assert "Zakończone bez interwencji platformy" in page
    svg = client.get("/staff/dashboard/charts/paid_per_week.svg"
                     "?from=2026-02-23&to=2026-03-11").text
    assert "zł" in svg


@pytest.mark.parametrize("query", ["from=2026-03-12&to=2026-03-01", "from=2025-01-01&to=2026-03-01",
                                   "from=tomorrow", "to=2026-02-30", "from=0001-01-01"])
def test_a_bad_period_is_a_form_error_not_a_crash(client, auth, staff, query):
    auth.login(staff.email)
    response = client.get(f"/staff/dashboard/charts?{query}")
    assert response.status_code == 422
    assert "data-period-error" in response.text
    assert 'aria-invalid="true"' in response.text
    assert "data-chart=" not in response.text
    for suffix in ("svg", "csv"):
        assert client.get(f"/staff/dashboard/charts/opened_per_day.{suffix}?{query}"
                          ).status_code == 422


def test_the_error_messages_say_what_is_wrong(client, auth, staff):
    auth.login(staff.email)
    reversed_ = client.get("/staff/dashboard/charts?from=2026-03-12&to=2026-03-01").text
    assert "The start must not be after the end." in reversed_
    assert 'value="2026-03-12"' in reversed_  # what was typed is kept
    too_long = client.get("/staff/dashboard/charts?from=2025-01-01&to=2026-03-01").text
    assert "Choose at most 366 days (one year)." in too_long
    garbage = client.get("/staff/dashboard/charts?from=%3Cscript%3E").text
    assert "Enter a date such as 2026-05-31." in garbage
    assert "<script>" not in garbage


@pytest.mark.parametrize("chart", ["opened_per_day", "no_intervention", "on_time",
                                   "escalations_by_age", "claims_by_state", "paid_per_week",
                                   "paid_per_orders"])
def test_every_chart_is_a_self_contained_svg(client, auth, staff, discussions, chart):
    auth.login(staff.email)
    response = client.get(f"/staff/dashboard/charts/{chart}.svg?{PERIOD}")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "object-src 'none'" in policy
    assert "script-src" not in policy  # falls back to 'none'
    svg = response.text
    assert svg.startswith("<?xml")
    assert "<svg" in svg
    assert "<script" not in svg.lower()
    assert "javascript:" not in svg.lower()
    assert not re.search(r"(?:href|src)\s*=", svg)  # nothing linked or fetched
    assert "@import" not in svg and "url(" not in svg
    # the only URLs are XML namespace names, which nothing fetches
    assert set(re.findall(r"https?://[^\s\"'<>)]+", svg)) <= {
        "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def test_the_page_references_nothing_outside_the_site(client, auth, staff, discussions):
    auth.login(staff.email)
    page = client.get(f"/staff/dashboard/charts?{PERIOD}").text
    assert not re.search(r"(?:src|href)=\"(?:https?:)?//", page)
    images = re.findall(r'<img[^>]+src="([^"]+)"', page)
    assert len(images) == 7
    assert all(src.startswith("/staff/dashboard/charts/") and src.split("?")[0].endswith(".svg")
               for src in images)
    assert "from=2026-03-09&amp;to=2026-03-11" in images[0] or \
        "from=2026-03-09&to=2026-03-11" in images[0]


def test_an_unknown_chart_is_404(client, auth, staff):
    auth.login(staff.email)
    assert client.get("/staff/dashboard/charts/passwords.csv").status_code == 404
    assert client.get("/staff/dashboard/charts/passwords.svg").status_code == 404


@pytest.mark.parametrize("path", ["/staff/dashboard/charts",
                                  "/staff/dashboard/charts/opened_per_day.svg",
                                  "/staff/dashboard/charts/paid_per_week.csv"])
def test_staff_only(client, auth, buyer, seller, path):
    anonymous = client.get(path)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"].startswith("/login?next=")
    for user in (buyer, seller):
        auth.login(user.email)
        assert client.get(path).status_code == 403
        auth.logout()


def _plotted_values(svg: str) -> list[str]:
    """The value pygal writes beside each point or bar it draws (its tooltip text)."""
    return re.findall(r'<desc class="value">([^<]*)</desc>', svg)


def _y_labels(svg: str) -> list[str]:
    axis = svg[svg.index('class="axis y'):]
    axis = axis[:axis.index('</g></g>') if '</g></g>' in axis else len(axis)]
    return re.findall(r"<text[^>]*>([^<]*)</text>", axis)


@pytest.mark.parametrize("chart", ["opened_per_day", "no_intervention", "on_time",
                                   "claims_by_state", "paid_per_week", "paid_per_orders"])
@pytest.mark.parametrize("language", ["en", "pl"])
def test_each_chart_plots_the_figures_of_its_table(client, auth, staff, paid_claims,
                                                   discussions, chart, language):
    """What the drawing shows at each point is what the table below it says, and its axis
    has no label twice (small counts drew 0, 0, 1, 1, 2)."""
    auth.login(staff.email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
    query = "from=2026-02-23&to=2026-03-11"
    section = _section(client.get(f"/staff/dashboard/charts?{query}").text, chart)
    rows = re.findall(r"<tr><th scope=\"row\">.*?</tr>", section, re.S)
    last_cells = [re.findall(r'<td class="text-end">([^<]*)</td>', row)[-1] for row in rows]
    svg = client.get(f"/staff/dashboard/charts/{chart}.svg?{query}").text
    plotted = _plotted_values(svg)
    # A week without a denominator is "—" in the table and no point on the line.
    assert plotted == [cell for cell in last_cells if cell != "—"]
    labels = _y_labels(svg)
    assert len(labels) == len(set(labels)), labels


def test_a_month_of_days_labels_at_most_eight_of_them_at_a_readable_size(
        client, auth, staff, discussions):
    auth.login(staff.email)
    svg = client.get("/staff/dashboard/charts/opened_per_day.svg"
                     "?from=2026-02-10&to=2026-03-11").text
    x_axis = svg[svg.index('class="axis x'):]
    x_axis = x_axis[:x_axis.index('class="axis y')] if 'class="axis y' in x_axis else x_axis
    majors = re.findall(r'<text[^>]*class="major"[^>]*rotate\(45[^>]*>([^<]*)</text>', x_axis)
    assert 4 <= len(majors) <= 8, majors
    # Drawn at the size the page shows it, so its font sizes are what the reader sees.
    assert 'width="600"' in svg
    sizes = [float(size) for size in re.findall(r"font-size:\s*([\d.]+)px", svg)]
    assert sizes and min(sizes) >= 13, sizes
