"""Read side of appeals: the evidence a reviewer must read, the queue, a case's appeals.

Nothing here changes state.
"""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, tuple_
from sqlalchemy.orm import selectinload

from appeals.models import Appeal, AppealFile
from appeals.states import OPEN_STATES, AppealState, Subject
from arbiter.extensions import db
from arbiter.pagination import Page, page_of, parse_cursor
from claims.models import ClaimDocument
from disputes.models import Attachment
from orders.models import not_a_party


@dataclass(frozen=True)
class EvidenceItem:
    """One piece of the case's evidence on the reviewer's checklist."""

    key: str          # e.g. "attachment:12"; the read marks refer to it
    kind: str         # decision, statement, answer, attachment, claim_document, appeal_file
    obj: object | None = None


def evidence(appeal: Appeal) -> list[EvidenceItem]:
    """Everything the reviewer must have read before deciding: the decision under appeal,
    both statements, every file of the case's discussions and claims, the appeal's files.
    A statement or a file that arrives later joins the list (and is unread)."""
    items = [EvidenceItem("decision", "decision"), EvidenceItem("statement", "statement")]
    if appeal.respondent_answered_at is not None:
        items.append(EvidenceItem("answer", "answer"))
    attachments = db.session.scalars(
        select(Attachment).where(Attachment.discussion_id.in_(_case_discussions(appeal)))
        .order_by(Attachment.id))
    items += [EvidenceItem(f"attachment:{a.id}", "attachment", a) for a in attachments]
    documents = db.session.scalars(
        select(ClaimDocument).where(ClaimDocument.claim_id.in_(_case_claims(appeal)))
        .order_by(ClaimDocument.id))
    items += [EvidenceItem(f"claim_document:{d.id}", "claim_document", d) for d in documents]
    files = db.session.scalars(
        select(AppealFile).where(AppealFile.appeal_id == appeal.id).order_by(AppealFile.id))
    items += [EvidenceItem(f"appeal_file:{f.id}", "appeal_file", f) for f in files]
    return items


def _case_discussions(appeal: Appeal):
    from disputes.models import Discussion

    return select(Discussion.id).where(Discussion.order_id == appeal.order_id)


def _case_claims(appeal: Appeal):
    from claims.models import Claim

    return select(Claim.id).where(Claim.order_id == appeal.order_id)


def evidence_keys(appeal: Appeal) -> set[str]:
    return {item.key for item in evidence(appeal)}


def unread_items(appeal: Appeal) -> list[str]:
    read = {r.item for r in appeal.reads}
    return [item.key for item in evidence(appeal) if item.key not in read]


def queue(viewer, *, now: datetime) -> list[Appeal]:
    """The appeals queue, oldest first: what waits for a reviewer and what is under review.
    A reviewer never sees the appeals of decisions they made or cases they are a party to
    as theirs to take (they are listed, marked, for transparency)."""
    return list(db.session.scalars(
        select(Appeal).where(Appeal.state.in_(sorted(s.value for s in OPEN_STATES)))
        .options(selectinload(Appeal.reviewer), selectinload(Appeal.order))
        .order_by(Appeal.filed_at, Appeal.id)))


def files_seen_by(appeal: Appeal, user) -> list[AppealFile]:
    """The appeal's files ``user`` may see: staff and, in a verdict's appeal, both parties
    every file (as in the discussion); in a claim's, the seller never the buyer's (as with
    the claim's own documents)."""
    from appeals.states import Appellant

    party = user.id in (appeal.buyer_id, appeal.seller_id)
    if not party or appeal.subject is Subject.VERDICT or user.id == appeal.buyer_id:
        return list(appeal.files)
    return [f for f in appeal.files if f.party is Appellant.SELLER]


def queue_page(viewer, *, cursor: str | None = None, limit: int = 20) -> Page:
    """The appeals queue (see :func:`queue`) one page at a time, for the API."""
    statement = (select(Appeal).where(Appeal.state.in_(sorted(s.value for s in OPEN_STATES)))
                 .options(selectinload(Appeal.files), selectinload(Appeal.reads),
                          selectinload(Appeal.order))
                 .order_by(Appeal.filed_at, Appeal.id))
    after = parse_cursor(cursor)
    if after:
        statement = statement.where(tuple_(Appeal.filed_at, Appeal.id) > after)
    return page_of(statement, "filed_at", limit)


def parties_appeals(user, *, cursor: str | None = None, limit: int = 20) -> Page:
    """The appeals on the user's purchases and sales (filed by them or by the other party),
    newest first."""
    statement = (select(Appeal).where(or_(Appeal.buyer_id == user.id,
                                          Appeal.seller_id == user.id))
                 .options(selectinload(Appeal.files), selectinload(Appeal.order))
                 .order_by(Appeal.filed_at.desc(), Appeal.id.desc()))
    after = parse_cursor(cursor)
    if after:
        statement = statement.where(tuple_(Appeal.filed_at, Appeal.id) < after)
    return page_of(statement, "filed_at", limit)


def appeal_page(appeal_id: int) -> Appeal | None:
    """One appeal with what its page and the API show."""
    return db.session.scalar(
        select(Appeal).where(Appeal.id == appeal_id)
        .options(selectinload(Appeal.order), selectinload(Appeal.files),
                 selectinload(Appeal.reads)))


def reviewable(viewer):
    """SQL: appeals ``viewer`` may review (not their own decision, not their own case)."""
    return (Appeal.original_decider_id != viewer.id) & not_a_party(viewer.id, Appeal)


def for_order(order_id: int) -> list[Appeal]:
    return list(db.session.scalars(
        select(Appeal).where(Appeal.order_id == order_id).order_by(Appeal.id)))


def of_decision(subject: Subject, object_id: int) -> list[Appeal]:
    column = Appeal.discussion_id if subject is Subject.VERDICT else Appeal.claim_id
    return list(db.session.scalars(select(Appeal).where(column == object_id)
                                   .order_by(Appeal.id)))


def decided_of(subject: Subject, object_id: int) -> list[Appeal]:
    return [a for a in of_decision(subject, object_id)
            if a.state in (AppealState.UPHELD, AppealState.VARIED, AppealState.OVERTURNED)]
