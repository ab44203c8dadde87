"""The deadlines of claims that a platform incident extends (registered with
:mod:`incidents.extensions`): staff's document requests, the window for filing a
claim on an order, and the seller's time to answer a claim."""

from datetime import datetime, timedelta

from sqlalchemy import Select, func, select

from arbiter.extensions import db
from claims import policy
from claims.models import Claim, DocumentRequest, PolicyVersion
from claims.states import OPEN_STATES, ClaimState
from incidents import extensions
from incidents import policy as incidents_policy
from incidents.extensions import ExtendableDeadlines, Window, not_extended
from incidents.models import DeadlineExtension, Incident
from incidents.states import DeadlineKind
from orders.models import Order


def _document_request_candidates(window: Window, kinds: list[DeadlineKind]) -> Select:
    return (select(DocumentRequest)
            .join(Claim, Claim.id == DocumentRequest.claim_id)
            .where(DocumentRequest.awaited(),
                   Claim.state == ClaimState.AWAITING_DOCUMENTS,
                   DocumentRequest.requested_at < window.end,
                   DocumentRequest.due_at > window.start,
                   not_extended(window, DeadlineKind.DOCUMENT_REQUEST, DocumentRequest.id)))


def _order_candidates(window: Window, kinds: list[DeadlineKind]) -> Select:
    # A coarse range on paid_at (indexable); the exact rule runs in Python per order,
    # because the window's length depends on the policy version and earlier extensions.
    longest_days = db.session.scalar(select(func.max(PolicyVersion.filing_window_days))
                                   .where(PolicyVersion.judging())) or 0
    incidents = db.session.scalar(select(func.count()).select_from(Incident)) or 0
    horizon = timedelta(days=longest_days, hours=incidents_policy.EXTENSION_HOURS * incidents)
    return select(Order).where(
        Order.paid_at < window.end, Order.paid_at > window.start - horizon,
        not_extended(window, DeadlineKind.FILING_WINDOW, Order.id))


def _filing_extensions(order_ids: list[int]) -> dict[int, timedelta]:
    rows = db.session.execute(
        select(DeadlineExtension.object_id, func.sum(DeadlineExtension.hours))
        .where(DeadlineExtension.deadline_kind == DeadlineKind.FILING_WINDOW,
               DeadlineExtension.object_id.in_(order_ids))
        .group_by(DeadlineExtension.object_id))
    return {order_id: timedelta(hours=int(hours)) for order_id, hours in rows}


def _filing_deadlines(orders: list[Order], kinds: list[DeadlineKind]) -> dict:
    """The end of each order's claim filing window as the claims policy computes it:
    the version in force at ``paid_at``, plus what earlier incidents added."""
    versions = [row.to_rules() for row in db.session.scalars(
        select(PolicyVersion).where(PolicyVersion.judging()))]
    extensions = _filing_extensions([order.id for order in orders])
    deadlines = {}
    for order in orders:
        try:
            rules = policy.rules_in_force(versions, order.paid_at)
        except policy.NoPolicyInForce:  # no buyer protection: no window to extend
            continue
        end = rules.filing_deadline(order.paid_at,
                                    extensions.get(order.id, policy.NO_EXTENSION))
        deadlines[order.id] = {DeadlineKind.FILING_WINDOW: (order.paid_at, end)}
    return deadlines


def _apply_to_order(order: Order, moved: list[tuple], now: datetime):
    # The order row keeps paid_at; the window's end is paid_at + policy + the records.
    ((_, due_before, due_after),) = moved
    return {"filing_deadline": due_before}, {"filing_deadline": due_after}


def _seller_answer_candidates(window: Window, kinds: list[DeadlineKind]) -> Select:
    return select(Claim).where(
        Claim.seller_answered_at.is_(None), Claim.state.in_(OPEN_STATES),
        Claim.seller_answer_due_at > Claim.submitted_at,  # no window given: none to extend
        Claim.submitted_at < window.end, Claim.seller_answer_due_at > window.start,
        not_extended(window, DeadlineKind.CLAIM_SELLER_ANSWER, Claim.id))


def _seller_answer_deadlines(claims: list[Claim], kinds: list[DeadlineKind]) -> dict:
    return {claim.id: {DeadlineKind.CLAIM_SELLER_ANSWER: (claim.submitted_at,
                                                          claim.seller_answer_due_at)}
            for claim in claims}


def _move_seller_answer(claim: Claim, moved: list[tuple], now: datetime):
    ((_, due_before, due_after),) = moved
    claim.seller_answer_due_at = due_after
    return {"seller_answer_due_at": due_before}, {"seller_answer_due_at": due_after}


extensions.register(ExtendableDeadlines(
    DocumentRequest, (DeadlineKind.DOCUMENT_REQUEST,), "document_request.deadline_extended",
    _document_request_candidates, extensions.request_deadlines,
    extensions.move_request_deadline))
extensions.register(ExtendableDeadlines(
    Order, (DeadlineKind.FILING_WINDOW,), "order.filing_window_extended",
    _order_candidates, _filing_deadlines, _apply_to_order))
extensions.register(ExtendableDeadlines(
    Claim, (DeadlineKind.CLAIM_SELLER_ANSWER,), "claim.seller_answer_extended",
    _seller_answer_candidates, _seller_answer_deadlines, _move_seller_answer))
