"""Appeals in a data export and in account deletion.

The export holds the appeals on the person's purchases and sales, filed by them
(``"your_role": "appellant"``) or by the other party (``"respondent"``): both statements
(the appeal and its answer, as both parties read them on the appeal), the decision with
its rationale, and the files the person may see on the appeal, their own copied into the
archive (evidence). The reviewer is not named. In the appeal of a claim the seller's
export never lists the buyer's files (as with the claim's documents).

A deletion keeps appeals (they are records of a decision about money). It is refused
while an appeal the person filed awaits its decision; an advisor's count of assigned
cases includes the appeals they review.
"""

from flask_babel import ngettext
from sqlalchemy import func, or_, select

from accounts.models import User
from accounts.personal_data import Archive, amount, register
from appeals.models import Appeal, AppealFile
from appeals.queries import files_seen_by
from appeals.states import OPEN_STATES, Appellant
from arbiter.extensions import db


def _file_path(file: AppealFile) -> str:
    return f"evidence/appeal-{file.appeal_id}-{file.id}-{file.filename}"


def _party(user: User):
    return or_(Appeal.buyer_id == user.id, Appeal.seller_id == user.id)


def export(archive: Archive) -> None:
    user = archive.user
    appeals = db.session.scalars(
        select(Appeal).where(_party(user)).order_by(Appeal.filed_at, Appeal.id))
    result = []
    for appeal in appeals:
        side = Appellant.BUYER if appeal.buyer_id == user.id else Appellant.SELLER
        result.append({
            "id": appeal.id, "order": appeal.order.external_id,
            "your_side": side,
            "your_role": "appellant" if appeal.appellant is side else "respondent",
            "appellant": appeal.appellant, "subject": appeal.subject,
            "discussion_id": appeal.discussion_id, "claim_id": appeal.claim_id,
            "state": appeal.state, "statement": appeal.statement,
            "filed_at": appeal.filed_at, "answer_due_at": appeal.answer_due_at,
            "answer": {"statement": appeal.respondent_statement,
                       "answered_at": appeal.respondent_answered_at},
            "review_due_at": appeal.review_due_at, "currency": appeal.order.currency,
            "original_amount": amount(appeal.original_amount),
            "new_amount": amount(appeal.new_amount), "rationale": appeal.rationale,
            "decided_at": appeal.decided_at,
            "files": [{
                "party": file.party, "filename": file.filename,
                "content_type": file.content_type, "size": file.size, "sha256": file.sha256,
                "uploaded_at": file.created_at,
                "file": _file_path(file) if file.uploaded_by_id == user.id else None,
            } for file in files_seen_by(appeal, user)],
        })
    archive.add("appeals.json", result)
    archive.own("appeals", "appeal", select(Appeal.id).where(_party(user)))
    files = db.session.scalars(
        select(AppealFile).where(AppealFile.uploaded_by_id == user.id).order_by(AppealFile.id))
    for file in files:
        archive.add_evidence({"where": "appeal", "appeal_id": file.appeal_id,
                              "filename": file.filename, "content_type": file.content_type,
                              "size": file.size, "sha256": file.sha256,
                              "uploaded_at": file.created_at},
                             _file_path(file), file.storage_key)


def _open(*conditions) -> int:
    return db.session.scalar(select(func.count(Appeal.id)).where(
        Appeal.state.in_(sorted(s.value for s in OPEN_STATES)), *conditions)) or 0


def blockers(user: User) -> list[str]:
    count = _open(or_((Appeal.appellant == Appellant.BUYER) & (Appeal.buyer_id == user.id),
                      (Appeal.appellant == Appellant.SELLER) & (Appeal.seller_id == user.id)))
    if not count:
        return []
    return [ngettext(
        "You have %(num)d appeal awaiting a decision. Wait for the decision before deleting "
        "your account.",
        "You have %(num)d appeals awaiting a decision. Wait for the decisions before "
        "deleting your account.", count)]


def assigned_cases(user: User) -> int:
    return _open(Appeal.reviewer_id == user.id)


register("appeals", export=export, blockers=blockers, assigned_cases=assigned_cases)
