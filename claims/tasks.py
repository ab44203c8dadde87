"""Background claim work: impact replays of policy versions, and the sweeper's jobs."""

from datetime import datetime

from sqlalchemy import select

from arbiter.notifications import notify
from arbiter.sweeper import register
from arbiter.tasks import celery
from claims import impact
from claims.models import Claim, DocumentRequest
from claims.states import ClaimState


def overdue_document_requests(now: datetime):
    return (select(DocumentRequest)
            .join(Claim, Claim.id == DocumentRequest.claim_id)
            # Strictly after due_at, as claims.policy.deadline_passed.
            .where(DocumentRequest.unnoticed_overdue(now, inclusive=False),
                   Claim.state == ClaimState.AWAITING_DOCUMENTS)
            .order_by(DocumentRequest.due_at, DocumentRequest.id))


def mark_ready_for_rejection(request: DocumentRequest, now: datetime) -> None:
    """The documents did not come: the claim moves to the queue for rejection."""
    request.overdue_notified_at = now
    staff = request.claim.assigned_staff
    if staff is not None:
        notify(staff, "claim.documents_overdue", request.claim)


register("claim.documents_overdue", overdue_document_requests, mark_ready_for_rejection)


@celery.task(name="claims.replay_impact")
def replay_impact(run_id: int) -> str | None:
    """Replay a period's claims under a policy version (queued after the request's commit)."""
    run = impact.run(run_id)
    return run.state.value if run is not None else None


# A replay still unfinished an hour after it was asked for lost its worker: it fails, so the
# admin can ask again.
register("impact_run.give_up", impact.stuck_runs, impact.give_up)
