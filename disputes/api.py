"""Discussions over the API: the same service functions and rules as the browser pages.

A user token acts as its user: the buyer opens, writes, answers offers, escalates and
closes; the seller writes and makes offers; staff (``/staff/...`` and the staff actions)
take cases, request information and decide. Someone else's discussion is 404.
"""

import marshmallow as ma
from flask_babel import gettext
from sqlalchemy import select

from accounts.roles import Role
from arbiter import handover
from arbiter.api import Blueprint, InSchema, ListQuery, MoneyOut, OutSchema, money, page_schema
from arbiter.errors import NotFound
from arbiter.extensions import db
from arbiter.schema_messages import number_range
from disputes import queries, services
from disputes.models import Discussion
from disputes.queries import MAX_QUEUE_AGE_HOURS
from disputes.states import ExpectedOutcome, OfferKind, Party, Reason, Verdict
from integrations import auth
from orders.models import Order

blp = Blueprint("Discussions", __name__, url_prefix="/api/v1",
                description="Discussions between buyers and sellers, and staff verdicts.")

_text = ma.validate.Length


def _enum(enum, **kwargs):
    return ma.fields.Enum(enum, by_value=True, **kwargs)


# --- schemas ------------------------------------------------------------------------------


class AttachmentOut(OutSchema):
    id = ma.fields.Integer(required=True)
    filename = ma.fields.String(required=True)
    content_type = ma.fields.String(required=True)
    size = ma.fields.Integer(required=True)


class EntryOut(OutSchema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True, metadata={"example": "message"})
    author_role = ma.fields.String(required=True, metadata={"example": "seller"})
    body = ma.fields.String(required=True)
    data = ma.fields.Dict(required=True, allow_none=True)
    created_at = ma.fields.AwareDateTime(required=True)
    attachments = ma.fields.List(ma.fields.Nested(AttachmentOut), required=True)


class OfferOut(OutSchema):
    id = ma.fields.Integer(required=True)
    kind = ma.fields.String(required=True)
    amount = MoneyOut(required=True, allow_none=True)
    state = ma.fields.String(required=True)
    created_at = ma.fields.AwareDateTime(required=True)
    answered_at = ma.fields.AwareDateTime(required=True, allow_none=True)


class InformationRequestOut(OutSchema):
    id = ma.fields.Integer(required=True)
    party = ma.fields.String(required=True)
    question = ma.fields.String(required=True)
    requested_at = ma.fields.AwareDateTime(required=True)
    due_at = ma.fields.AwareDateTime(required=True)
    answered_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    # The case moved on without the answer (a verdict, say): nobody waits for it any more.
    closed_at = ma.fields.AwareDateTime(required=True, allow_none=True)


class DiscussionOut(OutSchema):
    id = ma.fields.Integer(required=True)
    order_external_id = ma.fields.String(required=True, attribute="order.external_id")
    state = ma.fields.String(required=True)
    reason = ma.fields.String(required=True)
    expected_outcome = ma.fields.String(required=True)
    description = ma.fields.String(required=True)
    opened_at = ma.fields.AwareDateTime(required=True)
    respond_by = ma.fields.AwareDateTime(required=True)
    escalation_available_at = ma.fields.AwareDateTime(required=True)
    seller_first_response_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    seller_answered_on_time = ma.fields.Boolean(required=True, allow_none=True)
    escalated_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    verdict = ma.fields.String(required=True, allow_none=True)
    refund_amount = MoneyOut(required=True, allow_none=True)
    decided_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    resolved_at = ma.fields.AwareDateTime(required=True, allow_none=True)
    closed_at = ma.fields.AwareDateTime(required=True, allow_none=True)


class DiscussionDetailOut(DiscussionOut):
    rationale = ma.fields.String(required=True, allow_none=True)
    messages = ma.fields.List(ma.fields.Nested(EntryOut), required=True, attribute="entries",
                              metadata={"description": "the whole thread, oldest first"})
    offers = ma.fields.List(ma.fields.Nested(OfferOut), required=True)
    information_requests = ma.fields.List(ma.fields.Nested(InformationRequestOut),
                                          required=True)


DiscussionPage = page_schema(DiscussionOut, "DiscussionPage")


class MineQuery(ListQuery):
    role = ma.fields.String(load_default="buyer", validate=ma.validate.OneOf(["buyer", "seller"]),
                            metadata={"description": "buyer: the discussions I opened; "
                                                     "seller: my open ones, nearest deadline "
                                                     "first"})


class QueueQuery(ListQuery):
    reason = _enum(Reason, load_default=None)
    older_than_hours = ma.fields.Integer(load_default=None,
                                         validate=number_range(1, MAX_QUEUE_AGE_HOURS))


class OpenIn(InSchema):
    order_external_id = ma.fields.String(required=True, validate=_text(min=1, max=64))
    reason = _enum(Reason, required=True)
    expected_outcome = _enum(ExpectedOutcome, required=True)
    description = ma.fields.String(required=True, validate=_text(min=1, max=20_000))


class MessageIn(InSchema):
    body = ma.fields.String(required=True, validate=_text(min=1, max=20_000))


class OfferIn(InSchema):
    kind = _enum(OfferKind, required=True)
    amount = money(load_default=None, allow_none=True,
                   metadata={"description": "partial_refund only: at most the order total"})
    note = ma.fields.String(load_default="", validate=_text(max=2_000))


class EscalateIn(InSchema):
    reason = ma.fields.String(required=True, validate=_text(min=1, max=5_000))


class InformationRequestIn(InSchema):
    party = _enum(Party, required=True)
    question = ma.fields.String(required=True, validate=_text(min=1, max=5_000))


class VerdictIn(InSchema):
    verdict = _enum(Verdict, required=True)
    amount = money(load_default=None, allow_none=True, metadata={
        "description": "buyer_favour: defaults to the order total; partial: required"})
    rationale = ma.fields.String(required=True, validate=_text(min=1, max=20_000))


# --- helpers ------------------------------------------------------------------------------


def _visible(discussion_id: int) -> Discussion:
    """The discussion if the caller is a party or staff; 404 otherwise (never 403)."""
    discussion = queries.thread(discussion_id)
    if discussion is None or not discussion.can_view(auth.current_user()):
        raise NotFound(_nothing_here())
    return discussion


def _nothing_here() -> str:
    return gettext("There is nothing here.")


def _fresh(discussion_id: int) -> Discussion:
    """The discussion as the answer shows it, after the service's changes."""
    db.session.flush()
    db.session.expire_all()
    return queries.thread(discussion_id)


# --- buyers and sellers -------------------------------------------------------------------


@blp.route("/discussions", methods=["GET"])
@auth.user_required
@blp.arguments(MineQuery, location="query")
@blp.response(200, DiscussionPage)
def list_mine(query):
    """My discussions: as the buyer (newest first) or as the seller (open ones)."""
    user = auth.current_user()
    if query["role"] == "seller":
        return queries.seller_inbox(user, cursor=query["after"], limit=query["limit"])
    return queries.buyer_discussions(user, cursor=query["after"], limit=query["limit"])


@blp.route("/discussions", methods=["POST"])
@auth.user_required
@blp.arguments(OpenIn)
@blp.response(201, DiscussionDetailOut)
def open_discussion(data):
    """Report a problem with one of my purchases (the order's buyer only)."""
    user = auth.current_user()
    order = db.session.scalar(select(Order).where(
        Order.external_id == data["order_external_id"]))
    if order is None or order.buyer_id != user.id:
        raise NotFound(_nothing_here())
    discussion = services.open_discussion(
        order, user, reason=data["reason"], expected_outcome=data["expected_outcome"],
        description=data["description"])
    return _fresh(discussion.id)


@blp.route("/discussions/<id:discussion_id>", methods=["GET"])
@auth.user_required
@blp.response(200, DiscussionDetailOut)
def get_discussion(discussion_id: int):
    """One discussion with its whole thread, offers and information requests."""
    return _visible(discussion_id)


@blp.route("/discussions/<id:discussion_id>/messages", methods=["POST"])
@auth.user_required
@blp.arguments(MessageIn)
@blp.response(201, EntryOut)
def post_message(data, discussion_id: int):
    """Write in the thread (the seller's first message is their answer)."""
    discussion = _visible(discussion_id)
    return services.post_message(discussion, auth.current_user(), data["body"])


@blp.route("/discussions/<id:discussion_id>/offers", methods=["POST"])
@auth.user_required
@blp.arguments(OfferIn)
@blp.response(201, OfferOut)
def make_offer(data, discussion_id: int):
    """The seller offers a refund, a partial refund, a replacement or a repair."""
    discussion = _visible(discussion_id)
    return services.make_offer(discussion, auth.current_user(), kind=data["kind"],
                               amount=data["amount"], note=data["note"])


@blp.route("/discussions/<id:discussion_id>/offers/<id:offer_id>/accept", methods=["POST"])
@auth.user_required
@blp.response(200, DiscussionDetailOut)
def accept_offer(discussion_id: int, offer_id: int):
    """The buyer accepts the pending offer: the discussion is resolved."""
    services.accept_offer(_visible(discussion_id), auth.current_user(), offer_id)
    return _fresh(discussion_id)


@blp.route("/discussions/<id:discussion_id>/offers/<id:offer_id>/decline", methods=["POST"])
@auth.user_required
@blp.response(200, DiscussionDetailOut)
def decline_offer(discussion_id: int, offer_id: int):
    """The buyer declines the pending offer."""
    services.decline_offer(_visible(discussion_id), auth.current_user(), offer_id)
    return _fresh(discussion_id)


@blp.route("/discussions/<id:discussion_id>/escalate", methods=["POST"])
@auth.user_required
@blp.arguments(EscalateIn)
@blp.response(200, DiscussionDetailOut)
def escalate(data, discussion_id: int):
    """Ask the platform for help (409 before escalation_available_at)."""
    services.escalate(_visible(discussion_id), auth.current_user(), data["reason"])
    return _fresh(discussion_id)


@blp.route("/discussions/<id:discussion_id>/solve", methods=["POST"])
@auth.user_required
@blp.response(200, DiscussionDetailOut)
def close_as_solved(discussion_id: int):
    """The buyer closes the discussion as solved."""
    services.close_as_solved(_visible(discussion_id), auth.current_user())
    return _fresh(discussion_id)


@blp.route("/discussions/<id:discussion_id>/withdraw", methods=["POST"])
@auth.user_required
@blp.response(200, DiscussionDetailOut)
def withdraw(discussion_id: int):
    """The buyer withdraws the discussion."""
    services.withdraw(_visible(discussion_id), auth.current_user())
    return _fresh(discussion_id)


# --- staff --------------------------------------------------------------------------------


@blp.route("/staff/discussions", methods=["GET"])
@auth.role_required(Role.ADVISOR)
@blp.arguments(QueueQuery, location="query")
@blp.response(200, DiscussionPage)
def queue(query):
    """Escalated discussions, oldest escalation first, without the caller's own cases
    (staff only)."""
    return queries.escalation_queue(auth.current_user(), reason=query["reason"],
                                    older_than_hours=query["older_than_hours"],
                                    cursor=query["after"], limit=query["limit"])


@blp.route("/discussions/<id:discussion_id>/hand-over", methods=["POST"])
@auth.role_required(Role.ADVISOR)
@blp.arguments(handover.HandOverIn)
@blp.response(200, DiscussionDetailOut)
@blp.alt_response(409, description="not_the_handler: neither the handler nor a senior; "
                  "not_taken: nobody handles the case yet")
def hand_over(data, discussion_id: int):
    """Hand the case to another staff member with a note for staff (the handler or a
    senior; the recipient holds the role, is not a party: 422)."""
    services.hand_over(_visible(discussion_id), auth.current_user(), data["to"], data["note"])
    return _fresh(discussion_id)


@blp.route("/discussions/<id:discussion_id>/take", methods=["POST"])
@auth.role_required(Role.ADVISOR)
@blp.response(200, DiscussionDetailOut)
def take(discussion_id: int):
    """Take an escalated case; one advisor at a time (staff only)."""
    services.take_case(_visible(discussion_id), auth.current_user())
    return _fresh(discussion_id)


@blp.route("/discussions/<id:discussion_id>/information-requests", methods=["POST"])
@auth.role_required(Role.ADVISOR)
@blp.arguments(InformationRequestIn)
@blp.response(201, InformationRequestOut)
def request_information(data, discussion_id: int):
    """Ask the buyer or the seller for information, due in 72 h (staff only)."""
    return services.request_information(_visible(discussion_id), auth.current_user(),
                                        party=data["party"], question=data["question"])


@blp.route("/discussions/<id:discussion_id>/decide", methods=["POST"])
@auth.role_required(Role.ADVISOR)
@blp.arguments(VerdictIn)
@blp.response(200, DiscussionDetailOut)
def decide(data, discussion_id: int):
    """Issue the final verdict (staff only)."""
    services.decide(_visible(discussion_id), auth.current_user(), verdict=data["verdict"],
                    amount=data["amount"], rationale=data["rationale"])
    return _fresh(discussion_id)
