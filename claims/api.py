"""The claims JSON API: the public policy quote, the buyer's claims, the seller's view and
answer, staff review, payouts.

The same service functions and rules as the browser pages. Someone else's claim is 404;
a non-staff caller on a staff endpoint is 403. The seller of the order reads a claim as
``claims.queries.SellersView``: no payout account, no police report reference, none of
the buyer's documents.
"""

import dataclasses

import marshmallow as ma
from flask import Response
from flask_babel import gettext
from flask_smorest.fields import Upload
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from accounts.roles import Role
from arbiter import clock, handover
from arbiter.api import Blueprint, InSchema, ListQuery, MoneyOut, OutSchema, money, page_schema
from arbiter.errors import NotFound
from arbiter.extensions import db
from arbiter.files import Upload as FileUpload
from arbiter.money import DEFAULT_CURRENCY, to_decimal_string
from arbiter.storage import storage
from claims import policy, queries, services
from claims.models import Claim
from claims.policy import Quote
from claims.schemas import QuoteQuerySchema
from claims.states import ClaimState, ClaimType, Decision, RejectionReason
from integrations import auth
from orders.models import Order

blp = Blueprint("Claims", __name__, url_prefix="/api/v1",
                description="Buyer-protection claims, staff review and payouts.")

_text = ma.validate.Length


def quote_json(quote: Quote) -> dict:
    """The wire format of a quote: amounts as decimal strings with two decimals."""
    return {
        "eligible": quote.eligible,
        "reasons": [str(reason) for reason in quote.reasons],
        "policy_version": quote.policy_version,
        "item_amount": to_decimal_string(quote.item_amount),
        "shipping_amount": to_decimal_string(quote.shipping_amount),
        "total": to_decimal_string(quote.total),
        "cap_applied": quote.cap_applied,
        "currency": DEFAULT_CURRENCY,
    }


class QuoteOut(OutSchema):
    eligible = ma.fields.Boolean(required=True)
    reasons = ma.fields.List(ma.fields.String(), required=True)
    policy_version = ma.fields.String(required=True, allow_none=True)
    item_amount = ma.fields.String(required=True)
    shipping_amount = ma.fields.String(required=True)
    total = ma.fields.String(required=True)
    cap_applied = ma.fields.Boolean(required=True)
    currency = ma.fields.String(required=True)


class RefusalOut(OutSchema):
    code = ma.fields.String(required=True)
    message = ma.fields.String(required=True)
    due_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    claim_id = ma.fields.Integer(required=True, allow_none=True)


class OrderQuoteOut(QuoteOut):
    max_total = ma.fields.String(required=True, metadata={
        "description": "the most a claim may pay now: the quote, less what the order "
                       "already owes or paid the buyer"})
    refusal = ma.fields.Nested(RefusalOut, required=True, allow_none=True, metadata={
        "description": "why the buyer cannot file a claim now; its code is also the first "
                       "of reasons"})


class PolicyVersionOut(OutSchema):
    code = ma.fields.String(required=True, attribute="version", metadata={"example": "2017-08"})
    effective_from = ma.fields.AwareDateTime(required=True, metadata={
        "description": "orders paid at or after this instant are judged by this version"})
    in_force = ma.fields.Boolean(required=True, metadata={
        "description": "the version that judges orders paid now"})
    covered_payment_methods = ma.fields.List(ma.fields.String(), required=True)
    shipping_covered_for = ma.fields.List(ma.fields.String(), required=True)
    shipping_cap = ma.fields.String(required=True, metadata={"example": "123.00"})
    total_cap = ma.fields.String(required=True, metadata={"example": "12345.00"})
    filing_window_days = ma.fields.Integer(required=True)
    documents_required = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()), required=True,
        metadata={"description": "what a claim must bring when filed, by claim type "
                                 "(police_report, supporting); types not named need nothing",
                  "example": {"not_received": ["police_report"]}})
    police_report_required_for = ma.fields.List(ma.fields.String(), required=True, metadata={
        "description": "the claim types whose documents_required name police_report"})
    per_buyer_cap = ma.fields.String(required=True, allow_none=True)
    per_buyer_window_days = ma.fields.Integer(required=True, allow_none=True)
    seller_answer_hours = ma.fields.Integer(required=True, metadata={
        "description": "how long after filing the seller may answer a claim"})
    appeal_window_days = ma.fields.Integer(required=True, metadata={
        "description": "how long after a claim decision a party may appeal it"})
    currency = ma.fields.String(required=True)


def _version_json(rules, in_force: bool) -> dict:
    return {
        "version": rules.version, "effective_from": rules.effective_from, "in_force": in_force,
        "covered_payment_methods": sorted(rules.covered_payment_methods),
        "shipping_covered_for": sorted(rules.shipping_covered_for),
        "shipping_cap": to_decimal_string(rules.shipping_cap_minor),
        "total_cap": to_decimal_string(rules.total_cap_minor),
        "filing_window_days": rules.filing_window_days,
        "documents_required": policy.documents_json(rules.documents_required),
        "police_report_required_for": sorted(rules.police_report_required_for),
        "seller_answer_hours": rules.seller_answer_hours,
        "appeal_window_days": rules.appeal_window_days,
        "per_buyer_cap": None if rules.per_buyer_cap_minor is None
        else to_decimal_string(rules.per_buyer_cap_minor),
        "per_buyer_window_days": rules.per_buyer_window_days, "currency": DEFAULT_CURRENCY,
    }


@blp.route("/policy/versions", methods=["GET"])
@blp.response(200, PolicyVersionOut(many=True))
def policy_versions():
    """The published versions of the protection rules, the latest date first: past ones,
    the one in force and scheduled ones; public, read-only."""
    published = services.policy_versions()
    now = clock.now()
    in_force = next((rules for rules in published if rules.effective_from <= now), None)
    return [_version_json(rules, rules is in_force) for rules in published]


@blp.route("/policy/quote", methods=["GET"])
@blp.arguments(QuoteQuerySchema, location="query")
@blp.response(200, QuoteOut)
def policy_quote(params):
    """What buyer protection pays for a purchase; public, read-only, changes nothing."""
    return quote_json(services.quote_for(**params))


# --- schemas ------------------------------------------------------------------------------


EVIDENCE_FILES = "PDF, PNG, JPEG or HEIC (HEIC is stored as JPEG); at most 5 of 10 MB"


class FileField(Upload):
    """A file part of a multipart body (a plain text part is refused)."""

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, FileStorage):
            raise ma.ValidationError(gettext("Send a file here."))
        return value


def _uploads(values) -> list[FileUpload]:
    return [FileUpload(item.filename or "", item.read()) for item in values or ()
            if item is not None and item.filename]


class DocumentOut(OutSchema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True)
    filename = ma.fields.String(required=True)
    content_type = ma.fields.String(required=True)
    size = ma.fields.Integer(required=True)
    created_at = ma.fields.AwareDateTime(required=True)


class DocumentRequestOut(OutSchema):
    id = ma.fields.Integer(required=True)
    what = ma.fields.String(required=True)
    requested_at = ma.fields.AwareDateTime(required=True)
    due_at = ma.fields.AwareDateTime(required=True)
    # The API's name since it was published; the column is answered_at (one vocabulary
    # for requests of staff, arbiter.party_requests).
    fulfilled_at = ma.fields.AwareDateTime(required=True, allow_none=True,
                                           attribute="answered_at")
    # The claim was decided or withdrawn without the documents: nobody waits for them.
    closed_at = ma.fields.AwareDateTime(required=True, allow_none=True)


class ClaimOut(OutSchema):
    id = ma.fields.Integer(required=True)
    order_external_id = ma.fields.String(required=True, attribute="order.external_id")
    state = ma.fields.String(required=True)
    claim_type = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    claimed_amount = MoneyOut(required=True, allow_none=True)
    police_report_reference = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "null for the seller of the order"})
    payout_account = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "IBAN for the payout; null for the seller of the order"})
    submitted_at = ma.fields.AwareDateTime(required=True)
    seller_answer_due_at = ma.fields.AwareDateTime(required=True, metadata={
        "description": "until when the seller may answer; staff decide after it or after "
                       "the answer"})
    seller_answered_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    seller_statement = ma.fields.String(required=True, allow_none=True)
    policy_version = ma.fields.String(required=True, attribute="policy_version.code")
    item_amount = MoneyOut(required=True)
    shipping_amount = MoneyOut(required=True)
    max_total = MoneyOut(required=True, metadata={"description": "the most this claim pays"})
    cap_applied = ma.fields.Boolean(required=True)
    approved_amount = MoneyOut(required=True, allow_none=True, metadata={
        "description": "what the decision pays; in awaiting_second_approval, what the first "
                       "approver approved (not final)"})
    requires_second_approval = ma.fields.Boolean(required=True, metadata={
        "description": "the approval pays more than CLAIM_SECOND_APPROVAL_ABOVE: a second "
                       "senior confirms it (state awaiting_second_approval until then)"})
    buyer_cap_lowered_from = MoneyOut(required=True, allow_none=True, metadata={
        "description": "what the approval would have paid without the policy's per-buyer "
                       "cap, when that cap lowered it to the buyer's remaining room"})
    rejection_reason = ma.fields.String(required=True, allow_none=True)
    decided_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    withdrawn_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    paid_at = ma.fields.AwareDateTime(required=True, allow_none=True)


class ClaimDetailOut(ClaimOut):
    clauses = ma.fields.List(ma.fields.String(), required=True)
    rationale = ma.fields.String(required=True, allow_none=True)
    documents = ma.fields.List(ma.fields.Nested(DocumentOut), required=True)
    document_requests = ma.fields.List(ma.fields.Nested(DocumentRequestOut), required=True)


ClaimPage = page_schema(ClaimOut, "ClaimPage")


class ClaimQueueQuery(ListQuery):
    type = ma.fields.Enum(ClaimType, by_value=True, load_default=None)
    state = ma.fields.Enum(ClaimState, by_value=True, load_default=None,
                           metadata={"description": "default: everything awaiting a decision"})


class FileClaimIn(InSchema):
    """A multipart/form-data body: the claim's fields and its files."""

    order_external_id = ma.fields.String(required=True, validate=_text(min=1, max=64))
    claim_type = ma.fields.Enum(ClaimType, by_value=True, required=True)
    description = ma.fields.String(required=True, validate=_text(min=1, max=20_000))
    payout_account = ma.fields.String(required=True, validate=_text(min=1, max=64),
                                      metadata={"description": "IBAN for the payout"})
    claimed_amount = money(load_default=None, allow_none=False, metadata={
        "description": "claim type other only: the documented loss, at most the item price"})
    police_report_reference = ma.fields.String(load_default=None, validate=_text(max=64))
    police_report = FileField(load_default=None, allow_none=False, metadata={
        "description": "required for not_received: PDF, PNG, JPEG or HEIC, at most 10 MB"})
    documents = ma.fields.List(FileField(), load_default=list,
                               metadata={"description": "at most 5 files"})


class SellerAnswerIn(InSchema):
    """A multipart/form-data body: the seller's statement and evidence files."""

    statement = ma.fields.String(required=True, validate=_text(min=1, max=20_000))
    files = ma.fields.List(FileField(), load_default=list,
                           metadata={"description": EVIDENCE_FILES})


class OrderQuoteQuery(InSchema):
    claim_type = ma.fields.Enum(ClaimType, by_value=True, load_default=ClaimType.NOT_AS_DESCRIBED)


class DocumentsIn(InSchema):
    files = ma.fields.List(FileField(), required=True, validate=ma.validate.Length(min=1),
                           metadata={"description": EVIDENCE_FILES})


class DocumentRequestIn(InSchema):
    what = ma.fields.String(required=True, validate=_text(min=1, max=5_000))


class ClaimDecisionIn(InSchema):
    decision = ma.fields.Enum(Decision, by_value=True, required=True)
    amount = money(load_default=None, allow_none=True, metadata={
        "description": "partially_approved: less than max_total"})
    rejection_reason = ma.fields.Enum(RejectionReason, by_value=True, load_default=None,
                                      allow_none=True)
    rationale = ma.fields.String(load_default=None, allow_none=True,
                                 validate=_text(max=20_000))
    confirm_amount = money(load_default=None, allow_none=True, metadata={
        "description": "the amount the caller confirms an approval pays (after the per-buyer "
                       "cap); when given and different, 409 amount_not_confirmed and nothing "
                       "changes. Optional for backward compatibility; clients should send it"})


class SecondApprovalIn(InSchema):
    confirm_amount = money(required=True, metadata={
        "description": "the approved amount being confirmed (the claim's approved_amount); "
                       "a different amount is refused with 409 amount_not_confirmed"})


class SendBackIn(InSchema):
    reason = ma.fields.String(required=True, validate=_text(min=10, max=5_000), metadata={
        "description": "why the approval goes back to review (staff only see it)"})


class SecondApprovalOut(ClaimOut):
    buyer_name = ma.fields.String(required=True, attribute="buyer.name")
    first_approver = ma.fields.String(required=True, attribute="first_approver.name")
    first_approved_at = ma.fields.AwareDateTime(required=True)
    pending_decision = ma.fields.String(required=True)


SecondApprovalPage = page_schema(SecondApprovalOut, "SecondApprovalPage")


# --- helpers ------------------------------------------------------------------------------


def _visible(claim_id: int) -> Claim:
    """The claim if the caller filed it or is staff; 404 otherwise (never 403)."""
    claim = queries.claim_page(claim_id)
    if claim is None or not claim.can_view(auth.current_user()):
        raise NotFound(gettext("There is nothing here."))
    return claim


def _fresh(claim_id: int):
    db.session.flush()
    db.session.expire_all()
    return queries.seen_by(queries.claim_page(claim_id), auth.current_user())


# --- buyers -------------------------------------------------------------------------------


@blp.route("/claims", methods=["GET"])
@auth.user_required
@blp.arguments(ListQuery, location="query")
@blp.response(200, ClaimPage)
def list_mine(query):
    """My protection claims, newest first."""
    return queries.buyer_claims(auth.current_user(), cursor=query["after"],
                                limit=query["limit"])


@blp.route("/claims", methods=["POST"])
@auth.user_required
@blp.arguments(FileClaimIn, location="files")
@blp.response(201, ClaimDetailOut)
def file_claim(data):
    """File a protection claim on one of my orders (multipart: fields and files)."""
    user = auth.current_user()
    order = db.session.scalar(select(Order).where(
        Order.external_id == data["order_external_id"]))
    if order is None or order.buyer_id != user.id:
        raise NotFound(gettext("There is nothing here."))
    report = _uploads([data["police_report"]])
    claim = services.file_claim(
        order, user, claim_type=data["claim_type"], description=data["description"],
        payout_account=data["payout_account"], claimed_amount=data["claimed_amount"],
        police_report_reference=data["police_report_reference"],
        police_report=report[0] if report else None, documents=_uploads(data["documents"]))
    return _fresh(claim.id)


@blp.route("/claims/<id:claim_id>", methods=["GET"])
@auth.user_required
@blp.response(200, ClaimDetailOut)
def get_claim(claim_id: int):
    """One claim: its quote, documents, requests and decision. Its seller gets it without
    the buyer's payout account, police report reference and documents."""
    return queries.seen_by(_visible(claim_id), auth.current_user())


@blp.route("/claims/<id:claim_id>/withdraw", methods=["POST"])
@auth.user_required
@blp.response(200, ClaimDetailOut)
def withdraw(claim_id: int):
    """The buyer withdraws the claim (before a decision)."""
    services.withdraw(_visible(claim_id), auth.current_user())
    return _fresh(claim_id)


@blp.route("/claims/<id:claim_id>/documents", methods=["POST"])
@auth.user_required
@blp.arguments(DocumentsIn, location="files")
@blp.response(201, ClaimDetailOut)
def upload_documents(data, claim_id: int):
    """The buyer adds documents (answering a request, if there is one)."""
    services.upload_documents(_visible(claim_id), auth.current_user(), _uploads(data["files"]))
    return _fresh(claim_id)


@blp.route("/orders/<external_id>/claim-quote", methods=["GET"])
@auth.user_required
@blp.arguments(OrderQuoteQuery, location="query")
@blp.response(200, OrderQuoteOut)
def order_claim_quote(query, external_id: str):
    """What a claim on my purchase can pay now, and why I cannot file one (the reasons of
    the order page and the form: ``already_compensated``, ``settlement_pending``, an open
    claim, the discussion, the policy); read-only, the order's buyer only."""
    user = auth.current_user()
    order = db.session.scalar(select(Order).where(Order.external_id == external_id))
    if order is None or order.buyer_id != user.id:
        raise NotFound(gettext("There is nothing here."))
    claim_type = query["claim_type"]
    quote = services.order_quote(order, claim_type,
                                 order.item_price if claim_type is ClaimType.OTHER else None)
    refusal = services.filing_refusal(order)
    data = quote_json(quote)
    reasons = data["reasons"]
    if refusal is not None and refusal.code not in reasons:
        reasons.insert(0, refusal.code)
    data.update(
        eligible=refusal is None and quote.eligible, reasons=reasons,
        max_total=to_decimal_string(min(quote.total, max(order.compensation_remaining, 0))),
        refusal=None if refusal is None else {
            "code": refusal.code, "message": refusal.message, "due_at": refusal.due_at,
            "claim_id": refusal.existing.id if refusal.existing is not None else None})
    return data


# --- sellers ------------------------------------------------------------------------------


@blp.route("/sales/claims", methods=["GET"])
@auth.user_required
@blp.arguments(ListQuery, location="query")
@blp.response(200, ClaimPage)
def list_on_my_sales(query):
    """Protection claims on my sales, newest first (without the buyers' accounts and police
    reports)."""
    page = queries.seller_claims(auth.current_user(), cursor=query["after"],
                                 limit=query["limit"])
    return dataclasses.replace(page, items=[queries.SellersView(c) for c in page.items])


@blp.route("/claims/<id:claim_id>/answer", methods=["POST"])
@auth.user_required
@blp.arguments(SellerAnswerIn, location="files")
@blp.response(201, ClaimDetailOut)
def answer(data, claim_id: int):
    """The seller answers the claim once, with a statement and evidence, before
    ``seller_answer_due_at`` (the judging version's window after filing) and before a
    decision (multipart)."""
    services.answer_as_seller(_visible(claim_id), auth.current_user(), data["statement"],
                              _uploads(data["files"]))
    return _fresh(claim_id)


# --- staff --------------------------------------------------------------------------------


@blp.route("/staff/claims", methods=["GET"])
@auth.role_required(Role.ADVISOR)
@blp.arguments(ClaimQueueQuery, location="query")
@blp.response(200, ClaimPage)
def queue(query):
    """Claims for staff, the longest-waiting first, without the caller's own cases (staff
    only)."""
    return queries.claims_queue(auth.current_user(), claim_type=query["type"],
                                state=query["state"],
                                cursor=query["after"], limit=query["limit"])


@blp.route("/claims/<id:claim_id>/hand-over", methods=["POST"])
@auth.role_required(Role.ADVISOR)
@blp.arguments(handover.HandOverIn)
@blp.response(200, ClaimDetailOut)
@blp.alt_response(409, description="not_the_handler: neither the handler nor a senior; "
                  "not_taken: nobody handles the case yet")
def hand_over(data, claim_id: int):
    """Hand the case to another staff member with a note for staff (the handler or a
    senior; the recipient holds the role, is not a party: 422)."""
    services.hand_over(_visible(claim_id), auth.current_user(), data["to"], data["note"])
    return _fresh(claim_id)


@blp.route("/claims/<id:claim_id>/take", methods=["POST"])
@auth.role_required(Role.ADVISOR)
@blp.response(200, ClaimDetailOut)
def take(claim_id: int):
    """Start reviewing a submitted claim (advisors only)."""
    services.take(_visible(claim_id), auth.current_user())
    return _fresh(claim_id)


@blp.route("/claims/<id:claim_id>/document-requests", methods=["POST"])
@auth.role_required(Role.ADVISOR)
@blp.arguments(DocumentRequestIn)
@blp.response(201, ClaimDetailOut)
def request_documents(data, claim_id: int):
    """Ask the buyer for documents, due in 7 days (advisors only)."""
    services.request_documents(_visible(claim_id), auth.current_user(), data["what"])
    return _fresh(claim_id)


@blp.route("/claims/<id:claim_id>/reject-after-deadline", methods=["POST"])
@auth.role_required(Role.ADVISOR)
@blp.response(200, ClaimDetailOut)
def reject_after_deadline(claim_id: int):
    """Reject a claim whose requested documents did not arrive in time (advisors only)."""
    services.reject_after_deadline(_visible(claim_id), auth.current_user())
    return _fresh(claim_id)


@blp.route("/claims/<id:claim_id>/decide", methods=["POST"])
@auth.role_required(Role.ADVISOR)
@blp.arguments(ClaimDecisionIn)
@blp.response(200, ClaimDetailOut)
def decide(data, claim_id: int):
    """Approve, approve partially or reject (advisors only)."""
    services.decide(_visible(claim_id), auth.current_user(), decision=data["decision"],
                    amount=data["amount"], rejection_reason=data["rejection_reason"],
                    rationale=data["rationale"], confirm_amount=data["confirm_amount"])
    return _fresh(claim_id)


@blp.route("/staff/claims/second-approvals", methods=["GET"])
@auth.role_required(Role.SENIOR)
@blp.arguments(ListQuery, location="query")
@blp.response(200, SecondApprovalPage)
def second_approvals(query):
    """Approvals awaiting a second senior, the longest-waiting first, with amount, buyer
    and first approver; without the caller's own cases (seniors only)."""
    return queries.second_approval_queue(auth.current_user(), cursor=query["after"],
                                         limit=query["limit"])


@blp.route("/claims/<id:claim_id>/second-approval", methods=["POST"])
@auth.role_required(Role.SENIOR)
@blp.arguments(SecondApprovalIn)
@blp.response(200, ClaimDetailOut)
def confirm_approval(data, claim_id: int):
    """Confirm an approval awaiting a second approval (seniors other than the first
    approver; 403 same_approver): it becomes final, with its payout. ``confirm_amount``
    must be the approved amount (409 amount_not_confirmed)."""
    services.confirm_approval(_visible(claim_id), auth.current_user(),
                              confirm_amount=data["confirm_amount"])
    return _fresh(claim_id)


@blp.route("/claims/<id:claim_id>/send-back", methods=["POST"])
@auth.role_required(Role.SENIOR)
@blp.arguments(SendBackIn)
@blp.response(200, ClaimDetailOut)
def send_back(data, claim_id: int):
    """Send an approval awaiting a second approval back to review with a reason (seniors
    other than the first approver): the claim is under review again, nothing paid."""
    services.send_back(_visible(claim_id), auth.current_user(), data["reason"])
    return _fresh(claim_id)


@blp.route("/staff/payouts/export", methods=["POST"])
@auth.role_required(Role.FINANCE)
@blp.doc(responses={"201": {
    "description": "the batch's CSV; the batch id is in X-Arbiter-Batch-Id",
    "content": {"text/csv": {"schema": {"type": "string"}}}}})
@blp.alt_response(409, description="there is no pending payout to export")
def export_payouts():
    """Put every pending payout into a new batch and answer its CSV (finance only).

    Left out, as on the page: payouts of the caller's own purchases or sales, and payouts
    held because another buyer was paid to the same account (until a senior releases
    them). Another finance person confirms the batch paid."""
    batch = services.export_payouts(auth.current_user())
    response = Response(storage().get(batch.csv_storage_key), status=201,
                        mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="arbiter-payouts-batch-{batch.id}.csv"')
    response.headers["X-Arbiter-Batch-Id"] = str(batch.id)
    response.headers["Cache-Control"] = "private, no-store"
    return response
