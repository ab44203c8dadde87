"""'Report a problem with the platform': the form, the evidence rules, the staff list,
linking to an incident, and the acknowledgement."""

import io
import os
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from arbiter import clock
from arbiter.extensions import db
from arbiter.notifications import Notification, OutboxEmail
from incidents.models import ProblemReport
from tests.files import PNG
from tests.incidents.helpers import audit_actions, fresh, resolve


def _stored_files(app) -> int:
    return sum(len(files) for _, _, files in os.walk(app.config["STORAGE_DIR"]))


def _report(client, *, screenshot=None, **overrides):
    data = {"what_happened": "The Send button did nothing.",
            "happened_at": clock.to_local(clock.now() - timedelta(minutes=30))
            .strftime("%Y-%m-%dT%H:%M"),
            "doing": "Answering a buyer in discussion #12."}
    data.update(overrides)
    if screenshot is not None:
        data["screenshot"] = (io.BytesIO(screenshot[1]), screenshot[0])
    return client.post("/report-problem", data=data, content_type="multipart/form-data")


def _notifications(user, kind) -> int:
    return db.session.scalar(select(func.count()).select_from(Notification).where(
        Notification.user_id == user.id, Notification.kind == kind))


def test_the_form_is_for_logged_in_users(client, auth, buyer):
    assert client.get("/report-problem").status_code == 302
    assert "Report a problem with the platform" not in client.get("/").text
    auth.login(buyer.email)
    assert "Report a problem with the platform" in client.get("/").text
    assert client.get("/report-problem").status_code == 200


def test_a_report_with_a_screenshot_is_acknowledged(app, client, auth, buyer):
    auth.login(buyer.email)
    before = _stored_files(app)
    response = _report(client, screenshot=("screen.png", PNG))
    assert response.status_code == 302
    assert "We received your report" in client.get(response.headers["Location"]).text
    report = db.session.scalar(select(ProblemReport))
    assert report.user_id == buyer.id and report.acknowledged_at is not None
    assert report.screenshot_filename == "screen.png"
    assert len(report.screenshot_sha256) == 64
    assert _stored_files(app) == before + 1
    assert _notifications(buyer, "problem_report.received") == 1
    assert db.session.scalar(select(OutboxEmail.to_address).where(
        OutboxEmail.template == "problem_report_received")) == buyer.email
    assert audit_actions("problem_reports", report.id) == ["problem_report.filed"]
    assert "we received your report" in client.get("/notifications").text


def test_a_report_needs_no_screenshot(client, auth, buyer):
    auth.login(buyer.email)
    assert _report(client).status_code == 302
    assert db.session.scalar(select(ProblemReport.screenshot_key)) is None


@pytest.mark.parametrize(("name", "data", "status"), [
    ("screen.png", b"MZ\x90\x00" + b"\x00" * 100, 422),  # a renamed executable
    ("screen.exe", b"MZ\x90\x00" + b"\x00" * 100, 422),
    ("screen.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>", 422),
    ("screen.jpg", PNG, 422),  # PNG bytes named .jpg
    ("big.png", b"\x89PNG\r\n\x1a\n" + b"0" * (10 * 1024 * 1024), 413),
])
def test_bad_screenshots_are_refused_and_nothing_is_stored(app, client, auth, buyer, name,
                                                           data, status):
    auth.login(buyer.email)
    before = _stored_files(app)
    response = _report(client, screenshot=(name, data))
    response.request.environ["wsgi.input"].close()  # the test client spools big bodies
    assert response.status_code == status
    assert "only PDF, PNG, JPEG and HEIC" in response.text or "not really" in response.text \
        or "larger than 10 MB" in response.text
    assert db.session.scalar(select(func.count()).select_from(ProblemReport)) == 0
    assert _stored_files(app) == before
    assert _notifications(buyer, "problem_report.received") == 0


@pytest.mark.parametrize("overrides", [
    {"what_happened": ""},
    {"doing": "  "},
    {"happened_at": ""},
    {"happened_at": "yesterday"},
])
def test_incomplete_reports_are_refused(client, auth, buyer, overrides):
    auth.login(buyer.email)
    assert _report(client, **overrides).status_code == 422
    assert db.session.scalar(select(func.count()).select_from(ProblemReport)) == 0


def test_a_report_from_the_future_is_refused(client, auth, buyer):
    auth.login(buyer.email)
    later = clock.to_local(clock.now() + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    response = _report(client, happened_at=later)
    assert response.status_code == 422
    assert "That time is in the future." in response.text


def test_staff_see_reports_link_them_and_the_reporter_hears_of_it(
        client, auth, buyer, staff, declare_incident):
    auth.login(buyer.email)
    _report(client, screenshot=("screen.png", PNG))
    auth.logout()
    report = db.session.scalar(select(ProblemReport))
    incident = declare_incident(hours_ago=1, title="Messages are not sent")

    auth.login(staff.email)
    page = client.get("/staff/problem-reports").text
    assert "The Send button did nothing." in page and buyer.email in page
    screenshot = client.get(f"/staff/problem-reports/{report.id}/screenshot")
    assert screenshot.status_code == 200 and screenshot.data == PNG
    assert screenshot.headers["Content-Disposition"].startswith("attachment;")
    assert screenshot.headers["X-Content-Type-Options"] == "nosniff"

    response = client.post(f"/staff/problem-reports/{report.id}/link",
                           data={"incident_id": incident.id})
    assert response.status_code == 302
    assert fresh(report).incident_id == incident.id
    assert "The Send button did nothing." in client.get(f"/staff/incidents/{incident.id}").text
    client.post(f"/staff/problem-reports/{report.id}/link", data={"incident_id": incident.id})
    assert _notifications(buyer, "problem_report.linked") == 1  # linking again: no news
    assert audit_actions("problem_reports", report.id) == [
        "problem_report.filed", "problem_report.linked"]
    auth.logout()

    resolve(incident, staff, hours_ago=0)
    auth.login(buyer.email)
    notifications = client.get("/notifications").text
    assert "part of a known incident: Messages are not sent" in notifications
    assert f"your problem report #{report.id} is resolved: Messages are not sent" in (
        notifications)
    assert client.get(f"/staff/problem-reports/{report.id}/screenshot").status_code == 403
    assert client.post(f"/staff/problem-reports/{report.id}/link",
                       data={"incident_id": incident.id}).status_code == 403


def test_linking_to_a_missing_incident_is_refused(client, auth, buyer, staff):
    auth.login(buyer.email)
    _report(client)
    auth.logout()
    report = db.session.scalar(select(ProblemReport))
    auth.login(staff.email)
    assert client.post(f"/staff/problem-reports/{report.id}/link",
                       data={"incident_id": 999}).status_code == 422
    assert client.post(f"/staff/problem-reports/{report.id}/link").status_code == 422
    assert client.post("/staff/problem-reports/999/link",
                       data={"incident_id": 1}).status_code == 404
    assert fresh(report).incident_id is None


def test_the_eleventh_report_in_an_hour_is_too_many(client, auth, buyer):
    auth.login(buyer.email)
    assert [_report(client).status_code for _ in range(10)] == [302] * 10
    assert _report(client).status_code == 429
    assert db.session.scalar(select(func.count()).select_from(ProblemReport)) == 10
