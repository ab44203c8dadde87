"""Discussion pages for buyers, sellers and staff. Each changing view: load, check, one service
call, redirect (the request's one transaction commits: arbiter.transactions)."""


from flask import (
    Blueprint,
    abort,
    render_template,
    request,
    url_for,
)
from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from accounts.auth import staff_required
from arbiter import clock
from arbiter.errors import ValidationFailed
from arbiter.extensions import db
from arbiter.files import Upload
from arbiter.validation import form_amount
from arbiter.views import done
from disputes import queries, services
from disputes.forms import (
    DecisionForm,
    EscalateForm,
    InformationRequestForm,
    MessageForm,
    OfferForm,
    OpenDiscussionForm,
)
from disputes.models import Discussion
from disputes.states import (
    OFFER_LABELS,
    OUTCOME_LABELS,
    PARTY_LABELS,
    REASON_LABELS,
    STATE_LABELS,
    VERDICT_LABELS,
    DiscussionState,
    ExpectedOutcome,
    OfferKind,
    Party,
    Reason,
    Role,
    Verdict,
)
from orders.models import Order

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


def _render_thread(discussion: Discussion, status: int = 200, **forms):
    """The thread page; ``forms`` are the ones holding the input just refused, the
    others are blank (not filled from this request's form data)."""
    blank = {name: form_class(formdata=None) for name, form_class in _FORMS.items()
             if name not in forms}
    return render_template("disputes/thread.html", discussion=discussion,
                           role=discussion.role_of(current_user), now=clock.now(),
                           **blank, **forms), status



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


@bp.route("/discussions/<int:discussion_id>/offers/<int:offer_id>/<any(accept, decline):answer>",
          methods=["POST"])
@login_required
def answer_offer(discussion_id: int, offer_id: int, answer: str):
    """The buyer accepts (the discussion is resolved) or declines an offer."""
    discussion = _visible_discussion(discussion_id)
    user = current_user._get_current_object()
    if answer == "accept":
        services.accept_offer(discussion, user, offer_id)
        return done(url_for("disputes.thread", discussion_id=discussion_id),
                    _("You accepted the offer. The discussion is resolved."))
    services.decline_offer(discussion, user, offer_id)
    return done(url_for("disputes.thread", discussion_id=discussion_id),
                _("You declined the offer."))


@bp.route("/discussions/<int:discussion_id>/<any(solve, withdraw):action>", methods=["POST"])
@login_required
def finish(discussion_id: int, action: str):
    """The buyer closes the discussion as solved, or withdraws it."""
    discussion = _visible_discussion(discussion_id)
    user = current_user._get_current_object()
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
@staff_required
def queue():
    """Escalated discussions, oldest first, without my own cases; filter by reason and age."""
    reason = request.args.get("reason") or None
    age = request.args.get("older_than", type=int)
    try:
        reason_filter = Reason(reason) if reason else None
    except ValueError:
        abort(422)
    page = queries.escalation_queue(current_user, reason=reason_filter, older_than_hours=age,
                                    cursor=request.args.get("after"))
    return render_template("disputes/queue.html", page=page, reason=reason, older_than=age,
                           now=clock.now())


@bp.route("/discussions/<int:discussion_id>/take", methods=["POST"])
@staff_required
def take(discussion_id: int):
    """Take the case; one advisor at a time."""
    discussion = _visible_discussion(discussion_id)
    services.take_case(discussion, current_user._get_current_object())
    return done(url_for("disputes.thread", discussion_id=discussion_id), _("The case is yours."))


@bp.route("/discussions/<int:discussion_id>/information-requests", methods=["POST"])
@staff_required
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
@staff_required
def decide(discussion_id: int):
    """Issue the final verdict."""
    discussion = _visible_discussion(discussion_id)
    form = DecisionForm()
    if not form.validate():
        return _thread_page(discussion, 422, decision_form=form)
    try:
        services.decide(discussion, current_user._get_current_object(),
                        verdict=Verdict(form.verdict.data),
                        amount=form_amount(form.amount.data, "amount"),
                        rationale=form.rationale.data)
    except ValidationFailed as error:
        db.session.rollback()
        (form.amount if "amount" in error.fields else form.rationale).errors.append(
            error.message)
        return _thread_page(discussion, 422, decision_form=form)
    return done(url_for("disputes.thread", discussion_id=discussion_id),
                _("The verdict was issued."))


@bp.route("/staff/dashboard")
@staff_required
def dashboard():
    """How discussions end and how sellers answer."""
    return render_template("disputes/dashboard.html",
                           no_intervention=queries.ended_without_intervention(),
                           on_time=queries.seller_on_time_rate())


@bp.route("/sellers/<int:seller_id>")
def seller_profile(seller_id: int):
    """Public: how the seller's discussions of the last 12 months went, from 10 of them on.

    Only the display name and two rates; 404 for anyone who has never sold anything.
    """
    from disputes import policy

    now = clock.now()
    record = queries.seller_record(seller_id, opened_since=policy.profile_window_start(now),
                                   now=now)
    if record is None:
        abort(404)
    return render_template("disputes/seller.html", record=record,
                           enough=policy.profile_has_enough_data(record.discussions),
                           minimum=policy.PROFILE_MIN_DISCUSSIONS)



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
_SYSTEM_NOTES = {"offer_declined": _l("The buyer declined the offer."),
                 "taken": _l("An advisor took the case.")}
_LABEL_HELPERS = {
    "reason_label": _label(REASON_LABELS, Reason),
    "outcome_label": _label(OUTCOME_LABELS, ExpectedOutcome),
    "state_label": _label(STATE_LABELS, DiscussionState),
    "offer_label": _label(OFFER_LABELS, OfferKind),
    "party_label": _label(PARTY_LABELS, Party),
    "verdict_label": _label(VERDICT_LABELS, Verdict),
    "role_label": _label(_ROLE_LABELS, Role),
    "system_note": lambda data: _SYSTEM_NOTES.get((data or {}).get("action"), ""),
    "open_discussion_for": services.open_discussion_for,
}
