"""Protection claims in a data export and in account deletion.

The export holds the person's claims with their quote, documents, requests for documents,
decision and payout (claims.json, ``"role": "buyer"``), the claims on their sales as the
seller sees them, without the buyer's payout account, police report or documents
(``"role": "seller"``, with the seller's own answer), and the documents they uploaded
(evidence).

A deletion is refused while the person has a claim awaiting a decision, or handles one as
an advisor. It erases the payout account (IBAN) and the beneficiary name of claims that
can no longer pay (rejected, withdrawn, paid) or whose payout finance already has
(exported). An approved claim whose payout is still waiting for export keeps them: the
money is owed, and the transfer needs the account. The sweeper erases them once the payout
is exported (:func:`payout_details_due` / :func:`erase_payout_details`). Claims, their
documents, payouts and amounts are kept.
"""

from flask_babel import ngettext
from sqlalchemy import func, or_, select

from accounts.models import User
from accounts.personal_data import Archive, amount, register
from arbiter import audit
from arbiter.extensions import db
from arbiter.sweeper import register as register_sweep
from claims.models import Claim, ClaimDocument, Payout
from claims.states import AWAITING_APPROVAL_STATES, OPEN_STATES, TERMINAL_STATES, PayoutState

ERASED = ""  # an erased payout account or beneficiary name


def _document_path(document: ClaimDocument) -> str:
    return f"evidence/claim-{document.claim_id}-{document.id}-{document.filename}"


def export(archive: Archive) -> None:
    user = archive.user
    claims = db.session.scalars(
        select(Claim).where(Claim.buyer_id == user.id).order_by(Claim.submitted_at, Claim.id))
    result = []
    for claim in claims:
        payout = claim.payout
        result.append({
            "id": claim.id, "role": "buyer", "order": claim.order.external_id,
            "discussion_id": claim.discussion_id, "claim_type": claim.claim_type,
            "state": claim.state, "description": claim.description,
            "claimed_amount": amount(claim.claimed_amount),
            "police_report_reference": claim.police_report_reference,
            "payout_account": claim.payout_account or None,
            "submitted_at": claim.submitted_at, "policy_version": claim.policy_version.code,
            "quote": {"item_amount": amount(claim.item_amount),
                      "shipping_amount": amount(claim.shipping_amount),
                      "max_total": amount(claim.max_total),
                      "cap_applied": claim.cap_applied, "clauses": claim.clauses},
            "currency": claim.order.currency,
            "approved_amount": amount(claim.approved_amount),
            "rejection_reason": claim.rejection_reason, "rationale": claim.rationale,
            "decided_at": claim.decided_at, "withdrawn_at": claim.withdrawn_at,
            "paid_at": claim.paid_at,
            "documents": [{
                "kind": d.kind, "filename": d.filename, "content_type": d.content_type,
                "size": d.size, "sha256": d.sha256, "uploaded_at": d.created_at,
                "file": _document_path(d) if d.uploaded_by_id == user.id else None,
            } for d in claim.documents],
            "document_requests": [{"what": r.what, "requested_at": r.requested_at,
                                   "due_at": r.due_at, "fulfilled_at": r.answered_at}
                                  for r in claim.document_requests],
            "payout": None if payout is None else {
                "amount": amount(payout.amount), "currency": payout.currency,
                "state": payout.state, "beneficiary_name": payout.beneficiary_name or None,
                "account": payout.account or None, "paid_at": payout.paid_at},
            "seller_answer": _seller_answer(claim),
        })
    on_sales = db.session.scalars(
        select(Claim).where(Claim.seller_id == user.id).order_by(Claim.submitted_at, Claim.id))
    for claim in on_sales:
        # What the seller saw of the claim: never the buyer's account, police report or
        # documents (claims.queries.SellersView).
        result.append({
            "id": claim.id, "role": "seller", "order": claim.order.external_id,
            "discussion_id": claim.discussion_id, "claim_type": claim.claim_type,
            "state": claim.state, "description": claim.description,
            "submitted_at": claim.submitted_at, "policy_version": claim.policy_version.code,
            "currency": claim.order.currency,
            "approved_amount": amount(claim.approved_amount),
            "rejection_reason": claim.rejection_reason, "rationale": claim.rationale,
            "decided_at": claim.decided_at, "withdrawn_at": claim.withdrawn_at,
            "paid_at": claim.paid_at,
            "seller_answer": _seller_answer(claim),
            "documents": [{
                "kind": d.kind, "filename": d.filename, "content_type": d.content_type,
                "size": d.size, "sha256": d.sha256, "uploaded_at": d.created_at,
                "file": _document_path(d),
            } for d in claim.documents if d.uploaded_by_id == user.id],
        })
    archive.add("claims.json", result)
    archive.own("claims", "claim", select(Claim.id).where(
        or_(Claim.buyer_id == user.id, Claim.seller_id == user.id)))
    documents = db.session.scalars(
        select(ClaimDocument).where(ClaimDocument.uploaded_by_id == user.id)
        .order_by(ClaimDocument.id))
    for d in documents:
        archive.add_evidence({"where": "claim", "claim_id": d.claim_id, "kind": d.kind,
                              "filename": d.filename, "content_type": d.content_type,
                              "size": d.size, "sha256": d.sha256, "uploaded_at": d.created_at},
                             _document_path(d), d.storage_key)


def _seller_answer(claim: Claim) -> dict:
    return {"due_at": claim.seller_answer_due_at, "answered_at": claim.seller_answered_at,
            "statement": claim.seller_statement}


def blockers(user: User) -> list[str]:
    count = db.session.scalar(
        select(func.count(Claim.id)).where(Claim.state.in_(OPEN_STATES | AWAITING_APPROVAL_STATES),
                                           Claim.buyer_id == user.id)) or 0
    if not count:
        return []
    return [ngettext(
        "You have %(num)d protection claim awaiting a decision. Withdraw it or wait for "
        "the decision before deleting your account.",
        "You have %(num)d protection claims awaiting a decision. Withdraw them or wait for "
        "the decisions before deleting your account.", count)]


def assigned_cases(user: User) -> int:
    return db.session.scalar(
        select(func.count(Claim.id)).where(Claim.state.in_(OPEN_STATES | AWAITING_APPROVAL_STATES),
                                           Claim.assigned_staff_id == user.id)) or 0


def _erase(claim: Claim) -> None:
    claim.payout_account = ERASED
    for payout in claim.payouts:  # its own, an appeal's top-up, re-issues
        payout.account = ERASED
        payout.beneficiary_name = ERASED


def erase(user: User) -> dict[str, int]:
    kept = erased = 0
    for claim in db.session.scalars(select(Claim).where(Claim.buyer_id == user.id)):
        payout_pending = claim.payout is not None and claim.payout.state is PayoutState.PENDING
        if payout_pending:
            kept += 1
        elif claim.state in TERMINAL_STATES or claim.payout is not None:
            _erase(claim)
            erased += 1
    return {"payout_details_erased": erased, "payout_details_kept_until_export": kept}


def payout_details_due(now=None):
    """Claims of deleted accounts that still hold an IBAN they no longer need: the claim
    can no longer pay, or its payout is already exported (the sweeper's job)."""
    deleted = select(User.id).where(User.deleted_at.is_not(None))
    handed_over = select(Payout.claim_id).where(Payout.state != PayoutState.PENDING)
    return (select(Claim)
            .where(Claim.buyer_id.in_(deleted), Claim.payout_account != ERASED,
                   or_(Claim.state.in_(TERMINAL_STATES), Claim.id.in_(handed_over)))
            .order_by(Claim.id))


def erase_payout_details(claim: Claim, now=None) -> None:
    """Sweeper: the payout of a deleted account's claim was exported; erase its IBAN."""
    _erase(claim)
    audit.record("user.payout_details_erased", object_type="users", object_id=claim.buyer_id,
                 after={"claim_id": claim.id})


register("claims", export=export, erase=erase, blockers=blockers,
         assigned_cases=assigned_cases)
# Deleted accounts keep a claim's IBAN only while its payout waits for export.
register_sweep("account.erase_payout_details", payout_details_due, erase_payout_details)
