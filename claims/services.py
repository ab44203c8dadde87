"""Claims services: policy quotes, and every change to a claim, one function per transition.

Each changing function checks the rules, changes the rows, writes one audit entry per
transition and notifies the buyer (in-app + outbox), all in the caller's transaction. The
caller commits once. Forbidden steps raise TransitionNotAllowed (409); staff acting on a claim
they are a party to raise ConflictOfInterest (403); bad input raises ValidationFailed (422);
someone else's claim or order raises NotFound (404).
"""

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from blinker import signal
from flask import current_app
from flask_babel import format_datetime, get_locale
from flask_babel import gettext as _
from sqlalchemy import exists, func, select
from sqlalchemy.orm import aliased

from accounts.models import User
from accounts.roles import Role as StaffRole
from appeals import services as appeals
from arbiter import audit, clock, documents, handover
from arbiter.db import add_unless_taken, locked
from arbiter.documents import DecisionDocument, DecisionKind
from arbiter.errors import (
    AmountNotConfirmed,
    Checks,
    ConflictOfInterest,
    DomainError,
    NotFound,
    TransitionNotAllowed,
    ValidationFailed,
)
from arbiter.extensions import db
from arbiter.files import CheckedUpload, Upload, check_upload, check_uploads, store
from arbiter.money import format_money
from arbiter.notifications import notify
from arbiter.party_requests import close_awaited
from arbiter.validation import checked_text
from claims import banking, policy
from claims import documents as claim_documents
from claims import notifications as _notification_texts  # noqa: F401 - registers texts
from claims.models import Claim, ClaimDocument, DocumentRequest, Payout, PayoutBatch, PolicyVersion
from claims.states import (
    AWAITING_APPROVAL_STATES,
    CONFIRM_ACTIONS,
    DECISION_ACTIONS,
    EXCLUSIVE_STATES,
    MACHINE,
    OPEN_STATES,
    PAYABLE_STATES,
    ClaimState,
    ClaimType,
    Decision,
    DocumentKind,
    PayoutState,
    RejectionReason,
    require,
)
from disputes import services as discussions
from disputes.models import Discussion
from disputes.states import OPEN_STATES as OPEN_DISCUSSION_STATES
from incidents.queries import filing_window_extension
from orders.models import Order, not_a_party
from orders.policy import conflicted
from orders.services import require_impartial
from orders.states import PAYMENT_METHOD_LABELS, PaymentMethod
from settlements import services as ledger
from settlements.models import Settlement
from settlements.states import SettlementKind, SettlementState, Source

# Connected by the decision-documents package to render the decision's PDF.
claim_decided = signal("claim-decided")

AUDITED = ("state", "assigned_staff_id", "approved_amount", "rejection_reason",
           "decided_by_id")
# What the four-eyes steps record besides (the approval trail on the claim page reads it).
APPROVAL_AUDITED = (*AUDITED, "pending_decision", "requires_second_approval",
                    "first_approver_id", "second_approver_id", "buyer_cap_lowered_from",
                    "sent_back_reason")
# What a claim's seller is told when staff decide it (in-app and e-mail).
SELLER_DECISION_KINDS = {ClaimState.APPROVED: "claim.seller_approved",
                         ClaimState.PARTIALLY_APPROVED: "claim.seller_partially_approved",
                         ClaimState.REJECTED: "claim.seller_rejected"}
# Quote reasons that belong to the order, whatever the claim type: they refuse filing
# outright. The claimed-amount reasons are about what the buyer typed (422 instead).
ORDER_LEVEL_REASONS = frozenset({policy.Reason.NO_POLICY_IN_FORCE,
                                 policy.Reason.PAYMENT_METHOD_NOT_COVERED,
                                 policy.Reason.FILING_WINDOW_EXPIRED})


class ClaimAlreadyOpen(TransitionNotAllowed):
    """The order already has a claim that is open or compensates it (409, with a link)."""

    code = "claim_already_open"

    def __init__(self, existing: Claim):
        if existing.state in OPEN_STATES | AWAITING_APPROVAL_STATES:
            message = _("This order already has an open protection claim (#%(id)s).",
                        id=existing.id)
        else:
            message = _("Protection claim #%(id)s already compensates this order.",
                        id=existing.id)
        super().__init__(message, fields={"claim_id": [str(existing.id)]})
        self.existing = existing


class FilingNotAllowed(TransitionNotAllowed):
    """The rules do not allow a claim on this order now; ``code`` says which one."""


class ClaimTaken(TransitionNotAllowed):
    code = "claim_taken"


class SellerAnswerPending(TransitionNotAllowed):
    """Staff decide only after the seller answered or their window closed (409)."""

    code = "seller_answer_pending"

    def __init__(self, claim: Claim):
        super().__init__(
            _("The seller may answer this claim until %(when)s. Decide once they answer or "
              "that time has passed.", when=format_datetime(claim.seller_answer_due_at,
                                                            "short")),
            fields={"seller_answer_due_at": [claim.seller_answer_due_at.isoformat()]})


@dataclass(frozen=True)
class FilingRefusal:
    """Why the buyer cannot file a claim on an order, in plain words."""

    code: str
    message: str
    existing: Claim | None = None
    due_at: datetime | None = None
    settlement_id: int | None = None
    rejected_claim_id: int | None = None  # appeal its rejection instead of filing again
    available_at: datetime | None = None  # discussion_too_recent: a claim is possible from

    def error(self) -> TransitionNotAllowed:
        if self.existing is not None:
            return ClaimAlreadyOpen(self.existing)
        fields = {}
        if self.due_at is not None:
            fields = {"due_at": [self.due_at.isoformat()],
                      "settlement_id": [str(self.settlement_id)]}
        return FilingNotAllowed(self.message, code=self.code, fields=fields)


# --- read side: policy versions and quotes ------------------------------------------------


def policy_versions() -> list[policy.PolicyRules]:
    """Every published policy version (in force, past or scheduled) as pure rules, newest
    first; drafts and withdrawn versions judge nothing."""
    rows = db.session.scalars(select(PolicyVersion).where(PolicyVersion.judging())
                              .order_by(PolicyVersion.effective_from.desc()))
    return [row.to_rules() for row in rows]


def quote_for(
    *,
    item_price: int,
    shipping_cost: int,
    payment_method: PaymentMethod,
    claim_type: ClaimType,
    paid_at: datetime,
    claimed_amount: int | None = None,
    now: datetime | None = None,
    extended_by: timedelta = policy.NO_EXTENSION,
    version: str | None = None,
) -> policy.Quote:
    """The quote under the version in force at ``paid_at`` (or under the published version
    ``version`` names), as of ``now`` (default: now), with the filing window
    ``extended_by`` platform incidents; an unknown ``version`` is NotFound (404)."""
    published = policy_versions()
    if version is not None:
        named = [rules for rules in published if rules.version == version]
        if not named:
            raise NotFound(_("No published version of the rules has this code."),
                           code="unknown_policy_version", fields={"version": ["unknown"]})
        # A what-if: the purchase judged as though this version had been in force when it
        # was paid (a scheduled version's date is after any real payment).
        rules = dataclasses.replace(named[0], effective_from=min(named[0].effective_from,
                                                                 clock.ensure_aware(paid_at)))
        return policy.quote(rules, item_price=item_price, shipping_cost=shipping_cost,
                            payment_method=payment_method, claim_type=claim_type,
                            claimed_amount=claimed_amount, paid_at=paid_at,
                            now=now or clock.now(), extended_by=extended_by)
    return policy.quote_in_force(
        published,
        item_price=item_price,
        shipping_cost=shipping_cost,
        payment_method=payment_method,
        claim_type=claim_type,
        claimed_amount=claimed_amount,
        paid_at=paid_at,
        now=now or clock.now(),
        extended_by=extended_by,
    )


def order_quote(order: Order, claim_type: ClaimType, claimed_amount: int | None = None,
                now: datetime | None = None,
                extended_by: timedelta | None = None) -> policy.Quote:
    """The quote for this order; its filing window includes the incident extensions."""
    if extended_by is None:
        extended_by = filing_window_extension(order.id)
    return quote_for(item_price=order.item_price, shipping_cost=order.shipping_cost,
                     payment_method=order.payment_method, claim_type=claim_type,
                     claimed_amount=claimed_amount, paid_at=order.paid_at, now=now,
                     extended_by=extended_by)


def quotes_for_order(order: Order) -> dict[ClaimType, policy.Quote]:
    """What each claim type can pay for this order ("what you can get").

    For ``other`` the buyer's documented loss is not known yet: the quote shows the most
    it can be (the item price).
    """
    now = clock.now()
    extended_by = filing_window_extension(order.id)
    return {claim_type: order_quote(order, claim_type,
                                    order.item_price if claim_type is ClaimType.OTHER else None,
                                    now, extended_by)
            for claim_type in ClaimType}


# --- filing ---------------------------------------------------------------------------------


def exclusive_claim_for(order: Order) -> Claim | None:
    """The order's claim that is open or compensates it, if any (there is at most one)."""
    return db.session.scalar(
        select(Claim).where(Claim.order_id == order.id, Claim.state.in_(EXCLUSIVE_STATES)))


def _discussion_check(order: Order, now: datetime) -> policy.DiscussionCheck:
    rows = db.session.execute(
        select(Discussion.id, Discussion.state, Discussion.escalation_available_at)
        .where(Discussion.order_id == order.id)).all()
    return policy.check_discussion(
        [policy.DiscussionFacts(row.id, row.state, row.escalation_available_at) for row in rows],
        now)


def _discussion_message(check: policy.DiscussionCheck) -> str:
    problem = policy.DiscussionProblem
    if check.problem is problem.NO_DISCUSSION:
        return _("Report the problem to the seller first: a claim needs a discussion about "
                 "this order, and the seller gets 24 hours to answer.")
    if check.problem is problem.DISCUSSION_RESOLVED:
        return _("The discussion about this order was resolved (you accepted a solution or "
                 "closed it as solved), so buyer protection does not apply.")
    return _("The seller has 24 hours to answer your report. You can file a claim from "
             "%(when)s.", when=format_datetime(check.available_at, "short"))


def _quote_message(reason: policy.Reason, order: Order, quote: policy.Quote) -> str:
    if reason is policy.Reason.PAYMENT_METHOD_NOT_COVERED:
        return _("Buyer protection does not cover orders paid with “%(method)s”.",
                 method=PAYMENT_METHOD_LABELS[order.payment_method])
    if reason is policy.Reason.FILING_WINDOW_EXPIRED:
        return _("The time for filing a claim on this order ended on %(when)s.",
                 when=format_datetime(quote.filing_deadline, "short"))
    if reason is policy.Reason.NO_POLICY_IN_FORCE:
        return _("No buyer protection rules were in force when this order was paid.")
    if reason is policy.Reason.CLAIMED_AMOUNT_REQUIRED:
        return _("Enter the documented loss you claim.")
    return _("The loss you claim cannot be more than the item price (%(price)s).",
             price=format_money(order.item_price, order.currency, _locale()))


def _locale() -> str:
    return str(get_locale() or "pl")


def filing_refusal(order: Order, now: datetime | None = None) -> FilingRefusal | None:
    """Why the order's buyer cannot file a protection claim now; None when they can.

    Checked in the order a buyer would want to hear it: an existing claim first, then the
    discussion, then what the policy says about the order itself.
    """
    now = now or clock.now()
    existing = exclusive_claim_for(order)
    if existing is not None:
        error = ClaimAlreadyOpen(existing)
        return FilingRefusal(error.code, error.message, existing)
    refusal = _case_refusal(order, now)
    if refusal is not None:
        return refusal
    appeal_route = appeals.claim_refusal(order, now)
    if appeal_route is not None:  # a rejection is appealed, not filed again
        code, message, rejected_claim_id = appeal_route
        return FilingRefusal(code, message, rejected_claim_id=rejected_claim_id)
    check = _discussion_check(order, now)
    if check.problem is not None:
        return FilingRefusal(check.problem.value, _discussion_message(check),
                             available_at=check.available_at)
    # The order-level reasons do not depend on the claim type.
    quote = order_quote(order, ClaimType.NOT_AS_DESCRIBED, now=now)
    for reason in quote.reasons:
        if reason in ORDER_LEVEL_REASONS:
            return FilingRefusal(reason.value, _quote_message(reason, order, quote))
    return None


def _case_refusal(order: Order, now: datetime) -> FilingRefusal | None:
    """What the order's settlement ledger says: nothing left to pay, or a promise of the
    seller that is still running (the buyer reports it broken first)."""
    pending = ledger.owed_to_buyer(order.id)
    if pending:
        promise = pending[0]
        if promise.due_at >= now:
            message = _("The seller agreed to settle this order by %(when)s. If it has not "
                        "arrived by then, report it in the discussion: your protection "
                        "continues.", when=format_datetime(promise.due_at, "short"))
        else:
            message = _("The seller's settlement was due on %(when)s. If it did not arrive, "
                        "report it in the discussion first; then you can file a claim.",
                        when=format_datetime(promise.due_at, "short"))
        return FilingRefusal("settlement_pending", message,
                             due_at=promise.due_at, settlement_id=promise.id)
    if order.compensation_remaining <= 0:
        error = ledger.AlreadyCompensated(order, 1)
        return FilingRefusal(error.code, error.message)
    return None


_validate_text = partial(checked_text, maximum=policy.DESCRIPTION_MAX)


def _validate_account(text: str | None) -> str:
    try:
        return banking.normalise_account(text or "")
    except banking.InvalidAccount as error:
        raise ValidationFailed(
            _("Enter the account number for the payout as an IBAN, for example "
              "PL61 1090 1014 0000 0712 1981 2874."),
            code="invalid_account", fields={"payout_account": [str(error)]}) from None


def _judging_version(code: str) -> PolicyVersion:
    return db.session.scalar(select(PolicyVersion).where(PolicyVersion.code == code,
                                                         PolicyVersion.judging()))


@dataclass(frozen=True)
class CheckedClaim:
    """A claim's input once every check passed (file_claim stores it)."""

    claim_type: ClaimType
    description: str
    account: str
    claimed_amount: int | None
    quote: policy.Quote
    reference: str | None
    police_report: CheckedUpload | None
    documents: list[CheckedUpload]


def check_claim(order: Order, now: datetime, *, claim_type: ClaimType | None,
                description: str | None, payout_account: str | None,
                claimed_amount: int | None = None, police_report_reference: str | None = None,
                police_report: Upload | None = None, documents: list[Upload] = (),
                checks: Checks | None = None) -> CheckedClaim | None:
    """Every check of a claim's fields and files, all of them run: InvalidFields lists
    every problem at once (a form shows them all in one round). ``checks`` may bring
    problems the caller already found (a form's own); a field it refused is not checked
    again, and ``claim_type`` None (refused by the form) skips what depends on it."""
    checks = checks or Checks()
    given = {name for name in ("description", "payout_account", "claimed_amount")
             if not checks.refused(name)}
    text = (checks.run(_validate_text, description, "description")
            if "description" in given else None)
    account = (checks.run(_validate_account, payout_account)
               if "payout_account" in given else None)
    if claim_type is not None and ClaimType(claim_type) is not ClaimType.OTHER:
        claimed_amount = None  # the full item price is covered; nothing to claim
    elif claimed_amount is not None and claimed_amount < 0:
        checks.run(_refuse, _("The loss you claim must be more than 0."),
                   code="claimed_amount_not_positive",
                   fields={"claimed_amount": ["not_positive"]})
    quote = None
    if claim_type is not None:
        amount_refused = checks.refused("claimed_amount")
        quote = order_quote(order, ClaimType(claim_type),
                            None if amount_refused else claimed_amount, now)
        if not quote.eligible and not amount_refused:
            reason = quote.reasons[0]
            if reason in ORDER_LEVEL_REASONS:  # the policy changed between the checks
                raise FilingNotAllowed(_quote_message(reason, order, quote), code=reason.value)
            checks.run(_refuse, _quote_message(reason, order, quote), code=reason.value,
                       fields={"claimed_amount": [reason.value]})
    reference = (police_report_reference or "").strip() or None
    # What the version judging the order requires for this claim type.
    required = set(quote.documents_required) if quote is not None else set()
    police_report_required = DocumentKind.POLICE_REPORT in required
    if police_report_required and reference is None:
        checks.run(_refuse,
                   _("Give the reference number of the police report: the rules require it "
                     "for this kind of claim."),
                   code="police_report_reference_required",
                   fields={"police_report_reference": ["required"]})
    if reference is not None and len(reference) > policy.POLICE_REPORT_REFERENCE_MAX:
        checks.run(_refuse,
                   _("The reference number can have at most %(max)d characters.",
                     max=policy.POLICE_REPORT_REFERENCE_MAX),
                   fields={"police_report_reference": ["length"]})
    if police_report_required and police_report is None:
        checks.run(_refuse,
                   _("Upload the police acknowledgement (PDF, PNG, JPEG or HEIC): the rules "
                     "require it for this kind of claim."),
                   code="police_report_required", fields={"police_report": ["required"]})
    checked_report = (checks.run(_check_police_report, police_report)
                      if police_report is not None else None)
    if DocumentKind.SUPPORTING in required and not documents:
        checks.run(_refuse,
                   _("Add at least one document that shows what happened: the rules require "
                     "it for this kind of claim."),
                   code="documents_required", fields={"documents": ["required"]})
    checked_documents = checks.run(check_uploads, list(documents),
                                   max_count=policy.DOCUMENTS_PER_UPLOAD,
                                   room_left=policy.DOCUMENTS_PER_CLAIM)
    checks.done()
    if checks.already_refused:  # the caller's own refusals: nothing to file
        return None
    return CheckedClaim(ClaimType(claim_type), text, account, claimed_amount, quote, reference,
                        checked_report, checked_documents)


def _refuse(message: str, **details) -> None:
    raise ValidationFailed(message, **details)


def file_claim(order: Order, buyer: User, *, claim_type: ClaimType, description: str,
               payout_account: str, claimed_amount: int | None = None,
               police_report_reference: str | None = None,
               police_report: Upload | None = None,
               documents: list[Upload] = ()) -> Claim:
    """File a protection claim; the quote in force is frozen on the claim.

    Every check happens before anything is stored (all of them: InvalidFields names every
    refused field), so a refused claim leaves no row and no file behind.
    """
    if order.buyer_id != buyer.id:
        raise NotFound(_("There is nothing here."))
    now = clock.now()
    refusal = filing_refusal(order, now)
    if refusal is not None:
        raise refusal.error()
    checked = check_claim(order, now, claim_type=claim_type, description=description,
                          payout_account=payout_account, claimed_amount=claimed_amount,
                          police_report_reference=police_report_reference,
                          police_report=police_report, documents=documents)
    claim_type, description, account = checked.claim_type, checked.description, checked.account
    claimed_amount, quote, reference = checked.claimed_amount, checked.quote, checked.reference
    checked_report, checked_documents = checked.police_report, checked.documents

    discussion_id = _discussion_check(order, now).discussion_id
    version = _judging_version(quote.policy_version)
    claim = Claim(
        order=order, buyer_id=buyer.id, seller_id=order.seller_id,
        discussion_id=discussion_id, claim_type=claim_type,
        description=description, claimed_amount=claimed_amount,
        police_report_reference=reference, payout_account=account,
        state=ClaimState.SUBMITTED, submitted_at=now,
        seller_answer_due_at=version.to_rules().seller_answer_due(now),
        policy_version_id=version.id,
        item_amount=quote.item_amount, shipping_amount=quote.shipping_amount,
        # Never more than what the order may still pay (the ledger's remaining room).
        max_total=min(quote.total, order.compensation_remaining), cap_applied=quote.cap_applied,
        clauses=[clause.value for clause in quote.clauses])
    add_unless_taken(claim, lambda: ClaimAlreadyOpen(exclusive_claim_for(order)))
    if checked_report is not None:
        _store_documents(claim, buyer, [checked_report], DocumentKind.POLICE_REPORT)
    _store_documents(claim, buyer, checked_documents, DocumentKind.SUPPORTING)
    audit.record("claim.filed", claim, actor=buyer, after={
        **_snapshot(claim), "claim_type": claim_type.value, "max_total": claim.max_total,
        "policy_version": quote.policy_version, "discussion_id": discussion_id})
    notify(buyer, "claim.filed", claim, order=order.external_id)
    # The seller is a party: told at once, with the time they have to answer (nothing of
    # the buyer's account or police report is in the notification or its e-mail).
    notify(order.seller, "claim.filed_on_sale", claim, order=order.external_id,
           due_at=claim.seller_answer_due_at.isoformat(), hours=version.seller_answer_hours)
    return claim


def _check_police_report(upload: Upload) -> CheckedUpload:
    try:
        return check_upload(upload)
    except DomainError as error:  # same file rules; the error belongs to this field
        error.fields = {"police_report": error.fields.get("files", [])}
        raise


def _store_documents(claim: Claim, uploader: User, checked: list[CheckedUpload],
                     kind: DocumentKind, request: DocumentRequest | None = None
                     ) -> list[ClaimDocument]:
    return [ClaimDocument.stored(upload, uploader, claim_id=claim.id, kind=kind,
                                 request_id=request.id if request else None)
            for upload in checked]


# --- transitions ----------------------------------------------------------------------------


def _snapshot(claim: Claim) -> dict:
    return audit.snapshot(claim, AUDITED)


def _change_state(claim: Claim, action: str, actor: User, **changes) -> None:
    if require(claim.state, action).target not in (None, ClaimState.AWAITING_DOCUMENTS):
        # Decided (rejected for the missing documents) or withdrawn while staff waited:
        # nobody waits for those documents any more, and the claim's page says so. Written
        # before the transition's own entry, which stays the claim's latest.
        closed = close_awaited(claim.document_requests, clock.now())
        if closed:
            audit.record("claim.document_requests_closed", claim, actor=actor,
                         after={"requests": [request.id for request in closed]})
    MACHINE.change(claim, action, actor=actor, audited=AUDITED, **changes)


def _require_buyer(claim: Claim, user: User) -> None:
    if claim.buyer_id != user.id:
        raise NotFound(_("There is nothing here."))


def _require_staff(user: User, role: StaffRole = StaffRole.ADVISOR) -> None:
    if not user.has_role(role):
        raise NotFound(_("There is nothing here."))


def _require_reviewer(claim: Claim, staff: User) -> None:
    """Staff, and neither the claim's buyer nor its seller (403): checked before the state,
    since no state of the claim makes it theirs to review."""
    _require_staff(staff)
    require_impartial(staff, claim)


def _require_handler(claim: Claim, staff: User) -> None:
    _require_reviewer(claim, staff)
    if claim.assigned_staff_id != staff.id:
        if claim.assigned_staff is not None:
            raise ClaimTaken(_("%(name)s is reviewing this claim.",
                               name=claim.assigned_staff.name))
        raise ClaimTaken(_("Take the claim before acting on it."), code="claim_not_taken")


def require_withdraw(claim: Claim, buyer: User) -> None:
    """The checks of withdrawing, changing nothing (the page that asks to confirm it)."""
    _require_buyer(claim, buyer)
    require(claim.state, "withdraw")


def withdraw(claim: Claim, buyer: User) -> None:
    """The buyer drops the claim; possible until a decision."""
    claim = locked(Claim, claim.id)
    require_withdraw(claim, buyer)
    _change_state(claim, "withdraw", buyer, withdrawn_at=clock.now())
    notify(buyer, "claim.withdrawn", claim)


def take(claim: Claim, staff: User) -> None:
    """An advisor starts reviewing a submitted claim; one advisor per claim."""
    claim = locked(Claim, claim.id)
    _require_reviewer(claim, staff)
    if claim.assigned_staff is not None and claim.assigned_staff_id != staff.id:
        raise ClaimTaken(_("%(name)s is reviewing this claim.", name=claim.assigned_staff.name))
    _change_state(claim, "take", staff, assigned_staff_id=staff.id, taken_at=clock.now())
    notify(claim.buyer, "claim.taken", claim)


def hand_over(claim: Claim, staff: User, to, note: str) -> Claim:
    """Hand the claim under review to another advisor with a note (arbiter.handover)."""
    claim = locked(Claim, claim.id)
    _require_staff(staff)
    if claim.state not in OPEN_STATES:
        raise TransitionNotAllowed(_("This claim has been decided."), code="claim_decided")
    recipient, note = handover.check(claim, staff, to, note, role=StaffRole.ADVISOR,
                                     handler_id=claim.assigned_staff_id)
    previous = claim.assigned_staff
    claim.assigned_staff_id = recipient.id
    claim.assigned_staff = recipient
    handover.record(claim, staff, previous, recipient, note, kind="claim")
    return claim


def request_documents(claim: Claim, staff: User, what: str) -> DocumentRequest:
    """Ask the buyer for documents, due 7 days (of 24 h) later."""
    claim = locked(Claim, claim.id)
    _require_reviewer(claim, staff)
    require(claim.state, "request_documents")
    _require_handler(claim, staff)
    what = _validate_text(what, "what", maximum=5_000)
    now = clock.now()
    request = DocumentRequest(claim=claim, buyer_id=claim.buyer_id, seller_id=claim.seller_id,
                              requested_by_id=staff.id, what=what, requested_at=now,
                              due_at=policy.documents_due(now))
    db.session.add(request)
    _change_state(claim, "request_documents", staff)
    notify(claim.buyer, "claim.documents_requested", claim, due_at=request.due_at.isoformat())
    return request


def upload_documents(claim: Claim, buyer: User, uploads: list[Upload]) -> list[ClaimDocument]:
    """The buyer adds documents before a decision.

    While documents are requested this answers the request and the review continues
    (awaiting_documents -> under_review); otherwise the files join the claim as they are.
    """
    claim = locked(Claim, claim.id)
    _require_buyer(claim, buyer)
    if claim.state not in OPEN_STATES:
        raise TransitionNotAllowed(
            _("This claim has been decided; documents can no longer be added."),
            code="claim_decided", fields={"state": [claim.state.value]})
    uploads = list(uploads)
    if not uploads:
        raise ValidationFailed(_("Choose at least one file."), code="no_files",
                               fields={"files": ["required"]})
    already = db.session.scalar(
        select(func.count(ClaimDocument.id)).where(ClaimDocument.claim_id == claim.id)) or 0
    checked = check_uploads(uploads, max_count=policy.DOCUMENTS_PER_UPLOAD,
                            room_left=policy.DOCUMENTS_PER_CLAIM - already)
    request = claim.open_document_request
    if claim.state is ClaimState.AWAITING_DOCUMENTS and request is not None:
        documents = _store_documents(claim, buyer, checked, DocumentKind.REQUESTED, request)
        request.answered_at = clock.now()
        _change_state(claim, "documents_arrived", buyer)
        notify(buyer, "claim.documents_received", claim)
    else:
        documents = _store_documents(claim, buyer, checked, DocumentKind.SUPPORTING)
        audit.record("claim.documents_added", claim, actor=buyer,
                     after={"files": len(documents)})
    if claim.assigned_staff is not None:
        notify(claim.assigned_staff, "claim.documents_added", claim, email=False)
    return documents


def answer_as_seller(claim: Claim, seller: User, statement: str,
                     uploads: list[Upload] = ()) -> list[ClaimDocument]:
    """The order's seller answers the claim once, with a statement and evidence, while the
    window lasts (the judging version's seller_answer_hours after filing, moved by
    incidents) and before a decision. Someone else: 404; after the window, a second time
    or after a decision: 409.
    """
    claim = locked(Claim, claim.id)
    if claim.seller_id != seller.id:
        raise NotFound(_("There is nothing here."))
    now = clock.now()
    due = {"seller_answer_due_at": [claim.seller_answer_due_at.isoformat()]}
    if claim.state not in OPEN_STATES:
        raise TransitionNotAllowed(
            _("This claim has been decided or withdrawn; it can no longer be answered."),
            code="claim_decided", fields={"state": [claim.state.value]})
    if claim.seller_answered_at is not None:
        raise TransitionNotAllowed(
            _("You already answered this claim on %(when)s.",
              when=format_datetime(claim.seller_answered_at, "short")),
            code="seller_already_answered",
            fields={"seller_answered_at": [claim.seller_answered_at.isoformat()]})
    if not claim.seller_window_open(now):
        raise TransitionNotAllowed(
            _("The time to answer this claim ended on %(when)s.",
              when=format_datetime(claim.seller_answer_due_at, "short")),
            code="seller_answer_window_closed", fields=due)
    statement = _validate_text(statement, "statement")
    # The seller's files have their own room: they never take the buyer's.
    checked = check_uploads(list(uploads), max_count=policy.DOCUMENTS_PER_UPLOAD,
                            room_left=policy.DOCUMENTS_PER_UPLOAD)
    claim.seller_statement = statement
    claim.seller_answered_at = now
    documents = _store_documents(claim, seller, checked, DocumentKind.SELLER_EVIDENCE)
    audit.record("claim.seller_answered", claim, actor=seller,
                 after={"files": len(documents), "seller_answered_at": now})
    notify(claim.buyer, "claim.seller_answered", claim)
    if claim.assigned_staff is not None:
        notify(claim.assigned_staff, "claim.seller_answered_staff", claim, email=False)
    return documents


def reject_after_deadline(claim: Claim, staff: User) -> None:
    """Reject a claim whose requested documents did not arrive by the deadline."""
    claim = locked(Claim, claim.id)
    _require_reviewer(claim, staff)
    require(claim.state, "reject_after_deadline")
    _require_handler(claim, staff)
    now = clock.now()
    _require_seller_heard(claim, now)
    request = claim.open_document_request
    if request is None or not policy.deadline_passed(request.due_at, now):
        due_at = request.due_at if request is not None else now
        raise TransitionNotAllowed(
            _("The buyer has until %(when)s to send the documents.",
              when=format_datetime(due_at, "short")),
            code="documents_not_due_yet", fields={"due_at": [due_at.isoformat()]})
    _change_state(claim, "reject_after_deadline", staff,
                  rejection_reason=RejectionReason.DOCUMENTS_NOT_PROVIDED,
                  decided_at=now, decided_by=staff)
    _issue_decision_document(claim, staff)
    notify(claim.buyer, "claim.rejected", claim)
    _tell_the_seller(claim)
    claim_decided.send(claim)


def _issue_decision_document(claim: Claim, staff: User) -> None:
    """Every claim decision gets its numbered document (POK/<year>/<n>)."""
    documents.issue(DecisionKind.CLAIM, claim, advisor=staff, issued_at=claim.decided_at,
                    data_for_locale=lambda locale, number: claim_documents.claim_data(
                        claim, locale, number),
                    locales=claim_documents.locales_for(claim))


def second_approval_above() -> int:
    """Approvals paying more than this (grosze) need a second senior (setting
    CLAIM_SECOND_APPROVAL_ABOVE)."""
    return int(current_app.config["CLAIM_SECOND_APPROVAL_ABOVE"])


class SameApprover(ConflictOfInterest):
    """The second approval of a claim must come from someone other than its first (403)."""

    code = "same_approver"


class BuyerCapReached(TransitionNotAllowed):
    """The policy's per-buyer cap leaves nothing (or less than the approval) to pay (409)."""

    code = "buyer_cap_reached"


@dataclass(frozen=True)
class ApprovalTerms:
    """What an approval of a claim pays and who must agree, as the confirmation states it.

    ``amount`` is after the policy's per-buyer cap; ``lowered_from`` is the approval's own
    amount when that cap lowered it; ``room`` what the buyer had left under the cap (None
    when the version has none)."""

    decision: Decision
    amount: int
    lowered_from: int | None
    room: int | None
    cap: int | None
    window_days: int | None
    requires_second_approval: bool


def granted_in_window(claim: Claim, since: datetime) -> int:
    """What the platform granted the claim's buyer in claims decided from ``since`` on
    (approved, partially approved or paid; this claim excluded)."""
    # int(): PostgreSQL sums a bigint column as numeric (a Decimal in Python).
    return int(db.session.scalar(
        select(func.coalesce(func.sum(Claim.approved_amount), 0)).where(
            Claim.buyer_id == claim.buyer_id, Claim.id != claim.id,
            Claim.state.in_(PAYABLE_STATES | {ClaimState.PAID}),
            Claim.decided_at >= since)) or 0)


def _decided_amount(claim: Claim, decision: Decision, amount: int | None) -> int | None:
    try:
        return policy.decided_amount(decision, amount, claim.max_total)
    except ValueError as error:
        raise ValidationFailed(
            _("An approval pays exactly the claim's maximum (%(max)s); a partial approval "
              "pays at least 0.01 and less than that; a rejection pays nothing.",
              max=format_money(claim.max_total, claim.order.currency, _locale())),
            code=str(error), fields={"amount": [str(error)]}) from None


def _terms(claim: Claim, decision: Decision, granted: int, now: datetime) -> ApprovalTerms:
    rules = claim.policy_version.to_rules()
    since = rules.buyer_window_start(now)
    capped = policy.apply_buyer_cap(rules, granted,
                                    0 if since is None else granted_in_window(claim, since))
    if capped.amount <= 0:
        raise BuyerCapReached(
            _("The buyer has already been granted the most the rules pay one person in "
              "%(days)d days (%(cap)s): nothing more can be approved now.",
              days=rules.per_buyer_window_days,
              cap=format_money(rules.per_buyer_cap_minor, claim.order.currency, _locale())),
            fields={"room": ["0"]})
    return ApprovalTerms(decision=decision, amount=capped.amount,
                         lowered_from=capped.lowered_from, room=capped.room,
                         cap=rules.per_buyer_cap_minor, window_days=rules.per_buyer_window_days,
                         requires_second_approval=capped.amount > second_approval_above())


def approval_terms(claim: Claim, staff: User, decision: Decision, amount: int | None
                   ) -> ApprovalTerms:
    """What approving ``claim`` this way would pay now and whether a second senior must
    confirm it; read-only (the confirmation page states it before anything changes).
    Bad input: ValidationFailed (422); nothing left under the per-buyer cap: 409."""
    decision = Decision(decision)
    if decision is Decision.REJECTED:
        raise ValueError("a rejection pays nothing")
    _require_reviewer(claim, staff)
    require(claim.state, DECISION_ACTIONS[decision])
    _require_handler(claim, staff)
    now = clock.now()
    _require_seller_heard(claim, now)
    return _terms(claim, decision, _decided_amount(claim, decision, amount), now)


def _lock_buyer_if_capped(claim: Claim) -> None:
    """Two approvals for one buyer under a per-buyer cap are serialised on the buyer's row
    (lock order: claim, buyer, discussions, order): the second sees the first's amount."""
    if claim.policy_version.per_buyer_cap_minor is not None:
        locked(User, claim.buyer_id)


def decide(claim: Claim, staff: User, *, decision: Decision, amount: int | None = None,
           rejection_reason: RejectionReason | None = None, rationale: str | None = None,
           confirm_amount: int | None = None) -> Claim:
    """The decision on a claim under review.

    Approved pays the claim's computed maximum; partially approved a lower amount with a
    rationale; rejected nothing, with a reason code and a rationale. The policy's per-buyer
    cap lowers an approval to what the buyer has left in its window (nothing left: 409).

    An approval paying more than CLAIM_SECOND_APPROVAL_ABOVE waits for a second senior
    (awaiting_second_approval): nothing is paid or written into the ledger until they
    confirm it (:func:`confirm_approval`). Any other approval is final at once and creates
    the claim's one payout and its ledger row. ``confirm_amount``: what the person
    confirmed would be paid; when given it must be exactly that (409 otherwise).
    """
    decision = Decision(decision)
    claim = locked(Claim, claim.id)
    _require_reviewer(claim, staff)
    require(claim.state, DECISION_ACTIONS[decision])
    _require_handler(claim, staff)
    _require_seller_heard(claim, clock.now())
    granted = _decided_amount(claim, decision, amount)
    if decision is Decision.APPROVED:
        rationale = _validate_text(rationale, "rationale", minimum=0) or None
    else:
        rationale = _validate_text(rationale, "rationale", minimum=policy.RATIONALE_MIN)
    if decision is Decision.REJECTED and rejection_reason is None:
        raise ValidationFailed(_("Choose the reason for the rejection."),
                               code="rejection_reason_required",
                               fields={"rejection_reason": ["required"]})
    now = clock.now()
    if decision is Decision.REJECTED:
        _change_state(claim, "reject", staff, rejection_reason=rejection_reason,
                      rationale=rationale, decided_at=now, decided_by=staff)
        _issue_decision_document(claim, staff)
        notify(claim.buyer, "claim.rejected", claim)
        _tell_the_seller(claim)
        claim_decided.send(claim)
        return claim
    _lock_buyer_if_capped(claim)
    terms = _terms(claim, decision, granted, now)
    if confirm_amount is not None and confirm_amount != terms.amount:
        raise AmountNotConfirmed(terms.amount, claim.order.currency)
    approval = {"approved_amount": terms.amount, "rationale": rationale,
                "buyer_cap_lowered_from": terms.lowered_from, "first_approver_id": staff.id,
                "first_approved_at": now}
    if terms.requires_second_approval:
        # Four eyes: recorded, not final. The case and the ledger stay as they are.
        MACHINE.change(claim, "approve_pending_second", actor=staff, audited=APPROVAL_AUDITED,
                       pending_decision=decision, requires_second_approval=True, **approval)
        return claim
    return _make_final(claim, DECISION_ACTIONS[decision], staff, decider=staff, now=now,
                       **approval)


def _make_final(claim: Claim, action: str, actor: User, *, decider: User, now: datetime,
                **changes) -> Claim:
    """An approval becomes the decision: the case's discussions end, the payout goes into
    the ledger (which refuses it if the order meanwhile got more: 409), the claim changes
    state and gets its one payout row, its decision document, and both parties hear it.

    Every row is locked before the first audit entry (lock order: claim, discussion,
    order): that entry takes the audit log's lock, and a request holding the order (an
    appeal decided on the same case, an offer accepted) waits for that lock in turn.
    """
    open_ids = list(db.session.scalars(select(Discussion.id).where(
        Discussion.order_id == claim.order_id,
        Discussion.state.in_(OPEN_DISCUSSION_STATES)).order_by(Discussion.id)))
    for discussion_id in open_ids:
        locked(Discussion, discussion_id)
    locked(Order, claim.order_id)
    amount = changes.get("approved_amount", claim.approved_amount)
    for discussion_id in open_ids:
        discussions.settle_by_platform(discussion_id, decider, claim_id=claim.id)
    ledger.record(claim.order, SettlementKind.PAYOUT, actor=actor, amount=amount,
                  discussion_id=claim.discussion_id, claim_id=claim.id)
    MACHINE.change(claim, action, actor=actor, audited=APPROVAL_AUDITED, decided_at=now,
                   decided_by=decider, **changes)
    db.session.add(Payout(claim=claim, buyer_id=claim.buyer_id, seller_id=claim.seller_id,
                          amount=amount, currency=claim.order.currency,
                          beneficiary_name=claim.buyer.name, account=claim.payout_account,
                          state=PayoutState.PENDING, created_at=now,
                          **Payout.approvals_of(claim)))
    db.session.flush()
    _issue_decision_document(claim, decider)
    notify(claim.buyer, f"claim.{claim.state.value}", claim)
    _tell_the_seller(claim)
    claim_decided.send(claim)
    return claim


def _require_second_approver(claim: Claim, senior: User) -> None:
    """A senior (else 404), not a party (403), the claim awaiting a second approval (409),
    and not its first approver (403)."""
    _require_staff(senior, StaffRole.SENIOR)
    require_impartial(senior, claim)
    require(claim.state, "send_back")  # the same sources as both confirmations
    if senior.id == claim.first_approver_id:
        raise SameApprover(
            _("You approved this claim yourself: another senior must confirm it or send it "
              "back."))


def confirm_approval(claim: Claim, senior: User, *, confirm_amount: int) -> Claim:
    """The second approval: a senior other than the first approver confirms the amount
    (``confirm_amount``, exactly what the claim awaits) and the approval becomes final,
    with its payout and ledger row (:func:`_make_final`). The first approver stays the
    decider; the per-buyer cap is checked again (409 if the room shrank meanwhile)."""
    claim = locked(Claim, claim.id)
    _require_second_approver(claim, senior)
    if confirm_amount != claim.approved_amount:
        raise AmountNotConfirmed(claim.approved_amount, claim.order.currency)
    _lock_buyer_if_capped(claim)
    now = clock.now()
    rules = claim.policy_version.to_rules()
    since = rules.buyer_window_start(now)
    if since is not None:
        capped = policy.apply_buyer_cap(rules, claim.approved_amount,
                                        granted_in_window(claim, since))
        if capped.lowered_from is not None:
            raise BuyerCapReached(
                _("Since this approval the buyer was granted more: only %(room)s is left "
                  "under the per-buyer cap. Send the approval back for a new decision.",
                  room=format_money(capped.amount, claim.order.currency, _locale())),
                fields={"room": [str(capped.amount)]})
    first = db.session.get(User, claim.first_approver_id)
    _make_final(claim, CONFIRM_ACTIONS[claim.pending_decision], senior, decider=first,
                now=now, pending_decision=None, second_approver_id=senior.id,
                second_approved_at=now)
    notify(first, "claim.second_approved", claim, email=False, senior=senior.name)
    return claim


SEND_BACK_REASON_MIN = 10


def send_back(claim: Claim, senior: User, reason: str) -> Claim:
    """The second approver does not confirm: the claim returns to under_review with the
    reason (for staff), the approval and its amount are dropped, and the first approver
    (still its handler) is told. Nothing was paid or written into the ledger."""
    claim = locked(Claim, claim.id)
    _require_second_approver(claim, senior)
    reason = _validate_text(reason, "reason", minimum=SEND_BACK_REASON_MIN, maximum=5_000)
    first = db.session.get(User, claim.first_approver_id)
    MACHINE.change(claim, "send_back", actor=senior, audited=APPROVAL_AUDITED,
                   approved_amount=None, pending_decision=None, requires_second_approval=False,
                   first_approver_id=None, first_approved_at=None, buyer_cap_lowered_from=None,
                   sent_back_at=clock.now(), sent_back_by_id=senior.id, sent_back_reason=reason)
    notify(first, "claim.sent_back", claim, email=False, senior=senior.name, reason=reason)
    return claim


def _require_seller_heard(claim: Claim, now: datetime) -> None:
    if claim.awaits_seller(now):
        raise SellerAnswerPending(claim)


def _tell_the_seller(claim: Claim) -> None:
    """The seller hears the decision; its PDF is on the claim page for them too."""
    notify(claim.seller, SELLER_DECISION_KINDS[claim.state], claim,
           order=claim.order.external_id)


def _payout_settled(payout: Settlement, actor: User | None) -> None:
    """A claim's payout confirmed: the platform recovers it from the seller, which the
    marketplace settles (it reads the recovery in the event feed and the recoveries CSV)."""
    if payout.kind is SettlementKind.PAYOUT and payout.state is SettlementState.CONFIRMED:
        claim = db.session.get(Claim, payout.claim_id)
        # A seller's decided appeal may have lowered (or cancelled) what they owe back.
        ledger.recover(payout, actor, appeals.recovery_amount(claim, payout.amount))


ledger.on_settled(Source.CLAIM, _payout_settled)


# --- payouts --------------------------------------------------------------------------------


class ExporterCannotConfirm(ConflictOfInterest):
    """Four eyes on the money (403): whoever exported a batch never confirms it paid; the
    database refuses it too (ck_payout_batches_confirmer_not_exporter)."""

    code = "exporter_cannot_confirm"


class ExportChanged(TransitionNotAllowed):
    """What the exporter confirmed is no longer what would be exported (409)."""

    code = "export_changed"


@dataclass(frozen=True)
class ExportPreview:
    """What an export by one person would hand to finance now, and what it leaves out."""

    payouts: list[Payout]      # would be exported
    held: list[Payout]         # the account is shared with another buyer, not released
    own: int                   # pending payouts of the person's own purchases or sales

    @property
    def total(self) -> int:
        return sum(p.amount for p in self.payouts)

    @property
    def ids(self) -> list[int]:
        return [p.id for p in self.payouts]


def is_held(payout: Payout, owners: dict[str, set[int]]) -> bool:
    """A pending payout to an account another buyer was paid (or is to be paid) to, that no
    senior released: export leaves it out (``owners``: banking.account_owners)."""
    return (payout.state is PayoutState.PENDING and payout.released_at is None
            and bool(owners.get(payout.account, set()) - {payout.buyer_id}))


def _split_held(payouts: list[Payout]) -> tuple[list[Payout], list[Payout]]:
    owners = banking.account_owners(p.account for p in payouts)
    held = [p for p in payouts if is_held(p, owners)]
    return [p for p in payouts if not is_held(p, owners)], held


def export_preview(staff: User, *, lock: bool = False) -> ExportPreview:
    """The pending payouts ``staff`` may export (not their own cases), split into the ones
    that go out and the ones held for a senior. ``lock``: row-locked, for the export."""
    pending = Payout.state == PayoutState.PENDING
    statement = select(Payout).where(pending, not_a_party(staff.id, Payout)).order_by(Payout.id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    payouts, held = _split_held(list(db.session.scalars(statement)))
    own = db.session.scalar(select(func.count(Payout.id)).where(
        pending, ~not_a_party(staff.id, Payout))) or 0
    return ExportPreview(payouts=payouts, held=held, own=own)


def export_payouts(staff: User, *, expected_ids=None) -> PayoutBatch:
    """Put every pending payout into one new batch and its CSV for the finance team.

    Pending payouts are row-locked, and a locked row that another export took meanwhile no
    longer matches ``state = pending``: whatever is retried or raced, a payout is in at
    most one batch, so finance never receives it twice.

    The payouts of claims the exporter is a party to are left out: they stay pending for
    another staff member's export, so one person's claim never holds everybody's money up.
    So are payouts held because their account is shared with another buyer, until a senior
    releases them. ``expected_ids``: the payouts the exporter confirmed on the page; when
    the export would now be different, nothing is exported (409 ``export_changed``).
    """
    _require_staff(staff, StaffRole.FINANCE)
    preview = export_preview(staff, lock=True)
    payouts = preview.payouts
    if expected_ids is not None and sorted(set(expected_ids)) != preview.ids:
        raise ExportChanged(_("The payouts waiting for export changed since you reviewed "
                              "them: review the list again before exporting."))
    if not payouts:
        if preview.own:
            raise ConflictOfInterest(
                _("The only pending payouts are for your own purchases or sales: another "
                  "staff member must export them."))
        if preview.held:
            raise TransitionNotAllowed(
                _("Every pending payout is held: its bank account is shared with another "
                  "buyer, and a senior must release it first."), code="nothing_to_export")
        raise TransitionNotAllowed(_("There are no pending payouts to export."),
                                   code="nothing_to_export")
    numbers = dict(db.session.execute(
        select(DecisionDocument.object_id, DecisionDocument.number).where(
            DecisionDocument.object_type == Claim.__tablename__,
            DecisionDocument.object_id.in_([p.claim_id for p in payouts]),
            DecisionDocument.locale == "pl")).all())
    data = banking.payout_csv(
        banking.PayoutLine(payout_id=p.id, claim_id=p.claim_id,
                           beneficiary_name=p.beneficiary_name, account=p.account,
                           amount_minor=p.amount, currency=p.currency,
                           decision_number=numbers.get(p.claim_id))
        for p in payouts)
    now = clock.now()
    blob = store(CheckedUpload(f"payouts-{now:%Y%m%d-%H%M%S}.csv", "text/csv", data))
    batch = PayoutBatch(created_at=now, created_by_id=staff.id, payout_count=len(payouts),
                        total_amount=sum(p.amount for p in payouts),
                        currency=payouts[0].currency, csv_sha256=blob.sha256,
                        csv_storage_key=blob.key)
    db.session.add(batch)
    for payout in payouts:
        payout.state = PayoutState.EXPORTED
        payout.batch = batch
        payout.exported_by_id = staff.id
    audit.record("payout_batch.exported", batch, actor=staff, after={
        "payout_ids": [p.id for p in payouts], "total_amount": batch.total_amount,
        "csv_sha256": batch.csv_sha256, "held_payout_ids": [p.id for p in preview.held]})
    return batch


def mark_batch_paid(batch_id: int, staff: User) -> bool:
    """Finance confirmed the batch's transfers: its payouts and their claims become paid.

    Idempotent: marking a batch that is already paid changes nothing and returns False.
    Nobody confirms a batch that pays a claim they are a party to (403): the batch is
    confirmed as a whole, as the bank transfers were made. Nor a batch they exported
    (403 ``exporter_cannot_confirm``; four eyes, also refused by the database).
    """
    _require_staff(staff, StaffRole.FINANCE)
    batch = locked(PayoutBatch, batch_id)
    if batch.created_by_id == staff.id:
        raise ExporterCannotConfirm(
            _("You exported this batch: another member of the finance team must confirm "
              "that it was paid."))
    if any(conflicted(staff, payout) for payout in batch.payouts):
        raise ConflictOfInterest(
            _("This batch pays a claim on your own purchase or sale: another staff member "
              "must confirm it."))
    if batch.marked_paid_at is not None:
        return False
    now = clock.now()
    batch.marked_paid_at = now
    batch.marked_paid_by_id = staff.id
    for payout in batch.payouts:
        payout.state = PayoutState.PAID
        payout.paid_at = now
        payout.marked_paid_by_id = staff.id
        claim = locked(Claim, payout.claim_id)
        if payout.appeal_id is None and payout.reissue_of_id is None:
            _change_state(claim, "mark_paid", staff, paid_at=now)
        ledger.confirm_payout(claim.id, staff, appeal_id=payout.appeal_id)
        notify(claim.buyer, "claim.paid", claim)
    audit.record("payout_batch.marked_paid", batch, actor=staff,
                 after={"payout_ids": [p.id for p in batch.payouts]})
    return True


# --- returned transfers and held payouts ---------------------------------------------------

REASON_MAX = 2_000
_REISSUE = aliased(Payout)


def fail_payout(payout_id: int, staff: User, reason: str) -> Payout:
    """The bank returned a paid payout's transfer (finance, with the bank's reason).

    The payout becomes ``failed``; its ledger row fails and a new owed row pays it again
    (the order total counts it once: settlements.services.payout_returned); the buyer is
    asked, in the app and by e-mail, for a corrected account, and the re-issue waits for
    it (:func:`correct_payout_account`). A payout fails once (409 after that).
    """
    _require_staff(staff, StaffRole.FINANCE)
    found = db.session.get(Payout, payout_id)
    if found is None:
        raise NotFound(_("There is nothing here."))
    claim = locked(Claim, found.claim_id)  # lock order: the claim, then its payout
    payout = locked(Payout, payout_id)
    require_impartial(staff, payout)
    if payout.state is PayoutState.FAILED:
        raise TransitionNotAllowed(
            _("This payout is already recorded as returned by the bank."),
            code="payout_already_failed")
    if payout.state is not PayoutState.PAID:
        raise TransitionNotAllowed(
            _("Only a payout of a batch confirmed as paid can come back from the bank."),
            code="payout_not_paid")
    reason = checked_text(reason, "reason", minimum=3, maximum=REASON_MAX)
    ledger.payout_returned(claim.id, staff, appeal_id=payout.appeal_id, note=reason)
    before = audit.snapshot(payout, PAYOUT_AUDITED)
    payout.state = PayoutState.FAILED
    payout.failed_at = clock.now()
    payout.failed_by_id = staff.id
    payout.failure_reason = reason
    audit.record("payout.failed", payout, actor=staff, before=before,
                 after=audit.snapshot(payout, PAYOUT_AUDITED))
    notify(claim.buyer, "payout.returned", claim,
           amount=format_money(payout.amount, payout.currency, claim.buyer.locale or "pl"))
    return payout


PAYOUT_AUDITED = ("state", "batch_id", "failure_reason", "released_at", "release_note")


def correct_payout_account(claim: Claim, buyer: User, account: str) -> list[Payout]:
    """The buyer gives a corrected account for payouts the bank returned: each is paid
    again by a new pending payout (its re-issue) to that account, which the next export
    takes, exactly once (one re-issue per failed payout, a unique index). The claim keeps
    the new account for anything it pays later."""
    claim = locked(Claim, claim.id)
    _require_buyer(claim, buyer)
    account = _validate_account(account)
    waiting = list(db.session.scalars(
        select(Payout).where(Payout.claim_id == claim.id, Payout.state == PayoutState.FAILED,
                             ~exists().where(_REISSUE.reissue_of_id == Payout.id))
        .order_by(Payout.id).with_for_update()))
    if not waiting:
        raise TransitionNotAllowed(
            _("No payout of this claim is waiting for a corrected account."),
            code="no_returned_payout")
    if any(p.account == account for p in waiting):
        raise ValidationFailed(
            _("The bank returned the transfer to this account: give a different one."),
            code="same_account", fields={"payout_account": ["same_account"]})
    now = clock.now()
    claim.payout_account = account
    reissued = []
    for failed in waiting:
        reissue = Payout(claim_id=claim.id, appeal_id=failed.appeal_id,
                         buyer_id=failed.buyer_id, seller_id=failed.seller_id,
                         amount=failed.amount, currency=failed.currency,
                         beneficiary_name=failed.beneficiary_name, account=account,
                         state=PayoutState.PENDING, created_at=now, reissue_of_id=failed.id,
                         # the returned payout's approvals, which the database checks again
                         first_approver_id=failed.first_approver_id,
                         requires_second_approval=failed.requires_second_approval,
                         second_approver_id=failed.second_approver_id)
        add_unless_taken(reissue, lambda: TransitionNotAllowed(
            _("This payout is already being paid again."), code="already_reissued"))
        reissued.append(reissue)
    audit.record("claim.payout_account_corrected", claim, actor=buyer, after={
        "reissue_of": [p.id for p in waiting], "payout_ids": [p.id for p in reissued]})
    return reissued


def release_payout(payout_id: int, senior: User, note: str) -> Payout:
    """A senior lets a held payout (its account is shared with another buyer) go into the
    next export, with a note why. Not a party to the claim, and not who approved it."""
    _require_staff(senior, StaffRole.SENIOR)
    payout = locked(Payout, payout_id)
    require_impartial(senior, payout)
    claim = db.session.get(Claim, payout.claim_id)
    if senior.id in {claim.decided_by_id, claim.first_approver_id, claim.second_approver_id}:
        raise ConflictOfInterest(
            _("You approved this claim: another senior must release its payout."),
            code="approver_cannot_release")
    if payout.state is not PayoutState.PENDING or payout.released_at is not None:
        raise TransitionNotAllowed(_("This payout is not held."), code="payout_not_held")
    others = banking.buyers_sharing_account(payout.account, buyer_id=payout.buyer_id)
    if not others:
        raise TransitionNotAllowed(_("This payout is not held."), code="payout_not_held")
    note = checked_text(note, "note", minimum=10, maximum=REASON_MAX)
    before = audit.snapshot(payout, PAYOUT_AUDITED)
    payout.released_at = clock.now()
    payout.released_by_id = senior.id
    payout.release_note = note
    audit.record("payout.released", payout, actor=senior, before=before,
                 after={**audit.snapshot(payout, PAYOUT_AUDITED), "other_buyer_ids": others})
    return payout
