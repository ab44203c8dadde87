"""Discussion pages for buyers, sellers and staff. Each changing view: load, check, one service
call, redirect (the request's one transaction commits: arbiter.transactions)."""


from flask import (
    Blueprint,
    abort,
    render_template,
    request,
    url_for,
)
from flask_babel import format_datetime, format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from accounts.auth import role_required
from accounts.roles import ANY_STAFF
from accounts.roles import Role as StaffRole
from arbiter import clock, handover
from arbiter.errors import TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.files import Upload
from arbiter.money import to_decimal_string
from arbiter.validation import bounded_int, form_amount
from arbiter.views import confirmed, done
from disputes import queries, services
from disputes.forms import (
    DecisionForm,
    EscalateForm,
    InformationRequestForm,
    MessageForm,
    OfferForm,
    OpenDiscussionForm,
)
from disputes.models import Discussion, Offer
from disputes.queries import MAX_QUEUE_AGE_HOURS
from disputes.states import (
    OFFER_LABELS,
    OUTCOME_LABELS,
    PARTY_LABELS,
    REASON_LABELS,
    STATE_LABELS,
    VERDICT_LABELS,
    DiscussionState,
    EntryKind,
    ExpectedOutcome,
    OfferKind,
    OfferState,
    Party,
    Reason,
    Role,
    Verdict,
)
from orders.models import Order
from settlements import policy as settlement_policy
from settlements import queries as settlement_queries
from settlements import services as ledger
from settlements.forms import ProofForm, ReportFailedForm
from settlements.states import (
    KIND_LABELS,
    SETTLED_VIA_LABELS,
    SettledVia,
    SettlementKind,
    SettlementState,
    Source,
)
from settlements.states import STATE_LABELS as SETTLEMENT_STATE_LABELS

bp = Blueprint("disputes", __name__)


def _uploads() -> list[Upload]:
    return [Upload(f.filename or "", f.read()) for f in request.files.getlist("files")
            if f and f.filename]


def _visible_discussion(discussion_id: int) -> Discussion:
    """The discussion (without its thread: the service reads what it changes), or 404."""
    discussion = db.session.get(Discussion, discussion_id)
    if discussion is None or not discussion.can_view(current_user):
        abort(404)
    return discussion


def _visible_thread(discussion_id: int) -> Discussion:
    """The discussion with its whole thread, or 404."""
    discussion = queries.thread(discussion_id)
    if discussion is None or not discussion.can_view(current_user):
        abort(404)
    return discussion


def _thread_page(discussion: Discussion, status: int = 200, **forms):
    """The thread page after a refused change: read again (the session was rolled back)."""
    return _render_thread(_visible_thread(discussion.id), status, **forms)


_FORMS = {"message_form": MessageForm, "offer_form": OfferForm,
          "escalate_form": EscalateForm, "info_form": InformationRequestForm,
          "decision_form": DecisionForm}


def _render_thread(discussion: Discussion, status: int = 200, *,
                   refused_promise: tuple[int, str, object] | None = None, **forms):
    """The thread page; ``forms`` are the ones holding the input just refused, the
    others are blank (not filled from this request's form data). ``refused_promise`` is
    (settlement id, "failed" or "proof", form) for a follow-through form refused."""
    blank = {name: form_class(formdata=None) for name, form_class in _FORMS.items()
             if name not in forms}
    now = clock.now()
    terms = ledger.terms()
    promises = [settlement_queries.follow_through(row, now, terms)
                for row in settlement_queries.for_discussion(discussion.id)]
    promise_forms = {p.row.id: _promise_forms(p.row.id) for p in promises}
    if refused_promise is not None and refused_promise[0] in promise_forms:
        settlement_id, name, form = refused_promise
        promise_forms[settlement_id][name] = form
    # The verdict's bound is what the order may still refund, not its total (settlements/).
    decision_form = forms.get("decision_form") or blank["decision_form"]
    room = ledger.format_money(discussion.order.compensation_remaining,
                               discussion.order.currency, ledger.current_locale())
    decision_form.amount.description = _(
        "Buyer's favour: defaults to what the order may still refund, %(room)s. "
        "Partial: between 0.01 and %(room)s.", room=room)
    pending = next((o for o in discussion.offers if o.state is OfferState.PENDING), None)
    return render_template("disputes/thread.html", discussion=discussion,
                           offer_terms=accept_terms(pending) if pending else None,
                           role=discussion.role_of(current_user), now=now,
                           promises=promises, promise_forms=promise_forms,
                           platform_claim_id=_platform_claim_id(discussion),
                           **blank, **forms), status


def _promise_prefix(settlement_id: int) -> str:
    """Each promise's forms have their own field names and ids (a page may show several)."""
    return f"settlement-{settlement_id}"


def _promise_forms(settlement_id: int, formdata=None) -> dict:
    prefix = _promise_prefix(settlement_id)
    return {"failed": ReportFailedForm(formdata=formdata, prefix=prefix),
            "proof": ProofForm(formdata=formdata, prefix=prefix)}


def _platform_claim_id(discussion: Discussion) -> int | None:
    """The claim whose approval ended the discussion (its thread's system note says)."""
    for entry in reversed(discussion.entries):
        data = entry.data or {}
        if entry.kind is EntryKind.SYSTEM_NOTE and data.get("action") == "settled_by_platform":
            return data.get("claim_id")
    return None



@bp.route("/orders/<int:order_id>/report", methods=["GET", "POST"])
@login_required
def open_discussion(order_id: int):
    """Report a problem with a purchase (the order's buyer only)."""
    order = db.session.get(Order, order_id)
    if order is None or order.buyer_id != current_user.id:
        abort(404)
    existing = services.open_discussion_for(order)
    if existing is not None:
        return render_template("disputes/already_open.html", existing=existing), 409
    refusal = services.opening_refusal(order)
    if refusal is not None:
        return render_template("disputes/cannot_open.html", order=order, refusal=refusal), 409
    form = OpenDiscussionForm()
    if form.validate_on_submit():
        try:
            discussion = services.open_discussion(
                order, current_user._get_current_object(),
                reason=Reason(form.reason.data),
                expected_outcome=ExpectedOutcome(form.expected_outcome.data),
                description=form.description.data, uploads=_uploads())
        except services.DiscussionAlreadyOpen as error:
            db.session.rollback()
            return render_template("disputes/already_open.html",
                                   existing=error.existing), 409
        except TransitionNotAllowed as error:  # fully compensated while the form was open
            db.session.rollback()
            return render_template("disputes/cannot_open.html", order=order,
                                   refusal=error), 409
        except ValidationFailed as error:
            db.session.rollback()
            target = form.files if "files" in error.fields else form.description
            target.errors.append(error.message)
            return render_template("disputes/open.html", form=form, order=order), error.status
        return done(url_for("disputes.thread", discussion_id=discussion.id),
                    _("Your report was sent to the seller."))
    status = 422 if form.is_submitted() else 200
    return render_template("disputes/open.html", form=form, order=order), status


@bp.route("/discussions")
@login_required
def mine():
    """The discussions I opened as a buyer."""
    page = queries.buyer_discussions(current_user, cursor=request.args.get("after"))
    return render_template("disputes/mine.html", page=page)


@bp.route("/seller/inbox")
@login_required
def inbox():
    """Discussions about my sales, nearest deadline first, overdue ones marked."""
    page = queries.seller_inbox(current_user, cursor=request.args.get("after"))
    return render_template("disputes/inbox.html", page=page, now=clock.now())


@bp.route("/discussions/<int:discussion_id>")
@login_required
def thread(discussion_id: int):
    """The thread, the deadlines and the actions open to the viewer."""
    return _render_thread(_visible_thread(discussion_id))


@bp.route("/discussions/<int:discussion_id>/messages", methods=["POST"])
@login_required
def post_message(discussion_id: int):
    """Write in the thread, optionally with evidence files."""
    discussion = _visible_discussion(discussion_id)
    form = MessageForm()
    if not form.validate():
        return _thread_page(discussion, 422, message_form=form)
    try:
        services.post_message(discussion, current_user._get_current_object(),
                              form.body.data, _uploads())
    except ValidationFailed as error:
        db.session.rollback()
        (form.files if "files" in error.fields else form.body).errors.append(error.message)
        return _thread_page(discussion, error.status, message_form=form)
    return done(url_for("disputes.thread", discussion_id=discussion_id), _("Message sent."))


@bp.route("/discussions/<int:discussion_id>/offers", methods=["POST"])
@login_required
def make_offer(discussion_id: int):
    """The seller proposes a refund, a partial refund, a replacement or a repair."""
    discussion = _visible_discussion(discussion_id)
    form = OfferForm()
    if not form.validate():
        return _thread_page(discussion, 422, offer_form=form)
    try:
        services.make_offer(discussion, current_user._get_current_object(),
                            kind=OfferKind(form.kind.data),
                            amount=form_amount(form.amount.data, "amount"), note=form.note.data)
    except ValidationFailed as error:
        db.session.rollback()
        form.amount.errors.append(error.message)
        return _thread_page(discussion, 422, offer_form=form)
    return done(url_for("disputes.thread", discussion_id=discussion_id),
                _("Your offer was sent to the buyer."))


@bp.route("/discussions/<int:discussion_id>/offers/<int:offer_id>/accept")
@login_required
def confirm_accept(discussion_id: int, offer_id: int):
    """Before accepting, the buyer reads what the offer means: what the seller must do by
    when, and what happens if it does not arrive. The button posts to ``answer_offer``."""
    return _accept_page(_visible_thread(discussion_id), offer_id)


def _accept_page(discussion: Discussion, offer_id: int):
    """The confirmation of accepting ``offer_id`` (nothing changes)."""
    offer = services.acceptable_offer(discussion, current_user._get_current_object(), offer_id)
    return render_template("disputes/accept_offer.html", discussion=discussion, offer=offer,
                           **accept_terms(offer))


def accept_terms(offer: Offer) -> dict:
    """What accepting ``offer`` now would promise: its due dates and the days the buyer has
    to contest a proof (the confirmation page and the thread's dialog say it)."""
    terms = ledger.terms()
    return {"dates": settlement_policy.due_dates(SettlementKind(offer.kind.value),
                                                 clock.now(), terms),
            "contest_days": terms.contest_days}


@bp.route("/discussions/<int:discussion_id>/offers/<int:offer_id>/<any(accept, decline):answer>",
          methods=["POST"])
@login_required
def answer_offer(discussion_id: int, offer_id: int, answer: str):
    """The buyer accepts (the discussion then waits for fulfilment) or declines an offer."""
    discussion = _visible_discussion(discussion_id)
    user = current_user._get_current_object()
    if answer == "accept":
        if not confirmed():
            return _accept_page(_visible_thread(discussion_id), offer_id)
        promise = services.accept_offer(discussion, user, offer_id)
        return done(url_for("disputes.thread", discussion_id=discussion_id),
                    _("You accepted the offer. The seller has until %(when)s; confirm here "
                      "when it arrives.", when=format_datetime(promise.due_at, "short")))
    services.decline_offer(discussion, user, offer_id)
    return done(url_for("disputes.thread", discussion_id=discussion_id),
                _("You declined the offer."))


# --- follow-through of a promise: one view per action, one service call each ----------------


def _promise_of(discussion_id: int, settlement_id: int):
    """The discussion (404 unless the viewer may see it) and its promise (404 unless the
    settlement belongs to it); the service then refuses anyone but the right party (404)."""
    discussion = _visible_discussion(discussion_id)
    row = settlement_queries.in_discussion(discussion.id, settlement_id)
    if row is None:
        abort(404)
    return discussion, row


@bp.route("/discussions/<int:discussion_id>/settlements/<int:settlement_id>/confirm",
          methods=["POST"])
@login_required
def confirm_settlement(discussion_id: int, settlement_id: int):
    """The buyer says the money or the goods arrived."""
    _promise_of(discussion_id, settlement_id)
    ledger.confirm(settlement_id, current_user._get_current_object())
    return done(url_for("disputes.thread", discussion_id=discussion_id),
                _("Thank you: you confirmed that it arrived."))


@bp.route("/discussions/<int:discussion_id>/settlements/<int:settlement_id>/failed",
          methods=["POST"])
@login_required
def report_settlement_failed(discussion_id: int, settlement_id: int):
    """The buyer says it did not arrive (the service refuses it before it may: 409)."""
    discussion, row = _promise_of(discussion_id, settlement_id)
    form = ReportFailedForm(prefix=_promise_prefix(settlement_id))
    if not form.validate():
        return _thread_page(discussion, 422, refused_promise=(settlement_id, "failed", form))
    ledger.report_failed(settlement_id, current_user._get_current_object(),
                         form.note.data or "")
    if row.source is Source.VERDICT:
        message = _("You reported that it did not arrive. Your buyer protection continues: "
                    "the order page shows what you can do next.")
    else:
        message = _("You reported that it did not arrive. The discussion is open again and "
                    "you can ask the platform for help now.")
    return done(url_for("disputes.thread", discussion_id=discussion_id), message)


@bp.route("/discussions/<int:discussion_id>/settlements/<int:settlement_id>/proof",
          methods=["POST"])
@login_required
def submit_settlement_proof(discussion_id: int, settlement_id: int):
    """The seller marks the promise as done with a transfer confirmation or tracking number."""
    discussion, _row = _promise_of(discussion_id, settlement_id)
    form = ProofForm(prefix=_promise_prefix(settlement_id))
    if not form.validate():
        return _thread_page(discussion, 422, refused_promise=(settlement_id, "proof", form))
    row = ledger.submit_proof(settlement_id, current_user._get_current_object(),
                              form.reference.data)
    return done(url_for("disputes.thread", discussion_id=discussion_id),
                _("Thank you. The buyer can say it did not arrive until %(when)s; after that "
                  "it counts as received.", when=format_datetime(
                      settlement_policy.contest_until(row.proof_at, ledger.terms()), "short")))


_FINISH_ACTIONS = {"solve": "close_as_solved", "withdraw": "withdraw"}


@bp.route("/discussions/<int:discussion_id>/<any(solve, withdraw):action>", methods=["POST"])
@login_required
def finish(discussion_id: int, action: str):
    """The buyer closes the discussion as solved, or withdraws it; the first post only
    says what that means (nothing changes), the confirmed one does it."""
    discussion = _visible_discussion(discussion_id)
    user = current_user._get_current_object()
    if not confirmed():
        services.require_finish(discussion, user, _FINISH_ACTIONS[action])
        return render_template("disputes/confirm_finish.html", d=discussion, action=action)
    if action == "solve":
        services.close_as_solved(discussion, user)
        return done(url_for("disputes.thread", discussion_id=discussion_id),
                    _("The discussion is closed as solved."))
    services.withdraw(discussion, user)
    return done(url_for("disputes.thread", discussion_id=discussion_id),
                _("You withdrew the discussion."))


@bp.route("/discussions/<int:discussion_id>/escalate", methods=["POST"])
@login_required
def escalate(discussion_id: int):
    """Ask the platform for help (from 24 h after opening)."""
    discussion = _visible_discussion(discussion_id)
    form = EscalateForm()
    if not form.validate():
        return _thread_page(discussion, 422, escalate_form=form)
    services.escalate(discussion, current_user._get_current_object(), form.reason.data)
    return done(url_for("disputes.thread", discussion_id=discussion_id),
                _("The platform will look at your case."))


@bp.route("/discussions/<int:discussion_id>/attachments/<int:attachment_id>")
@login_required
def download(discussion_id: int, attachment_id: int):
    """An evidence file, for the two parties and staff, always as a download."""
    discussion = _visible_discussion(discussion_id)
    attachment = queries.attachment_for(discussion.id, attachment_id)
    if attachment is None:
        abort(404)
    return attachment.download()


# --- staff -----------------------------------------------------------------------------


@bp.route("/staff/escalations")
@role_required(StaffRole.ADVISOR)
def queue():
    """Escalated discussions, the longest waiting first (``?sort=newest``: the newest), without
    my own cases; filter by reason and age."""
    reason = request.args.get("reason") or None
    age = bounded_int(request.args.get("older_than"), "older_than", minimum=1,
                      maximum=MAX_QUEUE_AGE_HOURS)
    sort = request.args.get("sort", "longest")
    try:
        reason_filter = Reason(reason) if reason else None
    except ValueError:
        abort(422)
    if sort not in ("longest", "newest"):
        abort(422)
    page = queries.escalation_queue(current_user, reason=reason_filter, older_than_hours=age,
                                    cursor=request.args.get("after"),
                                    longest_waiting_first=sort == "longest")
    return render_template("disputes/queue.html", page=page, reason=reason, older_than=age,
                           sort=sort, now=clock.now())


@bp.route("/discussions/<int:discussion_id>/take", methods=["POST"])
@role_required(StaffRole.ADVISOR)
def take(discussion_id: int):
    """Take the case; one advisor at a time."""
    discussion = _visible_discussion(discussion_id)
    services.take_case(discussion, current_user._get_current_object())
    return done(url_for("disputes.thread", discussion_id=discussion_id), _("The case is yours."))


@bp.route("/discussions/<int:discussion_id>/hand-over", methods=["POST"])
@role_required(StaffRole.ADVISOR)
def hand_over(discussion_id: int):
    """Hand the case to another advisor with a note (the handler or a senior)."""
    discussion = _visible_discussion(discussion_id)
    to, note = handover.submitted_form()
    services.hand_over(discussion, current_user._get_current_object(), to, note)
    return done(url_for("disputes.thread", discussion_id=discussion_id),
                _("The case was handed over."))


handover.register_kind("discussions", handover.Kind(
    StaffRole.ADVISOR, "assigned_staff_id", "disputes.hand_over", "discussion_id",
    is_open=lambda discussion: discussion.state is DiscussionState.ESCALATED))


@bp.route("/discussions/<int:discussion_id>/information-requests", methods=["POST"])
@role_required(StaffRole.ADVISOR)
def request_information(discussion_id: int):
    """Ask the buyer or the seller for information, due in 72 h."""
    discussion = _visible_discussion(discussion_id)
    form = InformationRequestForm()
    if not form.validate():
        return _thread_page(discussion, 422, info_form=form)
    services.request_information(discussion, current_user._get_current_object(),
                                 party=Party(form.party.data), question=form.question.data)
    return done(url_for("disputes.thread", discussion_id=discussion_id),
                _("Information requested."))


@bp.route("/discussions/<int:discussion_id>/decide", methods=["POST"])
@role_required(StaffRole.ADVISOR)
def decide(discussion_id: int):
    """Issue the final verdict. One that makes the seller pay first shows how much, to whom
    and by when (nothing changes); the confirmed post, carrying that amount, decides."""
    discussion = _visible_discussion(discussion_id)
    form = DecisionForm()
    if not form.validate():
        return _thread_page(discussion, 422, decision_form=form)
    staff = current_user._get_current_object()
    verdict = Verdict(form.verdict.data)
    try:
        amount = form_amount(form.amount.data, "amount")
        confirm_amount = None
        if form.confirmed.data:
            confirm_amount = form_amount(form.confirm_amount.data, "confirm_amount")
        else:
            refund = services.verdict_terms(discussion, staff, verdict, amount)
            if refund:
                return render_template(
                    "disputes/confirm_verdict.html", d=discussion, form=form, refund=refund,
                    due_days=ledger.terms().verdict_days,
                    confirm_amount=to_decimal_string(refund))
        services.decide(discussion, staff, verdict=verdict, amount=amount,
                        rationale=form.rationale.data, confirm_amount=confirm_amount)
    except ValidationFailed as error:
        db.session.rollback()
        (form.amount if "amount" in error.fields else form.rationale).errors.append(
            error.message)
        return _thread_page(discussion, 422, decision_form=form)
    return done(url_for("disputes.thread", discussion_id=discussion_id),
                _("The verdict was issued."))


@bp.route("/staff/dashboard")
@role_required(*ANY_STAFF)
def dashboard():
    """How discussions end and how sellers answer."""
    return render_template("disputes/dashboard.html",
                           no_intervention=queries.ended_without_intervention(),
                           on_time=queries.seller_on_time_rate())


@bp.route("/sellers/<int:seller_id>")
def seller_profile(seller_id: int):
    """Public: how the seller's discussions of the last 12 months went, from 10 of them on,
    and how the appeals of the decisions on their orders ended.

    Only the display name and rates; 404 for anyone who has never sold anything.
    """
    from appeals.figures import appeal_figures
    from disputes import policy

    now = clock.now()
    since = policy.profile_window_start(now)
    record = queries.seller_record(seller_id, opened_since=since, now=now)
    if record is None:
        abort(404)
    return render_template("disputes/seller.html", record=record,
                           enough=policy.profile_has_enough_data(record.discussions),
                           minimum=policy.PROFILE_MIN_DISCUSSIONS,
                           appeals=appeal_figures(since=since, seller_id=seller_id))



@bp.app_template_filter("share")
def _share(rate: queries.Rate, places: int = 1) -> str:
    """A rate in per cent in the reader's locale ("75,0 %"), or a dash without data."""
    value = rate.share(places)
    return "—" if value is None else f"{format_decimal(value, format='#,##0.' + '0' * places)} %"


@bp.app_context_processor
def _labels():
    """Label helpers for templates: the translated name of each state, reason, offer..."""
    return _LABEL_HELPERS


def _label(labels: dict, kind):
    return lambda value: labels[kind(value)]


_ROLE_LABELS = {Role.BUYER: _l("buyer"), Role.SELLER: _l("seller"), Role.STAFF: _l("staff"),
                Role.SYSTEM: _l("system")}
_SYSTEM_NOTES = {
    "offer_declined": _l("The buyer declined the offer."),
    "taken": _l("An advisor took the case."),
    "handed_over": _l("Another advisor took over the case."),
    "promise_broken": _l("The promise was not kept. The discussion is open again and the "
                         "buyer can ask the platform for help at once."),
    "verdict_refund_confirmed": _l("The refund the verdict ordered was confirmed."),
    "verdict_refund_failed": _l("The refund the verdict ordered did not arrive."),
    "verdict_refund_cancelled": _l("The refund the verdict ordered was taken over by the "
                                   "platform."),
}


def _system_note(data: dict | None) -> str:
    data = data or {}
    if data.get("action") == "information_requests_closed":
        parties = data.get("parties") or []
        if len(parties) == 1:
            return _("The platform no longer waits for the information it requested from "
                     "%(party)s: the case has moved on, so no answer is needed.",
                     party=PARTY_LABELS[Party(parties[0])])
        return _("The platform no longer waits for the information it requested from the "
                 "buyer and the seller: the case has moved on, so no answer is needed.")
    if data.get("action") == "settled_by_platform":
        return _("The platform approved protection claim #%(id)s for this order; this "
                 "discussion has ended.", id=data.get("claim_id"))
    return _SYSTEM_NOTES.get(data.get("action"), "")


_LABEL_HELPERS = {
    "reason_label": _label(REASON_LABELS, Reason),
    "outcome_label": _label(OUTCOME_LABELS, ExpectedOutcome),
    "state_label": _label(STATE_LABELS, DiscussionState),
    "offer_label": _label(OFFER_LABELS, OfferKind),
    "party_label": _label(PARTY_LABELS, Party),
    "verdict_label": _label(VERDICT_LABELS, Verdict),
    "role_label": _label(_ROLE_LABELS, Role),
    "system_note": _system_note,
    "settlement_kind_label": _label(KIND_LABELS, SettlementKind),
    "settlement_state_label": _label(SETTLEMENT_STATE_LABELS, SettlementState),
    "settled_via_label": _label(SETTLED_VIA_LABELS, SettledVia),
    "open_discussion_for": services.open_discussion_for,
    "discussion_opening_refusal": services.opening_refusal,
}
