"""Deadline extensions: every deadline that ran during an incident moves 24 h later, once."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from arbiter import clock
from arbiter.audit import AuditEntry
from arbiter.errors import TransitionNotAllowed
from arbiter.extensions import db
from arbiter.sweeper import run_sweep
from claims import services as claims
from disputes import services as disputes
from disputes.states import Party
from incidents import services
from incidents.models import DeadlineExtension
from incidents.states import DeadlineKind
from tests.claims.helpers import file
from tests.incidents.helpers import (
    audit_actions,
    extend,
    extension_records,
    fresh,
    resolve,
    shift_back,
)

DAY = timedelta(hours=24)


def _deadlines(discussion):
    row = fresh(discussion)
    return row.respond_by, row.escalation_available_at


def test_a_discussion_opened_2h_before_a_6h_incident_moves_24h_once(
        declare_incident, create_discussion, staff):
    discussion = create_discussion(age_hours=10)
    respond_by, escalation = _deadlines(discussion)
    incident = declare_incident(hours_ago=8)  # 2 h after the discussion opened
    resolve(incident, staff, hours_ago=2)  # 6 h long

    assert extend(incident) == 1
    assert _deadlines(discussion) == (respond_by + DAY, escalation + DAY)

    assert extend(incident) == 0  # the extension runs twice
    services.change_window(incident, staff, started_at=incident.started_at,
                           ended_at=clock.now() - timedelta(hours=1))  # the end is edited
    db.session.commit()
    assert extend(incident) == 0
    assert _deadlines(discussion) == (respond_by + DAY, escalation + DAY)
    assert extension_records(incident) == 2
    assert audit_actions("discussions", discussion.id).count(
        "discussion.deadlines_extended") == 1


def test_the_extension_is_audited_once_per_object_with_both_deadlines(
        declare_incident, create_discussion, staff):
    discussion = create_discussion(age_hours=10)
    respond_by, escalation = _deadlines(discussion)
    incident = declare_incident(hours_ago=8)
    resolve(incident, staff, hours_ago=2)
    extend(incident, actor_id=staff.id)
    entry = db.session.scalar(select(AuditEntry).where(
        AuditEntry.action == "discussion.deadlines_extended"))
    assert entry.object_id == str(discussion.id) and entry.actor_id == staff.id
    assert entry.before == {"respond_by": respond_by.isoformat(),
                            "escalation_available_at": escalation.isoformat()}
    assert entry.after["respond_by"] == (respond_by + DAY).isoformat()
    assert entry.after["incident_id"] == incident.id and entry.after["hours"] == 24


def test_deadlines_outside_the_window_are_untouched(declare_incident, create_discussion,
                                                    staff):
    after_it = create_discussion(age_hours=1)  # opened after the incident ended
    long_due = create_discussion(age_hours=40)  # due 16 h ago, before the incident started
    withdrawn = create_discussion(age_hours=10)
    disputes.withdraw(withdrawn, withdrawn.buyer)
    db.session.commit()
    before = {d.id: _deadlines(d) for d in (after_it, long_due, withdrawn)}
    incident = declare_incident(hours_ago=8)
    resolve(incident, staff, hours_ago=2)
    assert extend(incident) == 0
    assert {d.id: _deadlines(d) for d in (after_it, long_due, withdrawn)} == before
    assert extension_records() == 0


def test_a_changed_window_extends_what_is_newly_inside_and_never_twice(
        declare_incident, create_discussion, staff):
    early = create_discussion(age_hours=10)
    late = create_discussion(age_hours=1.5)
    early_before, late_before = _deadlines(early), _deadlines(late)
    incident = declare_incident(hours_ago=8)
    resolve(incident, staff, hours_ago=2)
    assert extend(incident) == 1

    services.change_window(incident, staff, started_at=incident.started_at,
                           ended_at=clock.now() - timedelta(hours=1))
    db.session.commit()
    assert extend(incident) == 1
    assert _deadlines(late) == tuple(t + DAY for t in late_before)

    # Shrunk so that neither is inside any more: both keep the 24 h they were given.
    services.change_window(incident, staff, started_at=clock.now() - timedelta(hours=30),
                           ended_at=clock.now() - timedelta(hours=29))
    db.session.commit()
    assert extend(incident) == 0
    assert _deadlines(early) == tuple(t + DAY for t in early_before)
    assert _deadlines(late) == tuple(t + DAY for t in late_before)
    assert extension_records(incident) == 4


def test_an_open_incident_extended_on_demand_catches_later_deadlines_on_resolution(
        declare_incident, create_discussion, staff):
    before_it = create_discussion(age_hours=6)
    first = _deadlines(before_it)
    incident = declare_incident(hours_ago=5)
    services.extend_deadlines(incident, staff)
    db.session.commit()
    assert extend(incident) == 1
    during_it = create_discussion()  # opened while the incident is still open
    second = _deadlines(during_it)
    resolve(incident, staff, hours_ago=0)
    assert extend(incident) == 1
    assert _deadlines(before_it) == tuple(t + DAY for t in first)
    assert _deadlines(during_it) == tuple(t + DAY for t in second)


def test_two_incidents_each_extend_once(declare_incident, create_discussion, staff):
    discussion = create_discussion(age_hours=10)
    respond_by, _ = _deadlines(discussion)
    first = declare_incident(hours_ago=8, title="Discussions down")
    resolve(first, staff, hours_ago=7)
    second = declare_incident(hours_ago=4, title="Discussions down again")
    resolve(second, staff, hours_ago=3)
    assert extend(first) == 1 and extend(second) == 1 and extend(first) == 0
    assert fresh(discussion).respond_by == respond_by + 2 * DAY


def test_many_discussions_are_extended_in_batches(declare_incident, create_discussion,
                                                  staff):
    discussions = [create_discussion(age_hours=10) for _ in range(7)]
    before = {d.id: _deadlines(d)[0] for d in discussions}
    incident = declare_incident(hours_ago=8)
    resolve(incident, staff, hours_ago=2)
    assert extend(incident, batch_size=2) == 7
    assert extend(incident, batch_size=2) == 0
    assert {d.id: _deadlines(d)[0] for d in discussions} == {
        key: value + DAY for key, value in before.items()}


def test_a_seller_who_answered_late_during_the_incident_is_on_time_after_all(
        declare_incident, create_discussion, seller, staff):
    discussion = create_discussion(seller=seller, age_hours=30)  # due 6 h ago
    disputes.post_message(discussion, seller, "Sorry, the site did not let me answer.")
    db.session.commit()
    assert fresh(discussion).seller_answered_on_time is False
    incident = declare_incident(hours_ago=10)
    resolve(incident, staff, hours_ago=5)
    assert extend(incident) == 1
    assert fresh(discussion).seller_answered_on_time is True


def test_a_buyer_told_that_escalation_is_open_keeps_it_after_an_incident(
        declare_incident, create_discussion, buyer, staff):
    """#22 item 1: before, the extension pushed the opened right a day later and told the
    buyer again; a right already open now stays open."""
    discussion = create_discussion(buyer=buyer, age_hours=25)  # escalation opened 1 h ago
    run_sweep()
    notified_at = fresh(discussion).escalation_notice_sent_at
    assert notified_at is not None
    escalation = fresh(discussion).escalation_available_at
    incident = declare_incident(hours_ago=3)
    resolve(incident, staff, hours_ago=2)
    assert extend(incident) == 1  # the seller's answer only
    assert fresh(discussion).escalation_available_at == escalation
    assert fresh(discussion).escalation_notice_sent_at == notified_at
    disputes.escalate(fresh(discussion), buyer, "No answer.")
    db.session.commit()
    assert fresh(discussion).state == "escalated"


def test_information_requests_are_extended(declare_incident, escalated, staff):
    disputes.take_case(escalated, staff)
    request = disputes.request_information(escalated, staff, party=Party.SELLER,
                                           question="The tracking number, please.")
    answered = disputes.request_information(escalated, staff, party=Party.BUYER,
                                            question="A photo, please.")
    db.session.commit()
    disputes.post_message(escalated, escalated.buyer, "Here it is.")  # answers the second
    db.session.commit()
    shift_back(request, 5, "requested_at", "due_at")
    shift_back(answered, 5, "requested_at", "due_at")
    due, answered_due = fresh(request).due_at, fresh(answered).due_at
    respond_by = fresh(escalated).respond_by
    incident = declare_incident(hours_ago=4)
    resolve(incident, staff, hours_ago=1)
    assert extend(incident) == 1
    assert fresh(request).due_at == due + DAY
    assert fresh(answered).due_at == answered_due
    assert fresh(escalated).respond_by == respond_by  # escalated: nothing left to protect
    assert audit_actions("information_requests", request.id) == [
        "information_request.deadline_extended"]


def _claim_awaiting_documents(create_order, create_discussion, buyer, seller, staff):
    order = create_order(buyer=buyer, seller=seller)
    create_discussion(order, age_hours=25)
    claim = file(order)
    claims.take(claim, staff)
    request = claims.request_documents(claim, staff, "The courier's delivery note.")
    db.session.commit()
    return claim, request


def test_document_requests_are_extended_and_no_longer_overdue(
        declare_incident, create_order, create_discussion, buyer, seller, staff):
    claim, request = _claim_awaiting_documents(create_order, create_discussion, buyer,
                                               seller, staff)
    shift_back(request, 7 * 24 + 1, "requested_at", "due_at")  # due 1 h ago
    run_sweep()
    assert fresh(request).overdue_notified_at is not None
    due = fresh(request).due_at
    incident = declare_incident(hours_ago=30, services_affected=("claims",))
    resolve(incident, staff, hours_ago=20)
    assert extend(incident) == 2  # the request, and the order's filing window
    request = fresh(request)
    assert request.due_at == due + DAY and request.overdue_notified_at is None
    with pytest.raises(TransitionNotAllowed) as error:
        claims.reject_after_deadline(fresh(claim), staff)
    db.session.rollback()
    assert error.value.code == "documents_not_due_yet"


def test_an_expired_filing_window_reopens_for_24_hours(declare_incident, create_order,
                                                       create_discussion, buyer, seller,
                                                       staff, client, auth):
    order = create_order(buyer=buyer, seller=seller,
                         paid_at=clock.now() - timedelta(days=90, hours=1))
    discussion = create_discussion(order, age_hours=25)
    discussion_deadlines = _deadlines(discussion)
    assert claims.filing_refusal(order).code == "filing_window_expired"
    auth.login(buyer.email)
    assert client.get(f"/orders/{order.id}/claim").status_code == 409

    incident = declare_incident(hours_ago=30, services_affected=("claims",),
                                title="Claims form broken")
    resolve(incident, staff, hours_ago=20)
    assert extend(incident) == 1

    assert claims.filing_refusal(order) is None
    assert claims.order_quote(order, "not_as_described").filing_deadline == (
        order.paid_at + timedelta(days=91))
    assert client.get(f"/orders/{order.id}/claim").status_code == 200
    assert "Deadline extended by 24 h because of the incident “Claims form broken”" in client.get(
        f"/orders/{order.id}").text
    assert file(order).state.value == "submitted"
    assert _deadlines(discussion) == discussion_deadlines  # claims only: not discussions
    (record,) = db.session.scalars(select(DeadlineExtension)).all()
    assert (record.deadline_kind, record.object_id) == (DeadlineKind.FILING_WINDOW, order.id)
    assert audit_actions("orders", order.id)[-1] == "order.filing_window_extended"


def test_a_payments_incident_extends_nothing(declare_incident, create_discussion, staff):
    discussion = create_discussion(age_hours=10)
    before = _deadlines(discussion)
    incident = declare_incident(hours_ago=8, services_affected=("payments",))
    resolve(incident, staff, hours_ago=2)
    assert extend(incident) == 0
    assert _deadlines(discussion) == before


def test_a_whole_site_incident_extends_every_kind(declare_incident, escalated, create_order,
                                                  create_discussion, buyer, seller, staff):
    talking = create_discussion(age_hours=3)
    disputes.take_case(escalated, staff)
    information = disputes.request_information(escalated, staff, party=Party.SELLER,
                                               question="Tracking number?")
    claim, documents = _claim_awaiting_documents(create_order, create_discussion, buyer,
                                                 seller, staff)
    db.session.commit()
    for row in (information, documents):
        shift_back(row, 2, "requested_at", "due_at")
    incident = declare_incident(hours_ago=1, services_affected=("whole_site",))
    resolve(incident, staff, hours_ago=0)
    extend(incident)
    kinds = {kind: object_id for kind, object_id in db.session.execute(
        select(DeadlineExtension.deadline_kind, DeadlineExtension.object_id)).all()
        if kind is not DeadlineKind.FILING_WINDOW}
    assert kinds == {DeadlineKind.DISCUSSION_RESPOND_BY: talking.id,
                     DeadlineKind.DISCUSSION_ESCALATION: talking.id,
                     DeadlineKind.INFORMATION_REQUEST: information.id,
                     DeadlineKind.DOCUMENT_REQUEST: documents.id}
    filing = db.session.scalars(select(DeadlineExtension.object_id).where(
        DeadlineExtension.deadline_kind == DeadlineKind.FILING_WINDOW)).all()
    assert claim.order_id in filing


def test_escalation_already_open_stays_open_after_an_incident_ending_an_hour_ago(
        declare_incident, create_discussion, staff, auth):
    """#22 item 1: the seller answered on time, the buyer could ask for help; an incident
    from 5 h ago to 1 h ago is resolved; the button stays available."""
    discussion = create_discussion(age_hours=26)  # escalation open since 2 h ago
    disputes.post_message(discussion, discussion.seller, "Sorry, sending a new one.")
    db.session.commit()
    shift_back(discussion, 20, "seller_first_response_at")  # answered 20 h ago, on time
    respond_by, escalation = _deadlines(discussion)
    assert escalation <= clock.now()
    incident = declare_incident(hours_ago=5)
    resolve(incident, staff, hours_ago=1)

    assert extend(incident) == 1  # the seller's answer deadline: a duty, moved
    row = fresh(discussion)
    assert row.escalation_available_at == escalation
    assert row.respond_by == respond_by + DAY and row.seller_answered_on_time
    assert {kind for kind, _ in db.session.execute(
        select(DeadlineExtension.deadline_kind, DeadlineExtension.object_id))} == {
        DeadlineKind.DISCUSSION_RESPOND_BY}

    auth.login(discussion.buyer.email)
    page = auth.client.get(f"/discussions/{discussion.id}").get_data(as_text=True)
    assert "Available from" not in page
    assert 'name="reason"' in page
    disputes.escalate(fresh(discussion), discussion.buyer, "The seller stopped answering.")
    db.session.commit()
    assert fresh(discussion).state == "escalated"


def test_escalation_still_ahead_when_the_extension_runs_moves_a_day(
        declare_incident, create_discussion, staff):
    discussion = create_discussion(age_hours=20)  # escalation in 4 h
    _, escalation = _deadlines(discussion)
    incident = declare_incident(hours_ago=5)
    resolve(incident, staff, hours_ago=1)
    extend(incident)
    assert fresh(discussion).escalation_available_at == escalation + DAY
