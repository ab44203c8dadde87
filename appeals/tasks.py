"""Time-driven appeal work for the sweeper: a review past its service level (14 days).

An appeal taken by a reviewer who has not decided it by ``review_due_at`` is reported to
that reviewer (in the app and by e-mail); an appeal nobody took is reported to nobody in
particular (the queue marks every overdue appeal for the whole team), but it is recorded
as overdue in the audit log all the same, so the lapse is on the case's record.

Appeals have no marker column for this: the audit entry ``appeal.review_overdue`` is the
marker. An entry made at or after the appeal's current ``review_due_at`` means it was
reported; an incident that moves ``review_due_at`` later makes it reportable again once
the new time passes. Exactly once under two sweepers at once: the sweeper locks the due
appeals ``FOR UPDATE SKIP LOCKED``, and the one that got an appeal's lock only after the
other committed checks the marker again in a statement of its own (which sees the other's
entry) and does nothing.
"""

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import String, cast, exists, select

from appeals.models import Appeal
from appeals.states import OPEN_STATES
from arbiter import audit
from arbiter.audit import AuditEntry
from arbiter.extensions import db
from arbiter.notifications import notify, register_texts
from arbiter.sweeper import register

OVERDUE = "appeal.review_overdue"

register_texts({
    OVERDUE: _l("Appeal #%(id)s you are reviewing is past its review deadline "
                "(%(review_due_at)s): please decide it."),
})


def _reported():
    """SQL: the appeal's current review deadline was already reported as passed."""
    return exists().where(AuditEntry.action == OVERDUE, AuditEntry.object_type == "appeals",
                          AuditEntry.object_id == cast(Appeal.id, String(64)),
                          AuditEntry.at >= Appeal.review_due_at)


def overdue_reviews(now: datetime):
    return (select(Appeal)
            .where(Appeal.state.in_(sorted(state.value for state in OPEN_STATES)),
                   Appeal.review_due_at <= now, ~_reported())
            .order_by(Appeal.review_due_at, Appeal.id))


def report_overdue(appeal: Appeal, now: datetime) -> None:
    if not appeal.is_open or db.session.scalar(
            select(_reported()).where(Appeal.id == appeal.id)):
        return  # decided meanwhile, or another sweeper reported it first
    audit.record(OVERDUE, appeal, after={"review_due_at": appeal.review_due_at,
                                         "reviewer_id": appeal.reviewer_id})
    if appeal.reviewer is not None:
        notify(appeal.reviewer, OVERDUE, appeal,
               review_due_at=appeal.review_due_at.isoformat())


register(OVERDUE, overdue_reviews, report_overdue)
