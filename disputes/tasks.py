"""Time-driven discussion work for the sweeper: reminders, notices, inactivity.

Reminders and notices change no state, so they leave no audit entry: the notification
rows are their record. Closing for inactivity is a transition and is audited.
"""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from arbiter.notifications import notify
from arbiter.sweeper import register
from disputes import policy
from disputes.models import Discussion, InformationRequest
from disputes.services import close_for_inactivity
from disputes.states import DiscussionState

_CAN_ESCALATE = (DiscussionState.AWAITING_SELLER, DiscussionState.IN_PROGRESS)


def escalation_notices_due(now: datetime):
    return (select(Discussion).options(selectinload(Discussion.buyer))
            .where(Discussion.escalation_notice_sent_at.is_(None),
                   Discussion.escalation_available_at <= now,
                   Discussion.state.in_(_CAN_ESCALATE))
            .order_by(Discussion.escalation_available_at, Discussion.id))


def send_escalation_notice(discussion: Discussion, now: datetime) -> None:
    discussion.escalation_notice_sent_at = now
    notify(discussion.buyer, "discussion.escalation_available", discussion)


def seller_reminders_due(now: datetime):
    return (select(Discussion).options(selectinload(Discussion.seller))
            .where(Discussion.seller_reminded_at.is_(None),
                   Discussion.state == DiscussionState.AWAITING_SELLER,
                   Discussion.respond_by <= now + policy.SELLER_REMINDER_BEFORE,
                   Discussion.respond_by > now)
            .order_by(Discussion.respond_by, Discussion.id))


def remind_seller(discussion: Discussion, now: datetime) -> None:
    discussion.seller_reminded_at = now
    notify(discussion.seller, "discussion.seller_reminder", discussion)


def overdue_information_requests(now: datetime):
    return (select(InformationRequest)
            # At due_at already, as disputes.policy's deadlines (inclusive).
            .where(InformationRequest.unnoticed_overdue(now, inclusive=True))
            .order_by(InformationRequest.due_at, InformationRequest.id))


def report_overdue_request(request: InformationRequest, now: datetime) -> None:
    request.overdue_notified_at = now
    discussion = request.discussion
    staff = discussion.assigned_staff
    if staff is not None:
        notify(staff, "discussion.information_overdue", discussion, party=request.party.value)


def inactive_discussions(now: datetime):
    return (select(Discussion)
            .where(Discussion.state == DiscussionState.IN_PROGRESS,
                   Discussion.last_activity_at <= now - policy.INACTIVITY_CLOSE_AFTER)
            .order_by(Discussion.last_activity_at, Discussion.id))


def close_inactive(discussion: Discussion, now: datetime) -> None:
    close_for_inactivity(discussion)


register("discussion.escalation_notice", escalation_notices_due, send_escalation_notice)
register("discussion.seller_reminder", seller_reminders_due, remind_seller)
register("discussion.information_overdue", overdue_information_requests,
         report_overdue_request)
register("discussion.close_inactive", inactive_discussions, close_inactive)
