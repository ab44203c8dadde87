"""Incident transitions: what each one records, and what is refused without a change."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from arbiter import audit, clock
from arbiter.errors import NotFound, TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from incidents import services
from incidents.models import Incident, IncidentUpdate
from incidents.states import IncidentState, UpdateKind
from tests.incidents.helpers import IMPACT, audit_actions, fresh, resolve

HOUR = timedelta(hours=1)


def _refused(attempt, status: int, code: str | None = None):
    entries = audit.count()
    with pytest.raises((TransitionNotAllowed, ValidationFailed, NotFound)) as error:
        attempt()
    db.session.rollback()
    assert error.value.status == status, error.value.message
    if code:
        assert error.value.code == code
    assert audit.count() == entries
    return error.value


def test_declaring_records_the_window_and_who_declared(staff):
    started = clock.now() - 3 * HOUR
    incident = services.declare(staff, title="  Claims form broken ", impact=IMPACT,
                                affected_services=["whole_site", "claims"], started_at=started)
    db.session.commit()
    incident = fresh(incident)
    assert incident.title_pl == "Claims form broken" and incident.title_en is None
    assert incident.state is IncidentState.OPEN and incident.ended_at is None
    assert incident.started_at == started and incident.declared_by_id == staff.id
    assert incident.affected_services == ["claims", "whole_site"]
    assert audit_actions("incidents", incident.id) == ["incident.declared"]


@pytest.mark.parametrize(("overrides", "code"), [
    ({"title": " "}, None),
    ({"impact": ""}, None),
    ({"affected_services": []}, "affected_services_required"),
    ({"affected_services": ["printing"]}, "affected_services_required"),
    ({"started_at": None}, "started_at_required"),
    ({"started_at": "future"}, "start_in_future"),
])
def test_declaring_refuses_bad_input(staff, overrides, code):
    values = {"title": "Down", "impact": IMPACT, "affected_services": ["claims"],
              "started_at": clock.now() - HOUR}
    values.update(overrides)
    if values["started_at"] == "future":
        values["started_at"] = clock.now() + HOUR
    _refused(lambda: services.declare(staff, **values), 422, code)
    assert db.session.scalar(select(func.count()).select_from(Incident)) == 0


def test_only_staff_declare(buyer):
    _refused(lambda: services.declare(buyer, title="Down", impact=IMPACT,
                                      affected_services=["claims"],
                                      started_at=clock.now()), 404)


def test_updates_are_posted_in_order_while_open(declare_incident, staff):
    incident = declare_incident(hours_ago=2)
    for kind, body in ((UpdateKind.CONFIRMED, "We know and are on it."),
                       (UpdateKind.IMPACT, "You cannot answer discussions."),
                       (UpdateKind.PROGRESS, "The database is being restored.")):
        services.post_update(incident, staff, kind=kind, body=body)
        db.session.commit()
    assert [u.kind for u in fresh(incident).updates] == [
        UpdateKind.CONFIRMED, UpdateKind.IMPACT, UpdateKind.PROGRESS]
    assert audit_actions("incidents", incident.id).count("incident.update_posted") == 3


def test_the_resolved_update_comes_only_with_resolving(declare_incident, staff):
    incident = declare_incident(hours_ago=2)
    _refused(lambda: services.post_update(incident, staff, kind=UpdateKind.RESOLVED,
                                          body="Done."), 422, "resolve_instead")
    _refused(lambda: services.post_update(incident, staff, kind=UpdateKind.PROGRESS,
                                          body=""), 422)


def test_resolving_closes_the_window_and_posts_the_resolution(declare_incident, staff):
    incident = declare_incident(hours_ago=6)
    resolve(incident, staff, hours_ago=1, body="Restored from the backup.")
    incident = fresh(incident)
    assert incident.state is IncidentState.RESOLVED
    assert clock.now() - incident.ended_at >= HOUR
    assert [(u.kind, u.body_pl) for u in incident.updates] == [
        (UpdateKind.RESOLVED, "Restored from the backup.")]
    assert audit_actions("incidents", incident.id)[-1] == "incident.resolved"


def test_after_resolution_no_updates_and_no_second_resolution(declare_incident, staff):
    incident = declare_incident(hours_ago=6)
    resolve(incident, staff, hours_ago=1)
    _refused(lambda: services.post_update(incident, staff, kind=UpdateKind.PROGRESS,
                                          body="More."), 409, "transition_not_allowed")
    _refused(lambda: services.resolve(incident, staff, ended_at=clock.now(), body="Again."),
             409)


@pytest.mark.parametrize(("ended", "code"), [
    (None, "ended_at_required"),
    ("before_start", "end_not_after_start"),
    ("future", "end_in_future"),
])
def test_resolving_needs_a_possible_end(declare_incident, staff, ended, code):
    incident = declare_incident(hours_ago=6)
    ended_at = {None: None, "before_start": incident.started_at - HOUR,
                "future": clock.now() + HOUR}[ended]
    _refused(lambda: services.resolve(incident, staff, ended_at=ended_at, body="Done."),
             422, code)
    assert fresh(incident).state is IncidentState.OPEN


def test_the_database_refuses_a_second_resolved_update(declare_incident, staff):
    incident = declare_incident(hours_ago=6)
    resolve(incident, staff, hours_ago=1)
    db.session.add(IncidentUpdate(incident_id=incident.id, kind=UpdateKind.RESOLVED,
                                  body_pl="Twice", posted_at=clock.now(), posted_by_id=staff.id))
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.flush()


def test_the_database_refuses_a_resolved_incident_without_an_end(declare_incident):
    incident = declare_incident(hours_ago=6)
    incident.state = IncidentState.RESOLVED
    with pytest.raises(IntegrityError), db.session.begin_nested():
        db.session.flush()


def test_changing_the_window(declare_incident, staff):
    incident = declare_incident(hours_ago=6)
    _refused(lambda: services.change_window(incident, staff, started_at=incident.started_at,
                                            ended_at=clock.now()),
             422, "open_incident_has_no_end")
    earlier = incident.started_at - HOUR
    assert services.change_window(incident, staff, started_at=earlier, ended_at=None)
    db.session.commit()
    assert fresh(incident).started_at == earlier
    assert not services.change_window(incident, staff, started_at=earlier, ended_at=None)
    resolve(incident, staff, hours_ago=1)
    _refused(lambda: services.change_window(incident, staff, started_at=earlier,
                                            ended_at=None), 422, "ended_at_required")
    assert audit_actions("incidents", incident.id).count("incident.window_changed") == 1
