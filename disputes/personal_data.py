"""Discussions in a data export and in account deletion.

The export holds the discussions in which the person is the buyer or the seller, with
every message and offer (discussions.json), and the files they uploaded (evidence). A
deletion keeps discussions, their messages and evidence; it is refused while the person
takes part in an open discussion, or handles one as an advisor.
"""

from flask_babel import ngettext
from sqlalchemy import func, or_, select

from accounts.models import User
from accounts.personal_data import Archive, amount, register
from arbiter.extensions import db
from disputes.models import Attachment, Discussion
from disputes.states import OPEN_STATES, Role


def _party(user: User):
    return or_(Discussion.buyer_id == user.id, Discussion.seller_id == user.id)


def _author(author_role: Role, author_id: int | None, user: User) -> str:
    if author_role is Role.STAFF:
        return "platform"
    if author_id is None:
        return "system"
    if author_id == user.id:
        return "you"
    return author_role.value


def _attachment_path(attachment: Attachment) -> str:
    return f"evidence/discussion-{attachment.discussion_id}-{attachment.id}-{attachment.filename}"


def export(archive: Archive) -> None:
    user = archive.user
    discussions = db.session.scalars(
        select(Discussion).where(_party(user)).order_by(Discussion.opened_at, Discussion.id))
    result = []
    for discussion in discussions:
        buying = discussion.buyer_id == user.id
        messages = []
        for entry in discussion.entries:
            messages.append({
                "id": entry.id, "kind": entry.kind,
                "author": _author(entry.author_role, entry.author_id, user),
                "body": entry.body, "details": entry.data, "written_at": entry.created_at,
                "attachments": [{
                    "filename": a.filename, "content_type": a.content_type, "size": a.size,
                    "sha256": a.sha256,
                    "uploaded_by": "you" if a.uploaded_by_id == user.id else "someone else",
                    "file": _attachment_path(a) if a.uploaded_by_id == user.id else None,
                } for a in entry.attachments],
            })
        result.append({
            "id": discussion.id, "order": discussion.order.external_id,
            "your_role": "buyer" if buying else "seller",
            "other_party": (discussion.seller if buying else discussion.buyer).name,
            "state": discussion.state, "reason": discussion.reason,
            "expected_outcome": discussion.expected_outcome,
            "description": discussion.description, "opened_at": discussion.opened_at,
            "respond_by": discussion.respond_by,
            "seller_first_response_at": discussion.seller_first_response_at,
            "escalated_at": discussion.escalated_at,
            "escalation_reason": discussion.escalation_reason,
            "verdict": discussion.verdict, "refund_amount": amount(discussion.refund_amount),
            "rationale": discussion.rationale, "decided_at": discussion.decided_at,
            "resolved_at": discussion.resolved_at, "closed_at": discussion.closed_at,
            "currency": discussion.order.currency,
            "messages": messages,
            "offers": [{"id": o.id, "kind": o.kind, "amount": amount(o.amount),
                        "state": o.state, "made_at": o.created_at,
                        "answered_at": o.answered_at} for o in discussion.offers],
        })
    archive.add("discussions.json", result)
    archive.own("discussions", "discussion", select(Discussion.id).where(_party(user)))
    attachments = db.session.scalars(
        select(Attachment).where(Attachment.uploaded_by_id == user.id).order_by(Attachment.id))
    for a in attachments:
        archive.add_evidence({"where": "discussion", "discussion_id": a.discussion_id,
                              "filename": a.filename, "content_type": a.content_type,
                              "size": a.size, "sha256": a.sha256, "uploaded_at": a.created_at},
                             _attachment_path(a), a.storage_key)


def blockers(user: User) -> list[str]:
    count = db.session.scalar(select(func.count(Discussion.id)).where(
        Discussion.state.in_(OPEN_STATES), _party(user))) or 0
    if not count:
        return []
    return [ngettext(
        "You take part in %(num)d open discussion. Close or withdraw it, or wait until "
        "it ends, before deleting your account.",
        "You take part in %(num)d open discussions. Close or withdraw them, or wait until "
        "they end, before deleting your account.", count)]


def assigned_cases(user: User) -> int:
    return db.session.scalar(select(func.count(Discussion.id)).where(
        Discussion.state.in_(OPEN_STATES), Discussion.assigned_staff_id == user.id)) or 0


register("disputes", export=export, blockers=blockers, assigned_cases=assigned_cases)
