"""Appeal pages: a party appeals a decision and the other party answers; staff take appeals
from the queue, mark every piece of evidence read and decide. Each changing view: load,
check, one service call, redirect (the request's one transaction commits:
arbiter.transactions). Refusals are the services' (409, 403, 404)."""

from dataclasses import dataclass

from flask import Blueprint, abort, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import select

from accounts.auth import role_required
from accounts.models import User
from accounts.roles import Role as StaffRole
from appeals import queries, services
from appeals.forms import AnswerForm, AppealForm, DecisionForm, MarkReadForm
from appeals.models import Appeal
from appeals.states import (
    APPELLANT_LABELS,
    STATE_LABELS,
    SUBJECT_LABELS,
    AppealState,
    Appellant,
    Outcome,
    Role,
    Subject,
)
from arbiter import clock, handover
from arbiter.errors import TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.files import Upload
from arbiter.money import to_decimal_string
from arbiter.validation import form_amount
from arbiter.views import done
from claims.models import Claim
from disputes.models import Discussion

bp = Blueprint("appeals", __name__)

EVIDENCE_LABELS = {
    "decision": _l("The decision under appeal and its rationale"),
    "statement": _l("The appeal's statement"),
    "answer": _l("The other party's statement"),
    "attachment": _l("File in the discussion"),
    "claim_document": _l("Document of the protection claim"),
    "appeal_file": _l("File added to the appeal"),
}


RESULT_LABELS = {
    AppealState.UPHELD: _l("Upheld: the decision stands"),
    AppealState.VARIED: _l("Varied: the amount was changed"),
    AppealState.OVERTURNED: _l("Overturned: the opposite decision"),
}


@dataclass(frozen=True)
class ReadMark:
    """Who marked a piece of evidence read, and when."""

    name: str
    at: object


def _uploads() -> list[Upload]:
    return [Upload(f.filename or "", f.read()) for f in request.files.getlist("files")
            if f and f.filename]


def _show_error(form, error) -> None:
    """A service's refusal of the input, next to the field it is about."""
    name = next((key for key in error.fields if key in form), None)
    (form[name] if name else form.statement if "statement" in form
     else form.rationale).errors.append(error.message)


# --- the decision's side: may I appeal, and the form ------------------------------------------


def _decision(subject: Subject, object_id: int) -> Discussion | Claim:
    """The decided discussion or claim, for its buyer and seller only (404 otherwise)."""
    model = Discussion if subject is Subject.VERDICT else Claim
    obj = db.session.get(model, object_id)
    if obj is None or current_user.id not in (obj.order.buyer_id, obj.order.seller_id):
        abort(404)
    return obj


def _decision_page(obj: Discussion | Claim) -> str:
    if isinstance(obj, Discussion):
        return url_for("disputes.thread", discussion_id=obj.id)
    return url_for("claims.claim", claim_id=obj.id)


@bp.route("/discussions/<int:discussion_id>/appeal", methods=["GET", "POST"])
@login_required
def appeal_verdict(discussion_id: int):
    """Appeal the platform's verdict on a discussion (its buyer or its seller)."""
    return _file(_decision(Subject.VERDICT, discussion_id))


@bp.route("/claims/<int:claim_id>/appeal", methods=["GET", "POST"])
@login_required
def appeal_claim(claim_id: int):
    """Appeal the decision on a protection claim (the buyer a rejection or a partial
    approval, the seller an approval that creates a recovery from them)."""
    return _file(_decision(Subject.CLAIM, claim_id))


def _file(obj: Discussion | Claim):
    target = services.appealed(obj)  # 409 when nothing is decided yet
    user = current_user._get_current_object()
    refused = services.refusal(target, user)
    if refused is not None:
        return _cannot_appeal(obj, target, refused[1])
    form = AppealForm()
    if form.validate_on_submit():
        try:
            appeal = services.file_appeal(obj, user, form.statement.data, _uploads())
        except TransitionNotAllowed as error:  # the window closed, or a second appeal
            db.session.rollback()
            return _cannot_appeal(obj, services.appealed(obj), error.message)
        except ValidationFailed as error:
            db.session.rollback()
            _show_error(form, error)
            return _appeal_form(obj, target, form), error.status
        return done(url_for("appeals.appeal", appeal_id=appeal.id),
                    _("Your appeal was sent. A staff member who did not make the decision "
                      "will review it; the other party may add a statement first."))
    return _appeal_form(obj, target, form), 422 if form.is_submitted() else 200


def _appeal_form(obj, target, form):
    return render_template("appeals/file.html", obj=obj, target=target, form=form,
                           closes_at=services.closes_at(target), back=_decision_page(obj),
                           answer_hours=services.terms().answer_hours, now=clock.now())


def _cannot_appeal(obj, target, message: str):
    mine = [a for a in services.appeals_of(target)
            if a.appellant_id == current_user.id]
    return render_template("appeals/cannot_appeal.html", obj=obj, target=target,
                           message=message, mine=mine[0] if mine else None,
                           back=_decision_page(obj)), 409


# --- the appeal page -----------------------------------------------------------------------


def _visible_appeal(appeal_id: int) -> Appeal:
    """The appeal, for its two parties and staff; 404 for anyone else."""
    appeal = db.session.get(Appeal, appeal_id)
    if appeal is None or not appeal.can_view(current_user):
        abort(404)
    return appeal


@dataclass(frozen=True)
class Review:
    """What the reviewer's page needs to know about the review: who may act, what is read,
    and why the decision is not open yet."""

    can_review: bool
    handler: bool
    items: list
    reads: dict
    waiting_for_answer: bool

    @property
    def unread(self) -> int:
        return sum(1 for item in self.items if item.key not in self.reads)

    @property
    def can_decide(self) -> bool:
        return self.handler and not self.waiting_for_answer and self.unread == 0


def _review(appeal: Appeal, now) -> Review | None:
    if appeal.role_of(current_user) is not Role.STAFF:
        return None
    can_review = appeal.can_review(current_user)
    return Review(
        can_review=can_review,
        handler=can_review and appeal.reviewer_id == current_user.id and appeal.is_open,
        items=queries.evidence(appeal),
        reads=_read_marks(appeal),
        waiting_for_answer=(appeal.respondent_answered_at is None
                            and now <= appeal.answer_due_at))


def _read_marks(appeal: Appeal) -> dict[str, ReadMark]:
    names = dict(db.session.execute(
        select(User.id, User.name).where(User.id.in_({r.read_by_id for r in appeal.reads}))
    ).all()) if appeal.reads else {}
    return {read.item: ReadMark(names.get(read.read_by_id, ""), read.read_at)
            for read in appeal.reads}


def _appeal_page(appeal: Appeal, status: int = 200, **forms):
    """The appeal page; after a refused input, read again (the session was rolled back)."""
    appeal = _visible_appeal(appeal.id)
    now = clock.now()
    role = appeal.role_of(current_user)
    decided = (db.session.get(Discussion, appeal.discussion_id)
               if appeal.subject is Subject.VERDICT else db.session.get(Claim, appeal.claim_id))
    return render_template(
        "appeals/appeal.html", appeal=appeal, role=role, now=now, decided=decided,
        visible_files=queries.files_seen_by(appeal, current_user),
        target=services.appealed(decided),
        review=_review(appeal, now),
        answer_form=forms.get("answer_form") or AnswerForm(formdata=None),
        decision_form=forms.get("decision_form") or DecisionForm(formdata=None),
        read_form=MarkReadForm(formdata=None)), status


@bp.route("/appeals/<int:appeal_id>")
@login_required
def appeal(appeal_id: int):
    """The appeal: the decision appealed, both statements and their files, the review and
    its outcome; the other party's statement form; staff's evidence checklist and decision."""
    return _appeal_page(_visible_appeal(appeal_id))


@bp.route("/appeals/<int:appeal_id>/answer", methods=["POST"])
@login_required
def answer(appeal_id: int):
    """The other party's statement, once, within the answer window."""
    appeal = _visible_appeal(appeal_id)
    form = AnswerForm()
    if not form.validate():
        return _appeal_page(appeal, 422, answer_form=form)
    try:
        services.answer(appeal, current_user._get_current_object(), form.statement.data,
                        _uploads())
    except ValidationFailed as error:
        db.session.rollback()
        _show_error(form, error)
        return _appeal_page(appeal, error.status, answer_form=form)
    return done(url_for("appeals.appeal", appeal_id=appeal_id),
                _("Your statement was added to the appeal. The reviewer will read it before "
                  "deciding."))


@bp.route("/appeals/<int:appeal_id>/files/<int:file_id>")
@login_required
def download(appeal_id: int, file_id: int):
    """A file added to the appeal, for whom it is visible, always as a download."""
    appeal = _visible_appeal(appeal_id)
    # In a claim's appeal the seller never gets the buyer's files (as with the claim's).
    stored = next((f for f in queries.files_seen_by(appeal, current_user) if f.id == file_id),
                  None)
    if stored is None:
        abort(404)
    return stored.download()


# --- staff ---------------------------------------------------------------------------------


@bp.route("/staff/appeals")
@role_required(StaffRole.SENIOR)
def queue():
    """Open appeals, oldest first, with the time left to decide; the ones I may not review
    (my own decision, my own case) are listed and marked, without a take button."""
    return render_template("appeals/queue.html",
                           appeals=queries.queue(current_user, now=clock.now()),
                           now=clock.now())


@bp.route("/appeals/<int:appeal_id>/take", methods=["POST"])
@role_required(StaffRole.SENIOR)
def take(appeal_id: int):
    """Take the appeal for review (never one's own decision: 403)."""
    appeal = _visible_appeal(appeal_id)
    services.take(appeal, current_user._get_current_object())
    return done(url_for("appeals.appeal", appeal_id=appeal_id),
                _("The appeal is yours to review. Read every piece of evidence, then decide."))


@bp.route("/appeals/<int:appeal_id>/hand-over", methods=["POST"])
@role_required(StaffRole.SENIOR)
def hand_over(appeal_id: int):
    """Hand the appeal to another senior with a note (never to the decision's author)."""
    appeal = _visible_appeal(appeal_id)
    to, note = handover.submitted_form()
    services.hand_over(appeal, current_user._get_current_object(), to, note)
    return done(url_for("appeals.appeal", appeal_id=appeal_id),
                _("The appeal was handed over."))


handover.register_kind("appeals", handover.Kind(
    StaffRole.SENIOR, "reviewer_id", "appeals.hand_over", "appeal_id",
    is_open=lambda appeal: appeal.is_open, also_excluded="original_decider_id"))


@bp.route("/appeals/<int:appeal_id>/read", methods=["POST"])
@role_required(StaffRole.SENIOR)
def mark_read(appeal_id: int):
    """The reviewer marks one piece of evidence read."""
    appeal = _visible_appeal(appeal_id)
    form = MarkReadForm()
    if not form.validate():
        abort(404)
    services.mark_read(appeal, current_user._get_current_object(), form.item.data)
    return done(url_for("appeals.appeal", appeal_id=appeal_id, _anchor="evidence"),
                _("Marked as read."))


@bp.route("/appeals/<int:appeal_id>/decide", methods=["POST"])
@role_required(StaffRole.SENIOR)
def decide(appeal_id: int):
    """Uphold, vary or overturn the decision, with a rationale (only once every piece of
    evidence is read and the other party answered or their time ran out: 409 before)."""
    appeal = _visible_appeal(appeal_id)
    form = DecisionForm()
    if not form.validate():
        return _appeal_page(appeal, 422, decision_form=form)
    staff = current_user._get_current_object()
    outcome = Outcome(form.outcome.data)
    try:
        amount = form_amount(form.amount.data, "amount")
        confirm_amount = None
        if form.confirmed.data:
            confirm_amount = form_amount(form.confirm_amount.data, "confirm_amount")
        else:
            # A decision that moves money first shows how much and for whom; nothing
            # changes until the confirmed post, carrying that amount.
            granted = services.decision_terms(appeal, staff, outcome, amount)
            if granted != appeal.original_amount:
                return render_template(
                    "appeals/confirm_decision.html", a=appeal, form=form, granted=granted,
                    confirm_amount=to_decimal_string(granted))
        services.decide(appeal, staff, outcome=outcome, amount=amount,
                        rationale=form.rationale.data, confirm_amount=confirm_amount)
    except ValidationFailed as error:
        db.session.rollback()
        _show_error(form, error)
        return _appeal_page(appeal, 422, decision_form=form)
    return done(url_for("appeals.appeal", appeal_id=appeal_id),
                _("The appeal decision was issued."))


# --- labels for templates ---------------------------------------------------------------------


@bp.app_context_processor
def _labels():
    return _HELPERS


def _appeal_section(subject: str, object_id: int) -> dict | None:
    """For the discussion and claim pages: whether the viewer (a party) may appeal the
    decision, until when, why not, and the appeals filed; staff get the appeals only."""
    subject = Subject(subject)
    obj = db.session.get(Discussion if subject is Subject.VERDICT else Claim, object_id)
    user = current_user._get_current_object()
    if obj is None or not user.is_authenticated:
        return None
    try:
        target = services.appealed(obj)
    except TransitionNotAllowed:
        return None
    appeals = services.appeals_of(target)
    party = user.id in (obj.order.buyer_id, obj.order.seller_id)
    if not party:
        return {"party": False, "appeals": appeals} if user.is_staff and appeals else None
    refused = services.refusal(target, user)
    endpoint, key = (("appeals.appeal_verdict", "discussion_id") if subject is Subject.VERDICT
                     else ("appeals.appeal_claim", "claim_id"))
    return {"party": True, "appeals": appeals,
            "closes_at": services.closes_at(target),
            "refusal": refused[1] if refused else None,
            "mine": next((a for a in appeals if a.appellant_id == user.id), None),
            "theirs": next((a for a in appeals if a.appellant_id != user.id), None),
            "url": url_for(endpoint, **{key: obj.id})}


_HELPERS = {
    "appeal_state_label": lambda value: STATE_LABELS[AppealState(value)],
    "appeal_result_label": lambda value: RESULT_LABELS[AppealState(value)],
    "appellant_label": lambda value: APPELLANT_LABELS[Appellant(value)],
    "appeal_subject_label": lambda value: SUBJECT_LABELS[Subject(value)],
    "evidence_label": lambda kind: EVIDENCE_LABELS[kind],
    "appeal_section": _appeal_section,
}
