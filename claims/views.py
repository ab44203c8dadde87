"""Buyer-protection pages: the public rules, the buyer's claims, the staff queue, payouts and
the claims dashboard. Each changing view: load, check, one service call, redirect
(the request's one transaction commits: arbiter.transactions).
"""


from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import format_decimal, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from accounts.auth import role_required
from accounts.roles import ANY_STAFF, Role
from appeals.policy import Terms as AppealTerms
from arbiter import clock, handover
from arbiter.errors import Checks, TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.files import Upload
from arbiter.money import format_money, to_decimal_string
from arbiter.storage import send_stored
from arbiter.validation import form_amount
from arbiter.views import confirmed, done
from claims import banking, policy, queries, services
from claims.documents import clause_texts
from claims.forms import (
    DecisionForm,
    DocumentRequestForm,
    DocumentsForm,
    FileClaimForm,
    PayoutAccountForm,
    SecondApprovalForm,
    SellerAnswerForm,
    SendBackForm,
)
from claims.models import Claim, Payout, PayoutBatch
from claims.states import (
    CLAIM_TYPE_LABELS,
    DOCUMENT_KIND_LABELS,
    FILING_DOCUMENT_KINDS,
    FILING_DOCUMENT_LABELS,
    PAYOUT_STATE_LABELS,
    REJECTION_REASON_LABELS,
    STATE_LABELS,
    ClaimState,
    ClaimType,
    Decision,
    DocumentKind,
    PayoutState,
    RejectionReason,
    allowed,
)
from claims.states import OPEN_STATES as CLAIM_OPEN_STATES
from orders.models import Order
from orders.states import PAYMENT_METHOD_LABELS, PaymentMethod

bp = Blueprint("claims", __name__)

TIMELINE_LABELS = {
    "claim.filed": _l("Claim filed"),
    "claim.take": _l("An advisor started the review"),
    "claim.withdraw": _l("Withdrawn by the buyer"),
    "claim.request_documents": _l("Documents requested"),
    "claim.documents_arrived": _l("Requested documents received; the review continues"),
    "claim.documents_added": _l("Documents added"),
    "claim.reject_after_deadline": _l("Rejected: the documents did not arrive in time"),
    "claim.approve": _l("Approved"),
    "claim.approve_partially": _l("Partially approved"),
    "claim.approve_pending_second": _l("Approved by an advisor; awaiting a second approval"),
    "claim.confirm_approval": _l("Approved (confirmed by a second approver)"),
    "claim.confirm_partial_approval": _l("Partially approved (confirmed by a second approver)"),
    "claim.send_back": _l("The approval was sent back to review"),
    "claim.reject": _l("Rejected"),
    "claim.mark_paid": _l("Compensation paid"),
    "claim.seller_answered": _l("The seller answered"),
    "claim.seller_answer_extended": _l("The seller's time to answer was extended"),
    "claim.payout_account_corrected": _l("The buyer gave a corrected bank account"),
}


@bp.route("/protection-rules")
def protection_rules():
    """The buyer protection rules: every published version, newest first, and from the
    moment one is scheduled, what it will change; no login needed."""
    published = services.policy_versions()
    now = clock.now()
    upcoming = [rules for rules in published if rules.effective_from > now]
    in_force = next((rules for rules in published if rules.effective_from <= now), None)
    announced = upcoming[-1] if upcoming and in_force else None  # the next one to apply
    return render_template(
        "claims/rules.html",
        versions=published, now=now, announced=announced, in_force=in_force,
        changes=policy.changed_fields(in_force, announced) if announced else [],
        payment_methods=list(PaymentMethod),
        payment_method_labels=PAYMENT_METHOD_LABELS,
        claim_types=list(ClaimType),
        claim_type_labels=CLAIM_TYPE_LABELS,
        document_kinds=FILING_DOCUMENT_KINDS,
        document_kind_labels=FILING_DOCUMENT_LABELS,
        # Verdicts on discussions only: a claim decision is appealed within its version's
        # window, which each version shows.
        appeal_terms=AppealTerms.from_config(current_app.config),
    )


# --- helpers ----------------------------------------------------------------------------


def _uploads(name: str) -> list[Upload]:
    return [Upload(f.filename or "", f.read()) for f in request.files.getlist(name)
            if f and f.filename]


def _upload(name: str) -> Upload | None:
    uploads = _uploads(name)
    return uploads[0] if uploads else None



def _show_error(form, error, default_field: str) -> None:
    """Put a service error next to the form field it is about (unless the form's own
    check already refused that field)."""
    name = next((key for key in error.fields if key in form), None)
    if name is None and "files" in error.fields:
        name = "documents" if "documents" in form else "files"
    field = form[name] if name in form else form[default_field]
    if name is None or not field.errors:
        field.errors = [*field.errors, error.message]


def _visible_claim(claim_id: int) -> Claim:
    claim = queries.claim_page(claim_id)
    if claim is None or not claim.can_view(current_user):
        abort(404)
    return claim


# Steps of the four-eyes review that only staff see (the parties see the final decision).
STAFF_ONLY_STEPS = frozenset({"claim.approve_pending_second", "claim.send_back"})


def _claim_page(claim: Claim, status: int = 200, **forms):
    claim = queries.claim_page(claim.id)
    staff_view = claim.can_review(current_user)
    timeline = queries.timeline(claim)
    if not staff_view:
        timeline = [entry for entry in timeline if entry.action not in STAFF_ONLY_STEPS]
    context = {
        # The seller's view has no bank account, police report or buyer's documents.
        "claim": queries.seen_by(claim, current_user),
        "timeline": timeline,
        "approval_trail": queries.approval_trail(claim) if staff_view else [],
        "clauses": clause_texts(claim, str(get_locale() or "pl")),
        "now": clock.now(),
        "is_buyer": claim.is_buyer(current_user),
        "is_seller": claim.is_seller(current_user),
        "answer_form": forms.get("answer_form") or SellerAnswerForm(formdata=None),
        "documents_form": forms.get("documents_form") or DocumentsForm(formdata=None),
        "request_form": forms.get("request_form") or DocumentRequestForm(formdata=None),
        "decision_form": forms.get("decision_form") or DecisionForm(formdata=None),
    }
    return render_template("claims/claim.html", **context), status



# --- buyer ------------------------------------------------------------------------------


@bp.route("/orders/<int:order_id>/claim", methods=["GET", "POST"])
@login_required
def file_claim(order_id: int):
    """File a protection claim on a purchase (the order's buyer only), seeing the quote."""
    order = db.session.get(Order, order_id)
    if order is None or order.buyer_id != current_user.id:
        abort(404)
    refusal = services.filing_refusal(order)
    if refusal is not None:
        return render_template("claims/cannot_file.html", order=order, refusal=refusal), 409
    form = FileClaimForm()
    if not form.is_submitted():
        return _file_form(order, form)
    # Every field and file is checked in one round, the form's own checks (lengths, the
    # choice) and the service's together, so that the buyer fixes everything at once.
    form.validate()
    checks = Checks(already_refused=form.errors)
    inputs = {
        "claim_type": None if "claim_type" in form.errors else ClaimType(form.claim_type.data),
        "description": form.description.data, "payout_account": form.payout_account.data,
        "claimed_amount": checks.run(form_amount, form.claimed_amount.data, "claimed_amount"),
        "police_report_reference": form.police_report_reference.data,
        "police_report": _upload("police_report"), "documents": _uploads("documents")}
    try:
        if form.errors or checks.problems:
            services.check_claim(order, clock.now(), **inputs, checks=checks)
            return _file_form(order, form, status=422)
        claim = services.file_claim(order, current_user._get_current_object(), **inputs)
    except TransitionNotAllowed as error:
        db.session.rollback()
        refusal = services.FilingRefusal(error.code, error.message,
                                         getattr(error, "existing", None))
        return render_template("claims/cannot_file.html", order=order, refusal=refusal), 409
    except ValidationFailed as error:
        db.session.rollback()
        for problem in getattr(error, "problems", [error]):
            _show_error(form, problem, "description")
        return _file_form(order, form, status=error.status)
    return done(url_for("claims.claim", claim_id=claim.id),
                _("Your claim was filed. We will let you know when an "
                  "advisor starts the review."))


def _file_form(order: Order, form: FileClaimForm, status: int = 200):
    """The claim form; shown again after an error, it names the files the buyer chose,
    which a browser never keeps: they must be chosen again."""
    chosen = [f.filename for name in ("police_report", "documents")
              for f in request.files.getlist(name) if f and f.filename] if status != 200 else []
    return render_template("claims/file.html", order=order, form=form, refused=status != 200,
                           files_to_choose_again=chosen,
                           document_kind_labels=FILING_DOCUMENT_LABELS,
                           quotes=services.quotes_for_order(order)), status


@bp.route("/claims")
@login_required
def mine():
    """My protection claims, newest first."""
    page = queries.buyer_claims(current_user, cursor=request.args.get("after"))
    return render_template("claims/mine.html", page=page)


@bp.route("/claims/<int:claim_id>")
@login_required
def claim(claim_id: int):
    """The claim: status timeline, quote, documents, requests, decision and payout."""
    return _claim_page(_visible_claim(claim_id))


@bp.route("/claims/<int:claim_id>/documents", methods=["POST"])
@login_required
def upload_documents(claim_id: int):
    """The buyer adds documents (answering a request, if there is one)."""
    claim = _visible_claim(claim_id)
    form = DocumentsForm()
    if not form.validate():
        return _claim_page(claim, 422, documents_form=form)
    try:
        services.upload_documents(claim, current_user._get_current_object(), _uploads("files"))
    except ValidationFailed as error:
        db.session.rollback()
        form.files.errors.append(error.message)
        return _claim_page(claim, error.status, documents_form=form)
    return done(url_for("claims.claim", claim_id=claim_id),
                _("Your documents were added to the claim."))


@bp.route("/claims/<int:claim_id>/withdraw", methods=["POST"])
@login_required
def withdraw(claim_id: int):
    """The buyer withdraws the claim (before a decision); the first post only says what that
    means (nothing changes), the confirmed one does it."""
    claim = _visible_claim(claim_id)
    if not confirmed():
        services.require_withdraw(claim, current_user._get_current_object())
        return render_template("claims/confirm_withdraw.html", claim=claim)
    services.withdraw(claim, current_user._get_current_object())
    return done(url_for("claims.claim", claim_id=claim_id), _("You withdrew the claim."))


@bp.route("/claims/<int:claim_id>/documents/<int:document_id>")
@login_required
def download(claim_id: int, document_id: int):
    """A claim document, for the buyer and staff, always as a download."""
    claim = _visible_claim(claim_id)
    document = queries.document_for(claim.id, document_id)
    if document is None or not claim.can_see_document(current_user, document):
        abort(404)  # the buyer's papers are not the seller's: as if they did not exist
    return document.download()


# --- seller -----------------------------------------------------------------------------


@bp.route("/sales/claims")
@login_required
def on_my_sales():
    """Protection claims filed on my sales, newest first, with the time left to answer."""
    page = queries.seller_claims(current_user, cursor=request.args.get("after"))
    return render_template("claims/on_my_sales.html", page=page, now=clock.now())


@bp.route("/claims/<int:claim_id>/answer", methods=["POST"])
@login_required
def answer(claim_id: int):
    """The seller answers the claim with a statement and evidence (once, within the
    window, before a decision)."""
    claim = _visible_claim(claim_id)
    form = SellerAnswerForm()
    if not form.validate():
        return _claim_page(claim, 422, answer_form=form)
    try:
        services.answer_as_seller(claim, current_user._get_current_object(),
                                  form.statement.data, _uploads("files"))
    except ValidationFailed as error:
        db.session.rollback()
        _show_error(form, error, "statement")
        return _claim_page(claim, error.status, answer_form=form)
    return done(url_for("claims.claim", claim_id=claim_id),
                _("Your answer was added to the claim. The advisor will read it before "
                  "deciding."))


# --- staff ------------------------------------------------------------------------------


@bp.route("/staff/claims")
@role_required(Role.ADVISOR)
def queue():
    """Claims awaiting a decision, the longest-waiting first, without my own cases; filter
    by type and state."""
    try:
        claim_type = ClaimType(request.args["type"]) if request.args.get("type") else None
        state = ClaimState(request.args["state"]) if request.args.get("state") else None
    except ValueError:
        abort(422)
    page = queries.claims_queue(current_user, claim_type=claim_type, state=state,
                                cursor=request.args.get("after"))
    return render_template("claims/queue.html", page=page, claim_type=claim_type,
                           state=state, now=clock.now())


@bp.route("/claims/<int:claim_id>/take", methods=["POST"])
@role_required(Role.ADVISOR)
def take(claim_id: int):
    """Start reviewing a submitted claim."""
    claim = _visible_claim(claim_id)
    services.take(claim, current_user._get_current_object())
    return done(url_for("claims.claim", claim_id=claim_id), _("The claim is yours to review."))


@bp.route("/claims/<int:claim_id>/hand-over", methods=["POST"])
@role_required(Role.ADVISOR)
def hand_over(claim_id: int):
    """Hand the claim to another advisor with a note (the handler or a senior)."""
    claim = _visible_claim(claim_id)
    to, note = handover.submitted_form()
    services.hand_over(claim, current_user._get_current_object(), to, note)
    return done(url_for("claims.claim", claim_id=claim_id), _("The claim was handed over."))


handover.register_kind("claims", handover.Kind(
    Role.ADVISOR, "assigned_staff_id", "claims.hand_over", "claim_id",
    is_open=lambda claim: claim.state in CLAIM_OPEN_STATES))


@bp.route("/claims/<int:claim_id>/document-requests", methods=["POST"])
@role_required(Role.ADVISOR)
def request_documents(claim_id: int):
    """Ask the buyer for documents, due in 7 days."""
    claim = _visible_claim(claim_id)
    form = DocumentRequestForm()
    if not form.validate():
        return _claim_page(claim, 422, request_form=form)
    services.request_documents(claim, current_user._get_current_object(), form.what.data)
    return done(url_for("claims.claim", claim_id=claim_id),
                _("Documents requested. The buyer has 7 days."))


@bp.route("/claims/<int:claim_id>/reject-after-deadline", methods=["POST"])
@role_required(Role.ADVISOR)
def reject_after_deadline(claim_id: int):
    """Reject a claim whose requested documents did not arrive by the deadline."""
    claim = _visible_claim(claim_id)
    services.reject_after_deadline(claim, current_user._get_current_object())
    return done(url_for("claims.claim", claim_id=claim_id),
                _("The claim was rejected: the documents did not arrive in time."))


@bp.route("/claims/<int:claim_id>/decide", methods=["POST"])
@role_required(Role.ADVISOR)
def decide(claim_id: int):
    """Approve, approve partially or reject. An approval first shows what it pays and to
    whom (nothing changes); the confirmed post, carrying that amount, decides."""
    claim = _visible_claim(claim_id)
    form = DecisionForm()
    if not form.validate():
        return _claim_page(claim, 422, decision_form=form)
    decision = Decision(form.decision.data)
    user = current_user._get_current_object()
    try:
        amount = form_amount(form.amount.data, "amount")
        confirm_amount = None
        if decision is not Decision.REJECTED:
            confirm_amount = form_amount(form.confirm_amount.data, "confirm_amount")
            if not form.confirmed.data or confirm_amount is None:
                # The confirmation step: what it pays and to whom; nothing changes yet.
                terms = services.approval_terms(claim, user, decision, amount)
                return render_template("claims/confirm_decision.html", claim=claim,
                                       form=form, terms=terms,
                                       confirm_amount=to_decimal_string(terms.amount))
        services.decide(
            claim, user, decision=decision, amount=amount,
            rejection_reason=(RejectionReason(form.rejection_reason.data)
                              if form.rejection_reason.data else None),
            rationale=form.rationale.data, confirm_amount=confirm_amount)
    except ValidationFailed as error:
        db.session.rollback()
        _show_error(form, error, "rationale")
        return _claim_page(claim, 422, decision_form=form)
    claim = db.session.get(Claim, claim_id)
    if claim.state is ClaimState.AWAITING_SECOND_APPROVAL:
        return done(url_for("claims.claim", claim_id=claim_id),
                    _("Your approval of %(amount)s is recorded. It pays more than "
                      "%(threshold)s, so a senior other than you must confirm it before it "
                      "is final.",
                      amount=_money(claim.approved_amount, claim),
                      threshold=_money(services.second_approval_above(), claim)))
    return done(url_for("claims.claim", claim_id=claim_id), _("The decision was issued."))


def _money(amount: int, claim: Claim) -> str:
    return format_money(amount, claim.order.currency, str(get_locale() or "pl"))


@bp.route("/staff/claims/second-approvals")
@role_required(Role.SENIOR)
def second_approvals():
    """Approvals awaiting a second senior: amount, buyer and first approver, the
    longest-waiting first (none on my own purchases or sales)."""
    page = queries.second_approval_queue(current_user, cursor=request.args.get("after"))
    return render_template("claims/second_approvals.html", page=page,
                           threshold=services.second_approval_above())


def _second_approval_page(claim: Claim, status: int = 200, send_back_form=None):
    claim = queries.claim_page(claim.id)
    return render_template(
        "claims/second_approval.html", claim=claim,
        approval_trail=queries.approval_trail(claim),
        confirm_form=SecondApprovalForm(formdata=None,
                                        confirm_amount=to_decimal_string(claim.approved_amount)),
        send_back_form=send_back_form or SendBackForm(formdata=None),
        may_approve=claim.can_second_approve(current_user),
        threshold=services.second_approval_above()), status


@bp.route("/claims/<int:claim_id>/second-approval")
@role_required(Role.SENIOR)
def second_approval(claim_id: int):
    """The second approval's confirmation page: the amount, who receives it, to which
    account, the first approver and their rationale; confirm or send back."""
    claim = _visible_claim(claim_id)
    if not claim.awaits_second_approval:
        return redirect(url_for("claims.claim", claim_id=claim_id))
    return _second_approval_page(claim)


@bp.route("/claims/<int:claim_id>/second-approval/confirm", methods=["POST"])
@role_required(Role.SENIOR)
def confirm_approval(claim_id: int):
    """Confirm the approval of the amount shown: it becomes final and is paid."""
    claim = _visible_claim(claim_id)
    form = SecondApprovalForm()
    if not form.validate():
        abort(422)
    amount = form_amount(form.confirm_amount.data, "confirm_amount")
    services.confirm_approval(claim, current_user._get_current_object(),
                              confirm_amount=amount)
    return done(url_for("claims.claim", claim_id=claim_id),
                _("The approval is confirmed: %(amount)s will be paid to %(name)s.",
                  amount=_money(amount, claim), name=claim.buyer.name))


@bp.route("/claims/<int:claim_id>/second-approval/send-back", methods=["POST"])
@role_required(Role.SENIOR)
def send_back(claim_id: int):
    """Send the approval back to review with a reason (the first approver is told)."""
    claim = _visible_claim(claim_id)
    form = SendBackForm()
    if not form.validate() and claim.awaits_second_approval:
        return _second_approval_page(claim, 422, send_back_form=form)
    # The service refuses a party (403), a claim that waits for no second approval (409)
    # and a reason too short (422): only an approval that waits has a page for the form.
    services.send_back(claim, current_user._get_current_object(), form.reason.data or "")
    return done(url_for("claims.claim", claim_id=claim_id),
                _("The approval was sent back to review; the first approver is told why."))


@bp.route("/staff/payouts")
@role_required(Role.FINANCE)
def payouts():
    """Where the payouts stand, the pending ones (and the held ones) and the batches."""
    preview = services.export_preview(current_user._get_current_object())
    batches = queries.payout_batches()
    return render_template("claims/payouts.html", preview=preview,
                           pending=preview.payouts, pending_total=preview.total,
                           held=preview.held,
                           tallies=queries.payout_tallies(), batches=batches,
                           last_batch=batches[0] if batches else None,
                           awaiting_account=queries.payouts_awaiting_account())


@bp.route("/staff/payouts/export")
@role_required(Role.FINANCE)
def confirm_export():
    """Before the export: the total, the number of payouts and to whom, to confirm."""
    preview = services.export_preview(current_user._get_current_object())
    return render_template("claims/payouts_export.html", preview=preview)


@bp.route("/staff/payouts/export", methods=["POST"])
@role_required(Role.FINANCE)
def export_payouts():
    """Put the pending payouts confirmed on the previous page into a new batch and download
    its CSV (409 when the list changed meanwhile)."""
    expected = request.form.getlist("payout_id", type=int)
    try:
        batch = services.export_payouts(current_user._get_current_object(),
                                        expected_ids=expected)
    except services.ExportChanged as error:
        db.session.rollback()
        flash(error.message, "warning")
        preview = services.export_preview(current_user._get_current_object())
        return render_template("claims/payouts_export.html", preview=preview), 409
    flash(ngettext("Batch #%(id)s exported: %(num)d payout, %(total)s.",
                   "Batch #%(id)s exported: %(num)d payouts, %(total)s.", batch.payout_count,
                   id=batch.id, total=format_money(batch.total_amount, batch.currency,
                                                   str(get_locale() or "pl"))), "success")
    return redirect(url_for("claims.batch_csv", batch_id=batch.id), 303)


@bp.route("/staff/payouts/batches/<int:batch_id>.csv")
@role_required(Role.FINANCE)
def batch_csv(batch_id: int):
    """The batch's CSV exactly as exported (its SHA-256 is on the batch)."""
    batch = db.session.get(PayoutBatch, batch_id)
    if batch is None:
        abort(404)
    return send_stored(batch.csv_storage_key, filename=f"arbiter-payouts-batch-{batch.id}.csv",
                       mimetype="text/csv")


@bp.route("/staff/payouts/batches/<int:batch_id>")
@role_required(Role.FINANCE)
def batch(batch_id: int):
    """One batch: its payouts, the confirmation that it was paid (by someone other than
    its exporter), and, once paid, recording a transfer the bank returned."""
    found = queries.payout_batch(batch_id)
    if found is None:
        abort(404)
    return render_template("claims/payouts_batch.html", batch=found)


@bp.route("/staff/payouts/batches/<int:batch_id>/paid", methods=["POST"])
@role_required(Role.FINANCE)
def mark_batch_paid(batch_id: int):
    """Finance confirmed the transfers: the batch's claims are paid. Safe to repeat."""
    changed = services.mark_batch_paid(batch_id, current_user._get_current_object())
    if changed:
        flash(_("Batch #%(id)s is marked as paid.", id=batch_id), "success")
    else:
        flash(_("Batch #%(id)s was already marked as paid; nothing changed.", id=batch_id),
              "info")
    return redirect(url_for("claims.batch", batch_id=batch_id))


@bp.route("/staff/payouts/<int:payout_id>/failed", methods=["POST"])
@role_required(Role.FINANCE)
def fail_payout(payout_id: int):
    """The bank returned this payout's transfer: record it with the reason; the buyer is
    asked for a corrected account."""
    try:
        payout = services.fail_payout(payout_id, current_user._get_current_object(),
                                      request.form.get("reason", ""))
    except ValidationFailed as error:
        db.session.rollback()
        flash(_("Give the bank's reason for the return: %(problem)s", problem=error.message),
              "danger")
        found = db.session.get(Payout, payout_id)
        if found is None or found.batch_id is None:
            abort(404)
        return render_template("claims/payouts_batch.html",
                               batch=queries.payout_batch(found.batch_id)), 422
    return done(url_for("claims.batch", batch_id=payout.batch_id),
                _("Payout #%(id)s is recorded as returned by the bank; the buyer was asked "
                  "for a corrected account.", id=payout.id))


@bp.route("/staff/payouts/held")
@role_required(Role.SENIOR, Role.FINANCE)
def held_payouts():
    """Payouts held because another buyer was paid to the same account, with those
    buyers; a senior (not a party, not the approver) releases one with a note."""
    held = queries.held_payouts()
    return render_template("claims/payouts_held.html", held=held,
                           may_release=current_user.has_role(Role.SENIOR))


@bp.route("/staff/payouts/<int:payout_id>/release", methods=["POST"])
@role_required(Role.SENIOR)
def release_payout(payout_id: int):
    """Let a held payout go into the next export (seniors only), with a note."""
    try:
        services.release_payout(payout_id, current_user._get_current_object(),
                                request.form.get("note", ""))
    except ValidationFailed as error:
        db.session.rollback()
        flash(_("Write a note of at least 10 characters: %(problem)s", problem=error.message),
              "danger")
        return render_template("claims/payouts_held.html", held=queries.held_payouts(),
                               may_release=True), 422
    return done(url_for("claims.held_payouts"),
                _("Payout #%(id)s is released for the next export.", id=payout_id))


@bp.route("/claims/<int:claim_id>/payout-account", methods=["GET", "POST"])
@login_required
def payout_account(claim_id: int):
    """The buyer gives a corrected bank account for a payout the bank returned."""
    claim = _visible_claim(claim_id)
    if not claim.is_buyer(current_user):
        abort(404)
    form = PayoutAccountForm()
    if form.validate_on_submit():
        try:
            services.correct_payout_account(claim, current_user._get_current_object(),
                                            form.payout_account.data)
        except ValidationFailed as error:
            db.session.rollback()
            _show_error(form, error, "payout_account")
        else:
            return done(url_for("claims.claim", claim_id=claim_id),
                        _("Thank you: the payout will be sent to the corrected account with "
                          "the next transfer batch."))
    status = 422 if form.errors else 200
    return render_template("claims/payout_account.html", claim=claim, form=form), status


@bp.route("/staff/claims/dashboard")
@role_required(*ANY_STAFF)
def dashboard():
    """Claims paid per order, the total paid and the median time to a decision."""
    stats = queries.dashboard()
    share = stats.paid_percent
    return render_template(
        "claims/dashboard.html", stats=stats,
        paid_share=None if share is None else format_decimal(share, format="#,##0.0000"))


@bp.app_context_processor
def _labels():
    def filing_refusal(order):
        return services.filing_refusal(order)

    return {
        "claim_type_label": lambda value: CLAIM_TYPE_LABELS[ClaimType(value)],
        "claim_state_label": lambda value: STATE_LABELS[ClaimState(value)],
        "rejection_reason_label": lambda value: REJECTION_REASON_LABELS[RejectionReason(value)],
        "document_kind_label": lambda value: DOCUMENT_KIND_LABELS[DocumentKind(value)],
        "payout_state_label": lambda value: PAYOUT_STATE_LABELS[PayoutState(value)],
        "timeline_label": lambda action: TIMELINE_LABELS.get(action, action),
        "claim_action_allowed": allowed,
        "claim_filing_refusal": filing_refusal,
        "protection_quotes": services.quotes_for_order,
        "exclusive_claim_for": services.exclusive_claim_for,
        "grouped_account": banking.grouped,
    }
