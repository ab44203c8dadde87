"""Every change to a discussion, one function per transition.

Each function checks the rules, changes the rows, appends to the thread, writes one audit
entry and queues notifications (in-app + outbox), all in the caller's transaction. The
caller commits once. Forbidden steps raise TransitionNotAllowed (409); staff acting on a case
they are a party to raise ConflictOfInterest (403); bad input raises ValidationFailed (422).
"""

from datetime import datetime
from functools import partial

from blinker import signal
from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import func, select

from accounts.models import User
from accounts.roles import Role as StaffRole
from arbiter import audit, clock, documents, handover
from arbiter.db import add_unless_taken, locked
from arbiter.documents import DecisionKind
from arbiter.errors import AmountNotConfirmed, NotFound, TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.files import Upload, check_uploads
from arbiter.notifications import notify
from arbiter.party_requests import close_awaited
from arbiter.validation import checked_text
from disputes import notifications as _notification_texts  # noqa: F401 - registers texts
from disputes import policy
from disputes.documents import locales_for, verdict_data
from disputes.models import Attachment, Discussion, Entry, InformationRequest, Offer
from disputes.states import (
    MACHINE,
    OPEN_STATES,
    DiscussionState,
    EntryKind,
    ExpectedOutcome,
    OfferKind,
    OfferState,
    Party,
    Reason,
    Role,
    Verdict,
    require,
)
from orders.models import Order
from orders.services import require_impartial
from settlements import services as ledger
from settlements.models import Settlement
from settlements.states import SettlementKind, SettlementState, Source

# Sent after a verdict (and its decision document) is recorded; for integrations.
verdict_issued = signal("discussion-verdict-issued")

AUDITED = ("state", "respond_by", "escalation_available_at", "assigned_staff_id", "verdict",
           "refund_amount")


class DiscussionAlreadyOpen(TransitionNotAllowed):
    code = "discussion_already_open"

    def __init__(self, existing: Discussion):
        super().__init__(_("This order already has an open discussion."),
                         fields={"discussion_id": [str(existing.id)]})
        self.existing = existing


class CaseTaken(TransitionNotAllowed):
    code = "case_taken"


def _require_open(discussion: Discussion) -> None:
    if not discussion.is_open:
        raise TransitionNotAllowed(
            _("This discussion has ended; nothing more can be added."),
            code="discussion_ended", fields={"state": [discussion.state.value]})


def _require_talking(discussion: Discussion) -> None:
    if not discussion.is_talking:
        raise TransitionNotAllowed(
            _("Offers are no longer possible in this discussion."),
            code="offers_closed", fields={"state": [discussion.state.value]})


def opening_refusal(order: Order) -> TransitionNotAllowed | None:
    """Why no new discussion can be opened on the order (shown before the form and on the
    order page instead of the button); None when one can."""
    if order.compensation_remaining <= 0:
        return ledger.AlreadyCompensated(order, 1)
    return None


def require_room_for_compensation(order: Order) -> None:
    """Nothing can be asked of a case whose order is fully compensated already (409)."""
    refusal = opening_refusal(order)
    if refusal is not None:
        raise refusal


def _require_escalated(discussion: Discussion) -> None:
    if discussion.state is not DiscussionState.ESCALATED:
        raise TransitionNotAllowed(
            _("Only an escalated discussion can be handled by staff."),
            code="not_escalated", fields={"state": [discussion.state.value]})


def _snapshot(discussion: Discussion) -> dict:
    return audit.snapshot(discussion, AUDITED)


def _entry(discussion: Discussion, entry_kind: EntryKind, role: Role, author: User | None,
           body: str = "", **data) -> Entry:
    entry = Entry(discussion=discussion, kind=entry_kind, author_id=author.id if author else None,
                  author_role=role, body=body, data=data or None, created_at=clock.now())
    db.session.add(entry)
    return entry


def _attach(discussion: Discussion, entry: Entry, uploader: User,
            uploads: list[Upload]) -> list[Attachment]:
    if not uploads:
        return []
    already = db.session.scalar(
        select(func.count(Attachment.id)).where(Attachment.discussion_id == discussion.id)
    ) or 0
    checked = check_uploads(uploads, max_count=policy.FILES_PER_MESSAGE,
                            room_left=policy.FILES_PER_DISCUSSION - already)
    return [Attachment.stored(upload, uploader, discussion_id=discussion.id, entry=entry)
            for upload in checked]


def _change_state(discussion: Discussion, action: str, actor: User | None, role: Role,
                  *, note: str = "", **changes) -> None:
    """The state change (:meth:`StateMachine.change`), shown in the thread as well."""
    now = clock.now()
    step = MACHINE.change(discussion, action, actor=actor, audited=AUDITED,
                          last_activity_at=now, **changes)
    _entry(discussion, EntryKind.STATE_CHANGE, role, actor, note,
           action=action, state=step.target.value)
    if step.target not in (None, DiscussionState.ESCALATED):
        _close_information_requests(discussion, actor, now)


def _close_information_requests(discussion: Discussion, actor: User | None,
                                now: datetime) -> None:
    """Staff ask for information only while they handle the case: once it leaves the
    platform (a verdict, a claim approved on the order, the buyer closing it or accepting
    an offer) nobody waits for the answer, and the thread says so."""
    closed = close_awaited(discussion.information_requests, now)
    if not closed:
        return
    parties = sorted({request.party.value for request in closed})
    _entry(discussion, EntryKind.SYSTEM_NOTE, Role.SYSTEM, None, "",
           action="information_requests_closed", parties=parties)
    audit.record("discussion.information_requests_closed", discussion, actor=actor,
                 after={"requests": [request.id for request in closed]})


_validate_text = partial(checked_text, maximum=policy.DESCRIPTION_MAX)


def open_discussion(order: Order, buyer: User, *, reason: Reason,
                    expected_outcome: ExpectedOutcome, description: str,
                    uploads: list[Upload] = ()) -> Discussion:
    if order.buyer_id != buyer.id:
        raise NotFound(_("There is nothing here."))
    description = _validate_text(description, "description")
    existing = open_discussion_for(order)
    if existing is not None:
        raise DiscussionAlreadyOpen(existing)
    require_room_for_compensation(order)
    now = clock.now()
    deadlines = policy.deadlines_for(now)
    discussion = Discussion(
        order=order, buyer_id=order.buyer_id, seller_id=order.seller_id, reason=reason,
        expected_outcome=expected_outcome, description=description,
        state=DiscussionState.AWAITING_SELLER, opened_at=now, last_activity_at=now,
        respond_by=deadlines.respond_by,
        escalation_available_at=deadlines.escalation_available_at)
    add_unless_taken(discussion, lambda: DiscussionAlreadyOpen(open_discussion_for(order)))
    entry = _entry(discussion, EntryKind.MESSAGE, Role.BUYER, buyer, description)
    _attach(discussion, entry, buyer, list(uploads))
    audit.record("discussion.opened", discussion, actor=buyer, after=_snapshot(discussion))
    notify(order.seller, "discussion.opened", discussion, order=order.external_id)
    return discussion


def open_discussion_for(order: Order) -> Discussion | None:
    return db.session.scalar(
        select(Discussion).where(Discussion.order_id == order.id,
                                 Discussion.state.in_(OPEN_STATES)))


def post_message(discussion: Discussion, author: User, body: str,
                 uploads: list[Upload] = ()) -> Entry:
    """A message in the thread. The seller's first one is their answer (→ in progress)."""
    discussion = locked(Discussion, discussion.id)
    role = discussion.role_of(author)
    if role is None:
        raise NotFound(_("There is nothing here."))
    _require_open(discussion)
    if role is Role.STAFF and discussion.state is not DiscussionState.ESCALATED:
        raise TransitionNotAllowed(_("Staff write in a discussion once it is escalated."))
    body = _validate_text(body, "body")
    entry = _entry(discussion, EntryKind.MESSAGE, role, author, body)
    _attach(discussion, entry, author, list(uploads))
    discussion.last_activity_at = clock.now()
    if role is Role.SELLER and discussion.seller_first_response_at is None:
        _record_seller_answer(discussion, author)
    _answer_information_requests(discussion, role, entry)
    audit.record("discussion.message_posted", discussion, actor=author,
                 after={"entry_id": entry.id, "role": role.value})
    for recipient in _others(discussion, author):
        notify(recipient, "discussion.message", discussion)
    return entry


def _record_seller_answer(discussion: Discussion, seller: User) -> None:
    now = clock.now()
    discussion.seller_first_response_at = now
    discussion.seller_answered_on_time = policy.answered_on_time(discussion.respond_by, now)
    if discussion.state is DiscussionState.AWAITING_SELLER:
        _change_state(discussion, "seller_answers", seller, Role.SELLER)


def _answer_information_requests(discussion: Discussion, role: Role, entry: Entry) -> None:
    if role not in (Role.BUYER, Role.SELLER):
        return
    db.session.flush()
    for request in discussion.information_requests:
        if request.is_awaited and request.party.value == role.value:
            request.answered_at = clock.now()
            request.answer_entry_id = entry.id


def _others(discussion: Discussion, author: User) -> list[User]:
    people = [discussion.buyer, discussion.seller]
    if discussion.assigned_staff is not None:
        people.append(discussion.assigned_staff)
    return [person for person in people if person.id != author.id]


def make_offer(discussion: Discussion, seller: User, *, kind: OfferKind,
               amount: int | None = None, note: str = "") -> Offer:
    discussion = locked(Discussion, discussion.id)
    if discussion.role_of(seller) is not Role.SELLER:
        raise NotFound(_("There is nothing here."))
    _require_open(discussion)
    _require_talking(discussion)
    # What earlier outcomes already gave the buyer is not offered twice (settlements/).
    room = discussion.order.compensation_remaining
    if kind is OfferKind.REFUND:
        amount = room
    problem = policy.offer_amount_problem(kind.value, amount, room)
    if problem:
        raise ValidationFailed(
            _("A refund must be more than 0 and at most what the order may still refund "
              "(%(room)s).", room=ledger.format_money(room, discussion.order.currency,
                                                      ledger.current_locale())),
            code=problem, fields={"amount": [problem]})
    for pending in discussion.offers:
        if pending.state is OfferState.PENDING:
            pending.state = OfferState.SUPERSEDED
            pending.answered_at = clock.now()
    db.session.flush()
    entry = _entry(discussion, EntryKind.OFFER, Role.SELLER, seller, (note or "").strip()[:2000],
                   kind=kind.value, amount=amount)
    db.session.flush()
    offer = Offer(discussion=discussion, entry_id=entry.id, kind=kind, amount=amount,
                  created_at=clock.now())
    db.session.add(offer)
    discussion.last_activity_at = clock.now()
    if discussion.seller_first_response_at is None:
        _record_seller_answer(discussion, seller)
    audit.record("discussion.offer_made", discussion, actor=seller,
                 after={"kind": kind.value, "amount": amount})
    notify(discussion.buyer, "discussion.offer", discussion)
    return offer


def _pending_offer(discussion: Discussion, offer_id: int) -> Offer:
    offer = next((o for o in discussion.offers if o.id == offer_id), None)
    if offer is None:
        raise NotFound(_("There is nothing here."))
    if offer.state is not OfferState.PENDING:
        raise TransitionNotAllowed(_("This offer has already been answered."),
                                   code="offer_not_pending")
    return offer


_OFFER_SETTLEMENTS = {OfferKind.REFUND: SettlementKind.REFUND,
                      OfferKind.PARTIAL_REFUND: SettlementKind.PARTIAL_REFUND,
                      OfferKind.REPLACEMENT: SettlementKind.REPLACEMENT,
                      OfferKind.REPAIR: SettlementKind.REPAIR}


def acceptable_offer(discussion: Discussion, buyer: User, offer_id: int) -> Offer:
    """The offer the buyer may accept (404 for anyone else, 409 once answered or when the
    discussion no longer takes offers): what the confirmation states, nothing changed."""
    _require_buyer(discussion, buyer)
    require(discussion.state, "accept_offer")
    return _pending_offer(discussion, offer_id)


def accept_offer(discussion: Discussion, buyer: User, offer_id: int) -> Settlement:
    """The buyer takes the offer: it becomes a promise in the ledger, due by its date,
    and the discussion waits until it is kept (or reported broken)."""
    discussion = locked(Discussion, discussion.id)
    offer = acceptable_offer(discussion, buyer, offer_id)
    offer.state = OfferState.ACCEPTED
    offer.answered_at = clock.now()
    promise = ledger.record(discussion.order, _OFFER_SETTLEMENTS[offer.kind], actor=buyer,
                            amount=offer.amount, discussion_id=discussion.id,
                            offer_id=offer.id)
    _change_state(discussion, "accept_offer", buyer, Role.BUYER)
    notify(discussion.seller, "discussion.offer_accepted", discussion,
           due_at=promise.due_at.isoformat())
    return promise


def _offer_settled(promise: Settlement, actor: User | None) -> None:
    """What a kept or broken promise means for its discussion (settlements.services)."""
    discussion = locked(Discussion, promise.discussion_id)
    if discussion.state is not DiscussionState.AWAITING_FULFILMENT:
        return  # the platform settled the case meanwhile; the row speaks for itself
    role = Role.BUYER if actor is not None and actor.id == discussion.buyer_id else Role.SYSTEM
    if promise.state is SettlementState.CONFIRMED:
        _change_state(discussion, "fulfilment_confirmed", actor, role, resolved_at=clock.now())
        notify(discussion.seller, "discussion.resolved", discussion)
    elif promise.state is SettlementState.FAILED:
        # Reopened with escalation available at once, and the broken promise on record.
        now = clock.now()
        _change_state(discussion, "fulfilment_failed", actor, role,
                      escalation_available_at=now, escalation_notice_sent_at=now)
        _entry(discussion, EntryKind.SYSTEM_NOTE, Role.SYSTEM, None, promise.note or "",
               action="promise_broken", settlement_id=promise.id,
               due_at=promise.due_at.isoformat())
        for person in (discussion.buyer, discussion.seller):
            notify(person, "discussion.reopened", discussion)


def _verdict_settled(promise: Settlement, actor: User | None) -> None:
    """A verdict's refund kept or not: on record in the (decided) discussion's thread."""
    discussion = db.session.get(Discussion, promise.discussion_id)
    _entry(discussion, EntryKind.SYSTEM_NOTE, Role.SYSTEM, None, promise.note or "",
           action=f"verdict_refund_{promise.state.value}", settlement_id=promise.id)


ledger.on_settled(Source.OFFER, _offer_settled)
ledger.on_settled(Source.VERDICT, _verdict_settled)


def decline_offer(discussion: Discussion, buyer: User, offer_id: int) -> None:
    discussion = locked(Discussion, discussion.id)
    _require_buyer(discussion, buyer)
    _require_open(discussion)
    offer = _pending_offer(discussion, offer_id)
    offer.state = OfferState.DECLINED
    offer.answered_at = clock.now()
    discussion.last_activity_at = clock.now()
    _entry(discussion, EntryKind.SYSTEM_NOTE, Role.BUYER, buyer, "",
           action="offer_declined", offer_id=offer.id)
    audit.record("discussion.offer_declined", discussion, actor=buyer,
                 after={"offer_id": offer.id})
    notify(discussion.seller, "discussion.offer_declined", discussion)


def _require_buyer(discussion: Discussion, user: User) -> None:
    if discussion.role_of(user) is not Role.BUYER:
        raise NotFound(_("There is nothing here."))


def require_finish(discussion: Discussion, buyer: User, action: str) -> None:
    """The checks of closing as solved (``close_as_solved``) or withdrawing
    (``withdraw``) without changing anything, for the page that asks to confirm it."""
    _require_buyer(discussion, buyer)
    require(discussion.state, action)


def close_as_solved(discussion: Discussion, buyer: User) -> None:
    discussion = locked(Discussion, discussion.id)
    require_finish(discussion, buyer, "close_as_solved")
    _change_state(discussion, "close_as_solved", buyer, Role.BUYER, resolved_at=clock.now())
    notify(discussion.seller, "discussion.resolved", discussion)


def withdraw(discussion: Discussion, buyer: User) -> None:
    discussion = locked(Discussion, discussion.id)
    require_finish(discussion, buyer, "withdraw")
    _change_state(discussion, "withdraw", buyer, Role.BUYER, closed_at=clock.now())
    notify(discussion.seller, "discussion.withdrawn", discussion)


def escalate(discussion: Discussion, buyer: User, reason: str) -> None:
    """Ask the platform for help: allowed from ``escalation_available_at`` on."""
    discussion = locked(Discussion, discussion.id)
    _require_buyer(discussion, buyer)
    require(discussion.state, "escalate")
    now = clock.now()
    if not policy.escalation_open(discussion.escalation_available_at, now):
        raise TransitionNotAllowed(
            _("You can ask the platform for help from %(when)s.",
              when=format_datetime(discussion.escalation_available_at, "short")),
            code="escalation_not_available_yet",
            fields={"escalation_available_at": [discussion.escalation_available_at.isoformat()]})
    reason = _validate_text(reason, "reason", maximum=5_000)
    _change_state(discussion, "escalate", buyer, Role.BUYER, note=reason, escalated_at=now,
                  escalation_reason=reason)
    for person in (discussion.buyer, discussion.seller):
        notify(person, "discussion.escalated", discussion)


def take_case(discussion: Discussion, staff: User) -> None:
    """One advisor at a time; taking a taken case says who has it."""
    discussion = locked(Discussion, discussion.id)
    if not staff.has_role(StaffRole.ADVISOR):
        raise NotFound(_("There is nothing here."))
    require_impartial(staff, discussion)
    _require_escalated(discussion)
    if discussion.assigned_staff_id not in (None, staff.id):
        raise CaseTaken(_("%(name)s is already handling this case.",
                          name=discussion.assigned_staff.name),
                        fields={"assigned_staff": [discussion.assigned_staff.name]})
    if discussion.assigned_staff_id == staff.id:
        return
    before = _snapshot(discussion)
    discussion.assigned_staff_id = staff.id
    discussion.taken_at = clock.now()
    _entry(discussion, EntryKind.SYSTEM_NOTE, Role.STAFF, staff, "", action="taken")
    audit.record("discussion.taken", discussion, actor=staff, before=before,
                 after=_snapshot(discussion))


def hand_over(discussion: Discussion, staff: User, to, note: str) -> Discussion:
    """Hand the escalated case to another advisor with a note (arbiter.handover's rules);
    the thread says an advisor took over, the note stays with staff."""
    discussion = locked(Discussion, discussion.id)
    if not staff.has_role(StaffRole.ADVISOR):
        raise NotFound(_("There is nothing here."))
    _require_escalated(discussion)
    recipient, note = handover.check(discussion, staff, to, note, role=StaffRole.ADVISOR,
                                     handler_id=discussion.assigned_staff_id)
    previous = discussion.assigned_staff
    discussion.assigned_staff_id = recipient.id
    discussion.assigned_staff = recipient
    _entry(discussion, EntryKind.SYSTEM_NOTE, Role.STAFF, staff, "", action="handed_over")
    handover.record(discussion, staff, previous, recipient, note, kind="discussion")
    return discussion


def _require_handler(discussion: Discussion, staff: User) -> None:
    if not staff.has_role(StaffRole.ADVISOR):
        raise NotFound(_("There is nothing here."))
    require_impartial(staff, discussion)
    _require_escalated(discussion)
    if discussion.assigned_staff_id != staff.id:
        raise CaseTaken(_("Take the case before acting on it."), code="case_not_taken")


def request_information(discussion: Discussion, staff: User, *, party: Party,
                        question: str) -> InformationRequest:
    discussion = locked(Discussion, discussion.id)
    _require_handler(discussion, staff)
    question = _validate_text(question, "question", maximum=5_000)
    now = clock.now()
    request = InformationRequest(discussion=discussion, buyer_id=discussion.buyer_id,
                                 seller_id=discussion.seller_id, requested_by_id=staff.id,
                                 party=party, question=question, requested_at=now,
                                 due_at=policy.information_due(now))
    db.session.add(request)
    _entry(discussion, EntryKind.INFORMATION_REQUEST, Role.STAFF, staff, question,
           party=party.value, due_at=request.due_at.isoformat())
    discussion.last_activity_at = now
    audit.record("discussion.information_requested", discussion, actor=staff,
                 after={"party": party.value, "due_at": request.due_at})
    recipient = discussion.buyer if party is Party.BUYER else discussion.seller
    notify(recipient, "discussion.information_requested", discussion,
           due_at=request.due_at.isoformat())
    return request


def verdict_terms(discussion: Discussion, staff: User, verdict: Verdict,
                  amount: int | None) -> int:
    """What the verdict would make the seller pay the buyer now (grosze, 0 for none), as
    its confirmation page states it; checks who asks and the amount, changes nothing."""
    _require_handler(discussion, staff)
    return _verdict_refund(discussion.order, verdict, amount)


def _verdict_refund(order: Order, verdict: Verdict, amount: int | None) -> int:
    try:
        return policy.verdict_amount(verdict.value, amount, order.total,
                                     room=order.compensation_remaining)
    except ValueError as error:
        raise ValidationFailed(
            _("The amount must be between 0.01 and what the order may still refund "
              "(%(room)s).", room=ledger.format_money(
                  order.compensation_remaining, order.currency, ledger.current_locale())),
            code=str(error), fields={"amount": [str(error)]}) from None


def decide(discussion: Discussion, staff: User, *, verdict: Verdict, amount: int | None,
           rationale: str, confirm_amount: int | None = None) -> Discussion:
    """The final verdict. Refund amounts are bounded by the order total. With
    ``confirm_amount`` (what the confirmation page stated), a verdict that would now pay
    anything else is refused (409) and changes nothing."""
    discussion = locked(Discussion, discussion.id)
    _require_handler(discussion, staff)
    # The order too, before the state change's audit entry: the verdict's amount is
    # counted against it (settlements.services, on lock order and the audit lock).
    order = locked(Order, discussion.order_id)
    rationale = _validate_text(rationale, "rationale", minimum=policy.RATIONALE_MIN)
    refund = _verdict_refund(order, verdict, amount)
    if confirm_amount is not None and confirm_amount != refund:
        raise AmountNotConfirmed(refund, order.currency)
    _change_state(discussion, "decide", staff, Role.STAFF, note=rationale, verdict=verdict,
                  refund_amount=refund, rationale=rationale, decided_at=clock.now(),
                  decided_by=staff)
    if refund:
        ledger.record(order, SettlementKind.VERDICT, actor=staff, amount=refund,
                      start=discussion.decided_at, discussion_id=discussion.id)
    documents.issue(DecisionKind.VERDICT, discussion, advisor=staff,
                    issued_at=discussion.decided_at,
                    data_for_locale=lambda locale, number: verdict_data(
                        discussion, locale, number),
                    locales=locales_for(discussion))
    for person in (discussion.buyer, discussion.seller):
        notify(person, "discussion.decided", discussion, verdict=verdict.value)
    verdict_issued.send(discussion)
    return discussion


def settle_by_platform(discussion_id: int, staff: User, *, claim_id: int) -> None:
    """A claim on the order was approved: the platform compensates the buyer, so the
    discussion ends. No deadline runs on, and no offer can be made or accepted."""
    discussion = locked(Discussion, discussion_id)
    if not discussion.is_open:
        return  # it ended while the approval waited for its lock (a verdict, say)
    now = clock.now()
    for pending in discussion.offers:
        if pending.state is OfferState.PENDING:
            pending.state = OfferState.SUPERSEDED
            pending.answered_at = now
    _change_state(discussion, "settle_by_platform", staff, Role.STAFF, closed_at=now)
    _entry(discussion, EntryKind.SYSTEM_NOTE, Role.SYSTEM, None, "",
           action="settled_by_platform", claim_id=claim_id)
    for person in (discussion.buyer, discussion.seller):
        notify(person, "discussion.settled_by_platform", discussion, claim=claim_id)


def close_for_inactivity(discussion: Discussion) -> None:
    """The sweeper closes a discussion nobody touched for 30 days; both parties hear of it."""
    _change_state(discussion, "close_for_inactivity", None, Role.SYSTEM,
                  closed_at=clock.now())
    for person in (discussion.buyer, discussion.seller):
        notify(person, "discussion.closed_inactive", discussion)
