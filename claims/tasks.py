"""Time-driven claim work for the sweeper."""

from datetime import datetime

from sqlalchemy import select

from arbiter.notifications import notify
from arbiter.sweeper import register
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
