"""Appeals over the API: the same service functions and rules as the browser pages.

A party appeals a verdict (``POST /discussions/{id}/appeals``) or a claim decision
(``POST /claims/{id}/appeals``) with a statement and optional evidence files (multipart,
like a claim's documents and the seller's answer); the other party answers
(``POST /appeals/{id}/answer``). Staff read the queue (``GET /staff/appeals``), take an
appeal, mark every piece of the case's evidence read and decide. Someone else's appeal or
decision is 404; a staff endpoint is 403 for anyone else; the decision's own author gets
403 ``own_decision``; a refusal of the rules is 409 with its code (``appeal_window_closed``
with ``fields.closes_at``, ``already_appealed``, ``evidence_unread`` with
``fields.unread``...).

What a party sees of the other party's files follows the decision appealed: in a verdict
both parties see every file (as in the discussion); in a claim the seller never sees the
buyer's files (as with the claim's documents, claims.queries.SellersView).
"""

import marshmallow as ma
from flask_babel import gettext

from accounts.roles import Role
from appeals import queries, services
from appeals.documents import original_document
from appeals.models import RATIONALE_MIN, STATEMENT_MAX, STATEMENT_MIN, Appeal, AppealFile
from appeals.states import Outcome
from arbiter import documents, handover
from arbiter.api import Blueprint, InSchema, ListQuery, MoneyOut, OutSchema, money, page_schema
from arbiter.errors import NotFound
from arbiter.extensions import db
from claims import queries as claim_queries
from claims.api import EVIDENCE_FILES, FileField, _uploads
from disputes import queries as discussion_queries
from integrations import auth

blp = Blueprint("Appeals", __name__, url_prefix="/api/v1",
                description="Appeals against verdicts and claim decisions, and their review "
                            "by a different staff member.")

_text = ma.validate.Length


# --- what a caller sees of an appeal -------------------------------------------------------


class AppealView:
    """An appeal as one caller may see it: the files their side may see, and for staff the
    evidence checklist and whether they may review it."""

    def __init__(self, appeal: Appeal, user):
        self._appeal = appeal
        self._user = user
        self._staff_view = bool(getattr(user, "is_staff", False)) and user.id not in (
            appeal.buyer_id, appeal.seller_id)

    def __getattr__(self, name):
        return getattr(self._appeal, name)

    @property
    def order_external_id(self) -> str:
        return self._appeal.order.external_id

    @property
    def files(self) -> list[AppealFile]:
        return queries.files_seen_by(self._appeal, self._user)

    @property
    def decision_number(self) -> str | None:
        found = documents.documents_for("appeals", self._appeal.id)
        return found[0].number if found else None

    @property
    def original_decision_number(self) -> str | None:
        found = original_document(self._appeal)
        return found.number if found else None

    @property
    def reviewer_id(self) -> int | None:
        return self._appeal.reviewer_id if self._staff_view else None

    @property
    def original_decider_id(self) -> int | None:
        return self._appeal.original_decider_id if self._staff_view else None

    @property
    def may_review(self) -> bool | None:
        return self._appeal.can_review(self._user) if self._staff_view else None

    @property
    def evidence(self) -> list[dict] | None:
        if not self._staff_view:
            return None
        reads = {read.item: read for read in self._appeal.reads}
        return [{"item": item.key, "kind": item.kind,
                 "filename": getattr(item.obj, "filename", None),
                 "read": item.key in reads,
                 "read_at": reads[item.key].read_at if item.key in reads else None}
                for item in queries.evidence(self._appeal)]


# --- schemas ------------------------------------------------------------------------------


class AppealFileOut(OutSchema):
    id = ma.fields.Integer(required=True)
    party = ma.fields.String(required=True, metadata={"example": "buyer"})
    filename = ma.fields.String(required=True)
    content_type = ma.fields.String(required=True)
    size = ma.fields.Integer(required=True)
    created_at = ma.fields.AwareDateTime(required=True)


class EvidenceItemOut(OutSchema):
    item = ma.fields.String(required=True, metadata={"example": "attachment:12"})
    kind = ma.fields.String(required=True, metadata={
        "description": "decision, statement, answer, attachment, claim_document or "
                       "appeal_file"})
    filename = ma.fields.String(required=True, allow_none=True)
    read = ma.fields.Boolean(required=True)
    read_at = ma.fields.AwareDateTime(required=True, allow_none=True)


class AppealOut(OutSchema):
    id = ma.fields.Integer(required=True)
    order_external_id = ma.fields.String(required=True)
    subject = ma.fields.String(required=True, metadata={"description": "verdict or claim"})
    discussion_id = ma.fields.Integer(required=True, allow_none=True,
                                      metadata={"description": "the verdict appealed"})
    claim_id = ma.fields.Integer(required=True, allow_none=True,
                                 metadata={"description": "the claim whose decision is "
                                                          "appealed"})
    appellant = ma.fields.String(required=True, metadata={"description": "buyer or seller"})
    state = ma.fields.String(required=True, metadata={"example": "submitted"})
    statement = ma.fields.String(required=True)
    filed_at = ma.fields.AwareDateTime(required=True)
    answer_due_at = ma.fields.AwareDateTime(required=True, metadata={
        "description": "until when the other party may add a statement"})
    respondent_statement = ma.fields.String(required=True, allow_none=True)
    respondent_answered_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    review_due_at = ma.fields.AwareDateTime(required=True, metadata={
        "description": "the service level: staff decide by then"})
    taken_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    original_amount = MoneyOut(required=True, metadata={
        "description": "what the appealed decision granted the buyer"})
    new_amount = MoneyOut(required=True, allow_none=True, metadata={
        "description": "what the appeal decision grants the buyer"})
    rationale = ma.fields.String(required=True, allow_none=True)
    decided_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    original_decision_number = ma.fields.String(required=True, allow_none=True)
    decision_number = ma.fields.String(required=True, allow_none=True, metadata={
        "description": "the appeal decision's document (ODW/...), once decided"})
    files = ma.fields.List(ma.fields.Nested(AppealFileOut), required=True)
    reviewer_id = ma.fields.Integer(required=True, allow_none=True,
                                    metadata={"description": "staff only"})
    original_decider_id = ma.fields.Integer(required=True, allow_none=True,
                                            metadata={"description": "staff only"})
    may_review = ma.fields.Boolean(required=True, allow_none=True, metadata={
        "description": "staff only: the caller neither made the decision nor is a party"})


class AppealDetailOut(AppealOut):
    evidence = ma.fields.List(ma.fields.Nested(EvidenceItemOut), required=True,
                              allow_none=True, metadata={
                                  "description": "staff only: every piece of the case's "
                                                 "evidence and whether it was marked read"})


AppealPage = page_schema(AppealOut, "AppealPage")


class AppealIn(InSchema):
    """A multipart/form-data body: the statement and new evidence files."""

    statement = ma.fields.String(required=True,
                                 validate=_text(min=STATEMENT_MIN, max=STATEMENT_MAX),
                                 metadata={"description": "what is wrong with the decision"})
    files = ma.fields.List(FileField(), load_default=list,
                           metadata={"description": EVIDENCE_FILES})


class AppealAnswerIn(AppealIn):
    """A multipart/form-data body: the other party's statement and evidence files."""


class AppealDecisionIn(InSchema):
    outcome = ma.fields.Enum(Outcome, by_value=True, required=True)
    amount = money(load_default=None, allow_none=True, metadata={
        "description": "varied: the new amount; overturned: the amount when the decision "
                       "granted nothing; upheld: leave out"})
    rationale = ma.fields.String(required=True, validate=_text(min=RATIONALE_MIN, max=20_000),
                                 metadata={"description": "answers the appeal's points"})


# --- helpers ------------------------------------------------------------------------------


def _nothing_here() -> NotFound:
    return NotFound(gettext("There is nothing here."))


def _visible(appeal_id: int) -> Appeal:
    """The appeal if the caller is a party or staff; 404 otherwise (never 403)."""
    appeal = queries.appeal_page(appeal_id)
    if appeal is None or not appeal.can_view(auth.current_user()):
        raise _nothing_here()
    return appeal


def _fresh(appeal_id: int) -> AppealView:
    db.session.flush()
    db.session.expire_all()
    return AppealView(queries.appeal_page(appeal_id), auth.current_user())


def _views(page):
    user = auth.current_user()
    return {"items": [AppealView(appeal, user) for appeal in page.items],
            "next_cursor": page.next_cursor}


# --- parties ------------------------------------------------------------------------------


@blp.route("/appeals", methods=["GET"])
@auth.user_required
@blp.arguments(ListQuery, location="query")
@blp.response(200, AppealPage)
def list_mine(query):
    """The appeals on my purchases and sales, whoever filed them, newest first."""
    return _views(queries.parties_appeals(auth.current_user(), cursor=query["after"],
                                          limit=query["limit"]))


@blp.route("/discussions/<id:discussion_id>/appeals", methods=["POST"])
@auth.user_required
@blp.arguments(AppealIn, location="files")
@blp.response(201, AppealDetailOut)
@blp.alt_response(409, description="not decided, the time to appeal ended "
                                   "(fields.closes_at), or already appealed")
def appeal_verdict(data, discussion_id: int):
    """Appeal the verdict of a discussion, once, within the window (the order's buyer or
    seller; multipart: statement and files)."""
    discussion = discussion_queries.thread(discussion_id)
    if discussion is None or not discussion.can_view(auth.current_user()):
        raise _nothing_here()
    appeal = services.file_appeal(discussion, auth.current_user(), data["statement"],
                                  _uploads(data["files"]))
    return _fresh(appeal.id)


@blp.route("/claims/<id:claim_id>/appeals", methods=["POST"])
@auth.user_required
@blp.arguments(AppealIn, location="files")
@blp.response(201, AppealDetailOut)
@blp.alt_response(409, description="not decided, nothing to appeal for this party, the "
                                   "time to appeal ended (fields.closes_at), or already "
                                   "appealed")
def appeal_claim(data, claim_id: int):
    """Appeal the decision on a protection claim: the buyer a rejection or a partial
    approval, the seller an approval (multipart: statement and files)."""
    claim = claim_queries.claim_page(claim_id)
    if claim is None or not claim.can_view(auth.current_user()):
        raise _nothing_here()
    appeal = services.file_appeal(claim, auth.current_user(), data["statement"],
                                  _uploads(data["files"]))
    return _fresh(appeal.id)


@blp.route("/appeals/<id:appeal_id>", methods=["GET"])
@auth.user_required
@blp.response(200, AppealDetailOut)
def get_appeal(appeal_id: int):
    """One appeal: both statements, the files the caller may see, the outcome and its
    document; for staff, the evidence checklist too."""
    return AppealView(_visible(appeal_id), auth.current_user())


@blp.route("/appeals/<id:appeal_id>/answer", methods=["POST"])
@auth.user_required
@blp.arguments(AppealAnswerIn, location="files")
@blp.response(201, AppealDetailOut)
@blp.alt_response(409, description="already answered, or the time to answer ended")
def answer(data, appeal_id: int):
    """The other party's statement, once, within 72 h of filing (multipart)."""
    services.answer(_visible(appeal_id), auth.current_user(), data["statement"],
                    _uploads(data["files"]))
    return _fresh(appeal_id)


# --- staff --------------------------------------------------------------------------------


@blp.route("/staff/appeals", methods=["GET"])
@auth.role_required(Role.SENIOR)
@blp.arguments(ListQuery, location="query")
@blp.response(200, AppealPage)
def queue(query):
    """The appeals queue, oldest first: waiting for a reviewer and under review. Appeals of
    the caller's own decisions or cases are listed with ``may_review: false`` (staff only)."""
    return _views(queries.queue_page(auth.current_user(), cursor=query["after"],
                                     limit=query["limit"]))


@blp.route("/appeals/<id:appeal_id>/hand-over", methods=["POST"])
@auth.role_required(Role.SENIOR)
@blp.arguments(handover.HandOverIn)
@blp.response(200, AppealDetailOut)
@blp.alt_response(409, description="not_the_handler: neither the handler nor a senior; "
                  "not_taken: nobody handles the case yet")
def hand_over(data, appeal_id: int):
    """Hand the case to another staff member with a note for staff (the handler or a
    senior; the recipient holds the role, is not a party, nor the decision's author: 422)."""
    services.hand_over(_visible(appeal_id), auth.current_user(), data["to"], data["note"])
    return _fresh(appeal_id)


@blp.route("/appeals/<id:appeal_id>/take", methods=["POST"])
@auth.role_required(Role.SENIOR)
@blp.response(200, AppealDetailOut)
@blp.alt_response(403, description="own_decision: the caller made the decision appealed")
def take(appeal_id: int):
    """Take an appeal from the queue; one reviewer, never the decision's author (staff
    only)."""
    services.take(_visible(appeal_id), auth.current_user())
    return _fresh(appeal_id)


@blp.route("/appeals/<id:appeal_id>/evidence/<string:item>/read", methods=["POST"])
@auth.role_required(Role.SENIOR)
@blp.response(200, AppealDetailOut)
def mark_read(appeal_id: int, item: str):
    """Mark one piece of the case's evidence read (``item`` as the checklist names it, e.g.
    ``attachment:12``); idempotent (the reviewer only)."""
    if len(item) > 64 or "\x00" in item:
        raise _nothing_here()
    services.mark_read(_visible(appeal_id), auth.current_user(), item)
    return _fresh(appeal_id)


@blp.route("/appeals/<id:appeal_id>/decide", methods=["POST"])
@auth.role_required(Role.SENIOR)
@blp.arguments(AppealDecisionIn)
@blp.response(200, AppealDetailOut)
@blp.alt_response(409, description="answer_pending (fields.answer_due_at), evidence_unread "
                                   "(fields.unread), or not under review by the caller")
def decide(data, appeal_id: int):
    """Decide the appeal: upheld, varied or overturned, with a rationale; the money
    follows through the case's settlement ledger (the reviewer only)."""
    services.decide(_visible(appeal_id), auth.current_user(), outcome=data["outcome"],
                    amount=data["amount"], rationale=data["rationale"])
    return _fresh(appeal_id)
