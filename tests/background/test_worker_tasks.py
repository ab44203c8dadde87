"""Every task the code can enqueue runs on a real Celery worker process (production topology).

The rest of the suite runs tasks in process, where every module is already imported; a
worker only knows the tasks its own start-up registered. In production it discarded two
of five ("Received unregistered task"): resolving an incident extended no deadline and
no data export was ever built.
"""

import json
import subprocess
import sys
from datetime import timedelta

import pytest
from sqlalchemy import delete, select

from accounts import exports
from accounts import services as accounts
from accounts.models import DataExport, ExportState
from accounts.roles import Role
from arbiter import clock
from arbiter.documents import DecisionDocument
from arbiter.extensions import db
from arbiter.notifications import OutboxEmail, OutboxState
from arbiter.tasks import celery
from claims import impact, versions
from claims.models import ImpactRun, ImpactRunState, PolicyVersion
from dashboards.policy import Period
from disputes import services as disputes
from disputes.models import Discussion
from disputes.states import ExpectedOutcome, Reason, Verdict
from incidents import services as incidents
from incidents.models import Incident
from orders.services import upsert_order
from orders.states import PaymentMethod
from tests.background.processes import wait_for
from tests.factories import PASSWORD

PROJECT_PACKAGES = ("arbiter", "accounts", "orders", "disputes", "claims", "settlements",
                    "appeals", "incidents", "integrations", "dashboards", "signals")

_LIST_TASKS = f"""
import importlib, json, pkgutil, sys
if sys.argv[1] == "everything":  # every module of the project, whatever imports what
    for name in {PROJECT_PACKAGES!r}:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, name + "."):
            if module.name != "arbiter.worker":
                importlib.import_module(module.name)
    from arbiter.tasks import celery
else:  # what `celery -A arbiter.worker worker` loads
    from arbiter.worker import celery
print(json.dumps(sorted(name for name in celery.tasks if not name.startswith("celery."))))
"""


def _task_names(what: str) -> list[str]:
    done = subprocess.run([sys.executable, "-c", _LIST_TASKS, what], capture_output=True,
                          text=True, check=True, timeout=120)
    return json.loads(done.stdout.splitlines()[-1])


def test_the_worker_registers_every_task_the_code_defines():
    defined = _task_names("everything")
    assert {"arbiter.sweep", "incidents.extend_deadlines", "accounts.build_data_export",
            "claims.replay_impact"} <= set(defined)
    assert _task_names("worker") == defined


def _committed_case():
    """A buyer, a seller, a staff member, and two discussions of theirs, committed: one the
    seller has not answered yet (its deadline is running), one escalated to staff."""
    buyer = accounts.create_user("worker-buyer@example.test", "Worker Buyer", PASSWORD)
    seller = accounts.create_user("worker-seller@example.test", "Worker Seller", PASSWORD)
    staff = accounts.create_user("worker-staff@example.test", "Worker Staff", PASSWORD,
                                 roles=tuple(Role))
    db.session.flush()
    discussions = []
    for number, hours_ago in ((1, 2), (2, 30)):
        order = upsert_order({
            "external_id": f"WORKER-{number}", "buyer_email": buyer.email,
            "seller_email": seller.email, "item_title": "Lamp", "item_price": 25_000,
            "shipping_cost": 1_500, "payment_method": PaymentMethod.PLATFORM_PAYMENTS,
            "paid_at": clock.now() - timedelta(days=5)}).order
        discussion = disputes.open_discussion(
            order, buyer, reason=Reason.NOT_RECEIVED, expected_outcome=ExpectedOutcome.REFUND,
            description="The lamp never came.")
        db.session.flush()
        for name in ("opened_at", "respond_by", "escalation_available_at", "last_activity_at"):
            setattr(discussion, name, getattr(discussion, name) - timedelta(hours=hours_ago))
        discussions.append(discussion)
    running, late = discussions
    db.session.flush()
    disputes.escalate(late, buyer, "The seller never answered.")
    db.session.commit()
    return buyer, staff, running.id, late.id


def _rendered_documents(discussion_id: int) -> list[DecisionDocument]:
    documents = list(db.session.scalars(select(DecisionDocument).where(
        DecisionDocument.object_type == "discussions",
        DecisionDocument.object_id == discussion_id)))
    return documents if documents and all(d.rendered_at for d in documents) else []


@pytest.fixture
def drafts_removed(committed):
    """The committed fixture keeps the policy versions the migrations seeded; a draft goes."""
    yield
    db.session.rollback()
    db.session.execute(delete(PolicyVersion).where(PolicyVersion.drafted_by_id.is_not(None)))
    db.session.commit()


def _impact_of_a_draft(staff) -> int:
    """claims.replay_impact: queued by an admin asking for a draft's impact on the claims."""
    today = clock.to_local(clock.now()).date()
    draft = versions.draft_version(staff, {
        "code": "WORKER-1", "effective_from": clock.now() + timedelta(days=30),
        "covered_payment_methods": ["platform_payments"],
        "shipping_covered_for": ["platform_payments"], "shipping_cap_minor": 10_000,
        "total_cap_minor": 2_000_000, "filing_window_days": 90,
        "documents_required": {"not_received": ["police_report"]},
        "seller_answer_hours": 48, "appeal_window_days": 30})
    run = impact.request_impact(draft, staff, Period(today - timedelta(days=364), today))
    db.session.commit()
    return run.id


@pytest.mark.postgres_only
def test_every_task_the_code_enqueues_runs_on_a_real_worker(committed, producer_on_broker,
                                                            drafts_removed):
    worker_log = producer_on_broker
    buyer, staff, running_id, escalated_id = _committed_case()
    respond_by = db.session.get(Discussion, running_id).respond_by

    # incidents.extend_deadlines: queued by resolving an incident.
    incident = incidents.declare(staff, title="Database outage", impact="Nothing loaded.",
                                 affected_services=["whole_site"],
                                 started_at=clock.now() - timedelta(hours=1))
    db.session.commit()
    incidents.resolve(db.session.get(Incident, incident.id), staff, ended_at=clock.now(),
                      body="Back to normal.")
    db.session.commit()
    # accounts.build_data_export: queued by asking for one's data.
    export_id = exports.request_export(buyer).id
    db.session.commit()
    # arbiter.render_document: queued by a verdict's decision documents.
    escalated = db.session.get(Discussion, escalated_id)
    disputes.take_case(escalated, staff)
    disputes.decide(escalated, staff, verdict=Verdict.BUYER_FAVOUR, amount=None,
                    rationale="The seller never answered and nothing was delivered.")
    db.session.commit()
    impact_run_id = _impact_of_a_draft(staff)

    wait_for(lambda: db.session.get(Discussion, running_id).respond_by > respond_by,
             worker_log)
    assert db.session.get(Discussion, running_id).respond_by == respond_by + timedelta(hours=24)
    wait_for(lambda: db.session.get(DataExport, export_id).state is ExportState.READY,
             worker_log)
    documents = wait_for(lambda: _rendered_documents(escalated_id), worker_log)
    assert all(document.size > 0 for document in documents)
    wait_for(lambda: db.session.get(ImpactRun, impact_run_id).state is ImpactRunState.DONE,
             worker_log)
    assert db.session.get(ImpactRun, impact_run_id).result["claims"] == 0

    # The periodic tasks, as beat sends them: the outbox's e-mails of all of the above.
    assert db.session.scalar(select(OutboxEmail.id).where(
        OutboxEmail.state == OutboxState.PENDING).limit(1)) is not None
    celery.send_task("arbiter.deliver_outbox")
    wait_for(lambda: db.session.scalar(select(OutboxEmail.id).where(
        OutboxEmail.state == OutboxState.PENDING).limit(1)) is None, worker_log)
    assert db.session.scalar(select(OutboxEmail.id).where(
        OutboxEmail.state == OutboxState.SENT).limit(1)) is not None
    # (arbiter.sweep on the worker: tests/background/test_sweeper_postgres.py)
    assert "unregistered" not in worker_log.read_text().lower()

