"""The staff incident pages and the banners, as staff, users and strangers meet them."""

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select

from arbiter import audit, clock
from arbiter.extensions import db
from disputes import services as disputes
from disputes.states import Party
from incidents import services
from incidents.models import DeadlineExtension, Incident, IncidentUpdate
from incidents.states import IncidentState, UpdateKind
from tests.incidents.helpers import extend, fresh, resolve, shift_back

DAY = timedelta(hours=24)


def _local(moment) -> str:
    """A time as a browser's datetime-local input sends it (Warsaw, to the minute)."""
    return clock.to_local(moment).strftime("%Y-%m-%dT%H:%M")


def _minute(moment):
    return moment.replace(second=0, microsecond=0)


def test_staff_take_an_incident_from_declaration_to_resolution_in_the_browser(
        client, auth, staff, buyer, create_discussion):
    discussion = create_discussion(buyer=buyer, age_hours=10)
    respond_by = discussion.respond_by
    auth.login(staff.email)
    assert client.get("/staff/incidents/new").status_code == 200
    started = clock.now() - timedelta(hours=8)
    response = client.post("/staff/incidents/new", data={
        "title": "Discussions are unavailable", "impact": "Nobody can answer.",
        "affected_services": ["discussions"], "started_at": _local(started)})
    assert response.status_code == 302
    incident = db.session.scalar(select(Incident))
    assert response.headers["Location"] == f"/staff/incidents/{incident.id}"
    assert incident.started_at == _minute(started)

    for kind, body in (("confirmed", "We are on it."), ("impact", "You cannot answer."),
                       ("progress", "Restoring the database.")):
        assert client.post(f"/staff/incidents/{incident.id}/updates",
                           data={"kind": kind, "body": body}).status_code == 302
    page = client.get(f"/staff/incidents/{incident.id}").text
    assert "Restoring the database." in page and "Sylwia Staff" in page

    ended = clock.now() - timedelta(hours=2)
    response = client.post(f"/staff/incidents/{incident.id}/resolve",
                           data={"ended_at": _local(ended), "body": "All fixed."})
    assert response.status_code == 302
    incident = fresh(incident)
    assert incident.state is IncidentState.RESOLVED and incident.ended_at == _minute(ended)
    # The extension ran after the commit, as the background job does.
    assert fresh(discussion).respond_by == respond_by + DAY
    page = client.get(f"/staff/incidents/{incident.id}").text
    assert "Seller&#39;s answer: 1" in page or "Seller's answer: 1" in page

    # "Extend deadlines now" again, and an edited end: still exactly once.
    assert client.post(f"/staff/incidents/{incident.id}/extend").status_code == 302
    assert client.post(f"/staff/incidents/{incident.id}/window", data={
        "started_at": _local(started), "ended_at": _local(ended + timedelta(hours=1))
    }).status_code == 302
    assert fresh(discussion).respond_by == respond_by + DAY
    assert db.session.scalar(select(func.count()).select_from(DeadlineExtension)) == 2


def test_bad_declarations_are_refused_with_form_errors(client, auth, staff):
    auth.login(staff.email)
    response = client.post("/staff/incidents/new", data={
        "title": "Down", "impact": "All of it.", "affected_services": [],
        "started_at": _local(clock.now())})
    assert response.status_code == 422
    assert "Choose at least one affected service." in response.text
    response = client.post("/staff/incidents/new", data={
        "title": "Down", "impact": "All of it.", "affected_services": ["claims"],
        "started_at": _local(clock.now() + timedelta(hours=2))})
    assert response.status_code == 422
    assert "An incident cannot start in the future." in response.text
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0


def test_resolving_before_the_start_is_refused(client, auth, staff, declare_incident):
    incident = declare_incident(hours_ago=3)
    auth.login(staff.email)
    response = client.post(f"/staff/incidents/{incident.id}/resolve", data={
        "ended_at": _local(clock.now() - timedelta(hours=5)), "body": "Done."})
    assert response.status_code == 422
    assert "The incident must end after it started." in response.text
    assert fresh(incident).state is IncidentState.OPEN


def test_posting_to_a_resolved_incident_is_409(client, auth, staff, declare_incident):
    incident = declare_incident(hours_ago=3)
    resolve(incident, staff, hours_ago=1)
    auth.login(staff.email)
    response = client.post(f"/staff/incidents/{incident.id}/updates",
                           data={"kind": "progress", "body": "More news."})
    assert response.status_code == 409
    assert len(fresh(incident).updates) == 1


def test_non_staff_cannot_declare_update_resolve_or_extend(client, auth, buyer, staff,
                                                           declare_incident):
    incident = declare_incident(hours_ago=3)
    auth.login(buyer.email)
    entries = audit.count()
    for method, url, data in (
            ("get", "/staff/incidents", None),
            ("get", "/staff/incidents/new", None),
            ("post", "/staff/incidents/new", {"title": "Mine", "impact": "x",
                                              "affected_services": ["claims"],
                                              "started_at": _local(clock.now())}),
            ("get", f"/staff/incidents/{incident.id}", None),
            ("post", f"/staff/incidents/{incident.id}/updates",
             {"kind": "progress", "body": "Hacked."}),
            ("post", f"/staff/incidents/{incident.id}/resolve",
             {"ended_at": _local(clock.now()), "body": "Done."}),
            ("post", f"/staff/incidents/{incident.id}/window",
             {"started_at": _local(clock.now() - timedelta(days=5))}),
            ("post", f"/staff/incidents/{incident.id}/extend", None),
            ("get", "/staff/problem-reports", None)):
        response = getattr(client, method)(url, data=data)
        assert response.status_code == 403, url
    assert audit.count() == entries
    auth.logout()
    assert client.post(f"/staff/incidents/{incident.id}/extend").status_code == 302  # login
    assert fresh(incident).state is IncidentState.OPEN
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 1
    assert db.session.scalar(select(func.count()).select_from(IncidentUpdate)) == 0


def test_staff_are_warned_after_24_hours_without_an_update(client, auth, staff,
                                                           time_machine):
    declared = clock.now().replace(microsecond=0)
    time_machine.move_to(declared, tick=False)
    incident = services.declare(staff, title="Slow pages", impact="Pages take a minute.",
                                affected_services=["whole_site"], started_at=declared)
    db.session.commit()
    auth.login(staff.email)
    warning = f'data-update-overdue="{incident.id}"'

    time_machine.move_to(declared + DAY - timedelta(seconds=1), tick=False)
    assert warning not in client.get("/staff/incidents").text
    time_machine.move_to(declared + DAY, tick=False)
    assert warning in client.get("/staff/incidents").text
    assert warning in client.get(f"/staff/incidents/{incident.id}").text

    client.post(f"/staff/incidents/{incident.id}/updates",
                data={"kind": "progress", "body": "Still working on it."})
    assert warning not in client.get("/staff/incidents").text
    time_machine.move_to(declared + 2 * DAY, tick=False)
    assert warning in client.get("/staff/incidents").text
    assert "update overdue" in client.get("/staff/incidents").text


def test_a_resolved_incident_needs_no_more_updates(client, auth, staff, declare_incident,
                                                   time_machine):
    incident = declare_incident(hours_ago=30)
    resolve(incident, staff, hours_ago=28)
    auth.login(staff.email)
    assert 'data-update-overdue' not in client.get("/staff/incidents").text


def test_the_banner_shows_on_every_page_while_an_incident_is_open(
        client, auth, buyer, staff, declare_incident):
    assert "data-incident-banner" not in client.get("/").text
    incident = declare_incident(hours_ago=1, title="Payments are slow")
    for url in ("/", "/login", "/status", "/protection-rules"):
        page = client.get(url).text
        assert "data-incident-banner" in page and "Payments are slow" in page, url
    auth.login(buyer.email)
    assert "Payments are slow" in client.get("/purchases").text
    resolve(incident, staff, hours_ago=0)
    assert "data-incident-banner" not in client.get("/purchases").text


def test_the_banner_costs_one_query(app, client, declare_incident):
    declare_incident(hours_ago=1)
    statements = []

    def count(conn, cursor, statement, *args):
        if "incidents" in statement:
            statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get("/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements


def test_banner_titles_are_escaped(client, declare_incident):
    declare_incident(hours_ago=1, title="<script>alert(1)</script>")
    page = client.get("/").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page


def test_extended_cases_carry_a_banner(client, auth, buyer, seller, staff, declare_incident,
                                       create_discussion, escalated):
    discussion = create_discussion(buyer=buyer, seller=seller, age_hours=10)
    untouched = create_discussion(buyer=buyer, seller=seller, age_hours=1)
    disputes.take_case(escalated, staff)
    request = disputes.request_information(escalated, staff, party=Party.SELLER,
                                           question="Tracking number?")
    db.session.commit()
    shift_back(request, 9, "requested_at", "due_at")
    incident = declare_incident(hours_ago=8, title="Discussions <down>")
    resolve(incident, staff, hours_ago=2)
    extend(incident)
    notice = "Deadline extended by 24 h because of the incident “Discussions &lt;down&gt;”."
    auth.login(seller.email)
    assert notice in client.get(f"/discussions/{discussion.id}").text
    assert notice in client.get(f"/discussions/{escalated.id}").text  # its request
    assert notice not in client.get(f"/discussions/{untouched.id}").text


def test_an_extended_document_request_shows_on_the_claim(client, auth, buyer, seller, staff,
                                                         declare_incident, create_order,
                                                         create_discussion):
    from claims import services as claims
    from tests.claims.helpers import file

    order = create_order(buyer=buyer, seller=seller)
    create_discussion(order, age_hours=25)
    claim = file(order)
    claims.take(claim, staff)
    request = claims.request_documents(claim, staff, "The delivery note.")
    db.session.commit()
    shift_back(request, 3, "requested_at", "due_at")
    auth.login(buyer.email)
    assert "Deadline extended" not in client.get(f"/claims/{claim.id}").text
    incident = declare_incident(hours_ago=2, services_affected=("claims",),
                                title="Uploads failing")
    resolve(incident, staff, hours_ago=1)
    extend(incident)
    assert "Deadline extended by 24 h because of the incident “Uploads failing”." in client.get(
        f"/claims/{claim.id}").text


@pytest.mark.parametrize("lang", ["pl", "en"])
def test_the_staff_pages_render_in_both_languages(client, auth, staff, declare_incident, lang):
    incident = declare_incident(hours_ago=1)
    services.post_update(incident, staff, kind=UpdateKind.CONFIRMED, body="On it.")
    db.session.commit()
    auth.login(staff.email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = lang
    for url in ("/staff/incidents", f"/staff/incidents/{incident.id}",
                "/staff/incidents/new", "/staff/problem-reports"):
        assert client.get(url).status_code == 200, url
