"""Incidents extend the deadlines of appeals like every running deadline (both engines):
24 h of elapsed time, once per incident per deadline, only while the deadline runs."""

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import func, select, update

from appeals import services as appeals
from appeals.states import Outcome
from arbiter import clock
from arbiter.audit import AuditEntry
from arbiter.errors import TransitionNotAllowed
from arbiter.extensions import db
from claims.models import PolicyVersion
from claims.states import Decision
from incidents import services as incidents
from incidents.models import DeadlineExtension
from incidents.states import DeadlineKind
from incidents.tasks import run_extension
from tests.appeals.conftest import RATIONALE, STATEMENT

DAY = timedelta(hours=24)
ANSWER = "The buyer got exactly what the listing showed, with the receipt attached."


def _incident(staff, *, hours_ago=8, lasted=6, services=("discussions",)):
    """A resolved incident that started ``hours_ago`` and lasted ``lasted`` hours."""
    started = clock.now() - timedelta(hours=hours_ago)
    incident = incidents.declare(staff, title="Appeals are unavailable",
                                 impact="Nobody can file or answer an appeal.",
                                 affected_services=list(services), started_at=started)
    incidents.resolve(incident, staff, ended_at=started + timedelta(hours=lasted),
                      body="Fixed; deadlines extended.")
    db.session.commit()
    return incident


def _backdate(row, delta, *columns):
    for column in columns:
        setattr(row, column, getattr(row, column) - delta)
    db.session.commit()


def _records(kind, object_id):
    return db.session.scalar(select(func.count()).select_from(DeadlineExtension).where(
        DeadlineExtension.deadline_kind == kind, DeadlineExtension.object_id == object_id))


def _audited(action, object_type, object_id):
    return db.session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == action, AuditEntry.object_type == object_type,
        AuditEntry.object_id == str(object_id)))


def _fresh(row):
    db.session.expire_all()
    return db.session.get(type(row), row.id)


def test_an_open_appeals_answer_and_review_move_24h_once(verdict, buyer, staff):
    appeal = appeals.file_appeal(verdict(), buyer, STATEMENT)
    db.session.commit()
    _backdate(appeal, timedelta(hours=10), "filed_at", "answer_due_at", "review_due_at")
    answer_due, review_due = appeal.answer_due_at, appeal.review_due_at
    incident = _incident(staff)  # 2 h after the appeal was filed, 6 h long

    run_extension(incident.id)
    run_extension(incident.id)  # again: nothing moves twice
    incidents.change_window(incident, staff, started_at=incident.started_at,
                            ended_at=incident.ended_at - timedelta(hours=1))
    db.session.commit()
    run_extension(incident.id)

    appeal = _fresh(appeal)
    assert (appeal.answer_due_at, appeal.review_due_at) == (answer_due + DAY, review_due + DAY)
    assert _records(DeadlineKind.APPEAL_ANSWER, appeal.id) == 1
    assert _records(DeadlineKind.APPEAL_REVIEW, appeal.id) == 1
    assert _audited("appeal.deadlines_extended", "appeals", appeal.id) == 1


def test_an_answered_or_decided_appeal_keeps_what_no_longer_runs(verdict, buyer, seller,
                                                                 staff, reviewer):
    appeal = appeals.file_appeal(verdict(), buyer, STATEMENT)
    appeals.answer(appeal, seller, ANSWER)
    db.session.commit()
    _backdate(appeal, timedelta(hours=10), "filed_at", "answer_due_at", "review_due_at")
    answer_due, review_due = appeal.answer_due_at, appeal.review_due_at

    run_extension(_incident(staff).id)

    appeal = _fresh(appeal)
    # the answer is in: its 72 h protect nobody; staff's 14 days still run
    assert (appeal.answer_due_at, appeal.review_due_at) == (answer_due, review_due + DAY)
    assert _records(DeadlineKind.APPEAL_ANSWER, appeal.id) == 0

    appeals.take(appeal, reviewer)
    for item in appeals_evidence(appeal):
        appeals.mark_read(appeal, reviewer, item)
    appeals.decide(appeal, reviewer, outcome=Outcome.UPHELD, amount=None, rationale=RATIONALE)
    db.session.commit()
    decided_review_due = appeal.review_due_at
    run_extension(_incident(staff, hours_ago=5, lasted=1).id)
    assert _fresh(appeal).review_due_at == decided_review_due  # decided: nothing runs


def appeals_evidence(appeal):
    from appeals.queries import evidence

    return [item.key for item in evidence(appeal)]


def test_a_verdicts_window_moves_once_and_a_late_appeal_fits_in_the_extension(
        verdict, buyer, staff):
    """The 30 days ended 5 h ago, during an incident that ended 2 h ago: refused, then the
    extension gives the 24 h back and the appeal is filed; a day later it would not be."""
    discussion = verdict()
    _backdate(discussion, timedelta(days=30, hours=5), "decided_at")
    target = appeals.appealed(discussion)
    closed = appeals.closes_at(target)
    assert closed < clock.now()
    with pytest.raises(TransitionNotAllowed) as late:
        appeals.file_appeal(discussion, buyer, STATEMENT)
    assert late.value.code == "appeal_window_closed"
    db.session.rollback()

    incident = _incident(staff)
    run_extension(incident.id)
    run_extension(incident.id)

    assert _records(DeadlineKind.VERDICT_APPEAL_WINDOW, discussion.id) == 1
    assert _audited("discussion.appeal_window_extended", "discussions", discussion.id) == 1
    target = appeals.appealed(_fresh(discussion))
    assert appeals.closes_at(target) == closed + DAY
    with time_machine.travel(closed + DAY + timedelta(seconds=1)):
        assert appeals.refusal(target, buyer)[0].value == "appeal_window_closed"
    appeal = appeals.file_appeal(discussion, buyer, STATEMENT)
    db.session.commit()
    assert appeal.id is not None


def test_a_closed_window_is_not_reopened(verdict, buyer, staff):
    """An incident after the 30 days ended protects nothing: the window stays closed."""
    discussion = verdict()
    _backdate(discussion, timedelta(days=31), "decided_at")
    closed = appeals.closes_at(appeals.appealed(discussion))

    run_extension(_incident(staff).id)

    assert _records(DeadlineKind.VERDICT_APPEAL_WINDOW, discussion.id) == 0
    assert appeals.closes_at(appeals.appealed(_fresh(discussion))) == closed
    with pytest.raises(TransitionNotAllowed) as late:
        appeals.file_appeal(discussion, buyer, STATEMENT)
    assert late.value.code == "appeal_window_closed"


def test_a_verdict_both_parties_appealed_has_no_window_left_to_extend(verdict, buyer,
                                                                      seller, staff):
    discussion = verdict()
    appeals.file_appeal(discussion, buyer, STATEMENT)
    appeals.file_appeal(discussion, seller, STATEMENT)
    db.session.commit()
    _backdate(discussion, timedelta(days=2), "decided_at")

    run_extension(_incident(staff).id)

    assert _records(DeadlineKind.VERDICT_APPEAL_WINDOW, discussion.id) == 0


def test_a_claim_decisions_window_moves_with_a_claims_incident_only(decided_claim, buyer,
                                                                    staff):
    claim = decided_claim(Decision.REJECTED)
    _backdate(claim, timedelta(days=3), "decided_at")
    closed = appeals.closes_at(appeals.appealed(claim))

    run_extension(_incident(staff, services=("payments",)).id)  # protects no deadline
    assert _records(DeadlineKind.CLAIM_APPEAL_WINDOW, claim.id) == 0
    run_extension(_incident(staff, services=("claims",)).id)
    assert _records(DeadlineKind.CLAIM_APPEAL_WINDOW, claim.id) == 1
    assert appeals.closes_at(appeals.appealed(_fresh(claim))) == closed + DAY
    assert _audited("claim.appeal_window_extended", "claims", claim.id) == 1


def test_an_incident_extends_a_claim_decisions_window_as_its_version_gives_it(
        decided_claim, staff):
    """The window is the policy version's: a 4-day one that closed before the incident is
    not reopened, even though the verdicts' setting (30 days) would still run."""
    db.session.execute(update(PolicyVersion).values(appeal_window_days=4))
    closed_before = decided_claim(Decision.REJECTED)
    _backdate(closed_before, timedelta(days=5), "decided_at")
    running = decided_claim(Decision.REJECTED)
    _backdate(running, timedelta(days=3), "decided_at")
    closes = appeals.closes_at(appeals.appealed(running))
    assert closes == running.decided_at + timedelta(days=4)

    run_extension(_incident(staff, services=("claims",)).id)
    assert _records(DeadlineKind.CLAIM_APPEAL_WINDOW, closed_before.id) == 0
    assert _records(DeadlineKind.CLAIM_APPEAL_WINDOW, running.id) == 1
    assert appeals.closes_at(appeals.appealed(_fresh(running))) == closes + DAY
