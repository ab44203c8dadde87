"""The deadlines of discussions that a platform incident extends (registered with
:mod:`incidents.extensions`): the seller's answer and the escalation time of a discussion
whose parties still talk, and staff's information requests."""

from datetime import datetime

from sqlalchemy import Select, and_, or_, select

from disputes import policy
from disputes.models import Discussion, InformationRequest
from disputes.states import OPEN_STATES, DiscussionState
from incidents import extensions
from incidents import policy as incidents_policy
from incidents.extensions import ExtendableDeadlines, Window, not_extended
from incidents.states import DeadlineKind

# Discussions: both 24 h deadlines, while the buyer and the seller still talk. An
# escalated or ended discussion has no running deadline left to protect. The escalation
# time is a right that opens (incidents.policy.Direction): once reached it is never moved.
_DISCUSSION_COLUMNS = {DeadlineKind.DISCUSSION_RESPOND_BY: "respond_by",
                       DeadlineKind.DISCUSSION_ESCALATION: "escalation_available_at"}
_TALKING = (DiscussionState.AWAITING_SELLER, DiscussionState.IN_PROGRESS)


def _discussion_candidates(window: Window, kinds: list[DeadlineKind]) -> Select:
    return select(Discussion).where(
        Discussion.state.in_(_TALKING), Discussion.opened_at < window.end,
        or_(*[and_(getattr(Discussion, _DISCUSSION_COLUMNS[kind])
                   > incidents_policy.extendable_from(kind, window.start, window.now),
                   not_extended(window, kind, Discussion.id)) for kind in kinds]))


def _discussion_deadlines(discussions: list[Discussion], kinds: list[DeadlineKind]) -> dict:
    return {d.id: {kind: (d.opened_at, getattr(d, _DISCUSSION_COLUMNS[kind]))
                   for kind in kinds}
            for d in discussions}


def _apply_to_discussion(discussion: Discussion, moved: list[tuple], now: datetime):
    before, after = {}, {}
    for kind, due_before, due_after in moved:
        column = _DISCUSSION_COLUMNS[kind]
        before[column], after[column] = due_before, due_after
        setattr(discussion, column, due_after)
    if "respond_by" in after and discussion.seller_first_response_at is not None:
        # A seller who answered late because of the incident answered on time after all.
        before["seller_answered_on_time"] = discussion.seller_answered_on_time
        discussion.seller_answered_on_time = policy.answered_on_time(
            discussion.respond_by, discussion.seller_first_response_at)
        after["seller_answered_on_time"] = discussion.seller_answered_on_time
    # The escalation time only moves while it is still ahead (incidents.policy.may_extend),
    # so the buyer was never told it is open and nothing needs telling again.
    return before, after


def _information_request_candidates(window: Window, kinds: list[DeadlineKind]) -> Select:
    return (select(InformationRequest)
            .join(Discussion, Discussion.id == InformationRequest.discussion_id)
            .where(InformationRequest.awaited(),
                   Discussion.state.in_(OPEN_STATES),
                   InformationRequest.requested_at < window.end,
                   InformationRequest.due_at > window.start,
                   not_extended(window, DeadlineKind.INFORMATION_REQUEST,
                                 InformationRequest.id)))


extensions.register(ExtendableDeadlines(
    Discussion, tuple(_DISCUSSION_COLUMNS), "discussion.deadlines_extended",
    _discussion_candidates, _discussion_deadlines, _apply_to_discussion))
extensions.register(ExtendableDeadlines(
    InformationRequest, (DeadlineKind.INFORMATION_REQUEST,),
    "information_request.deadline_extended", _information_request_candidates,
    extensions.request_deadlines, extensions.move_request_deadline))
