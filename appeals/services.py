"""Every change to an appeal, one function per transition, and the money it moves.

Each function checks, changes the rows, writes its audit entry and notifies, in the
caller's transaction. A different outcome changes money only through the settlement ledger
(settlements.services): rows are cancelled or added, never edited, and the ledger's
invariant (nothing owed or paid to the buyer beyond the order total) still holds.

Locks follow the case's order: the appeal, then settlement rows, then the discussion,
then the order; a decision takes them all before its first audit entry (which takes the
audit log's lock), so it never holds that lock while waiting for a row of the case.
"""

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from flask import current_app
from flask_babel import format_datetime
from flask_babel import gettext as _
from sqlalchemy import func, select

from accounts.models import User
from accounts.roles import Role as StaffRole
from appeals import notifications as _notification_texts  # noqa: F401 - registers texts
from appeals import policy
from appeals.models import (
    RATIONALE_MIN,
    STATEMENT_MAX,
    STATEMENT_MIN,
    Appeal,
    AppealFile,
    EvidenceRead,
)
from appeals.states import (
    MACHINE,
    OUTCOME_ACTIONS,
    AppealState,
    Appellant,
    Outcome,
    Role,
    Subject,
)
from arbiter import audit, clock, handover
from arbiter.db import add_unless_taken, locked
from arbiter.errors import (
    AmountNotConfirmed,
    ConflictOfInterest,
    NotFound,
    TransitionNotAllowed,
    ValidationFailed,
)
from arbiter.extensions import db
from arbiter.files import Upload, check_uploads
from arbiter.notifications import notify
from arbiter.validation import checked_text
from claims.models import Claim, Payout
from claims.states import DECIDED_STATES as CLAIM_DECIDED_STATES
from claims.states import ClaimState, PayoutState
from disputes.models import Discussion
from disputes.states import DiscussionState
from incidents.queries import extension_of
from incidents.states import DeadlineKind
from orders.models import Order
from orders.policy import conflicted
from settlements import services as ledger
from settlements.models import Settlement
from settlements.states import COUNTED_STATES, SettlementKind, SettlementState, Source

AUDITED = ("state", "reviewer_id", "new_amount")
FILES_PER_APPEAL = 10
FILES_PER_UPLOAD = 5


class AppealNotAllowed(TransitionNotAllowed):
    """The rules do not allow this appeal; ``code`` says which (409)."""


class AppealTaken(TransitionNotAllowed):
    code = "appeal_taken"


def terms() -> policy.Terms:
    return policy.Terms.from_config(current_app.config)


# --- the appealed decision ----------------------------------------------------------------


@dataclass(frozen=True)
class Appealed:
    """A decision as the appeal rules see it, with the rows it belongs to."""

    subject: Subject
    obj: Discussion | Claim
    order: Order
    decided_by_id: int
    decision: policy.Decision

    @property
    def key(self) -> dict:
        return ({"discussion_id": self.obj.id} if self.subject is Subject.VERDICT
                else {"claim_id": self.obj.id})


def appealed(obj: Discussion | Claim) -> Appealed:
    """The decision of a decided discussion or claim; 409 when nothing is decided yet."""
    if isinstance(obj, Discussion):
        if obj.state is not DiscussionState.DECIDED:
            raise AppealNotAllowed(_("Only a decision can be appealed."), code="not_decided")
        decision = policy.Decision(Subject.VERDICT, obj.decided_at, obj.refund_amount or 0,
                                   obj.order.total)
        return Appealed(Subject.VERDICT, obj, obj.order, obj.decided_by_id, decision)
    if obj.state not in CLAIM_DECIDED_STATES:
        raise AppealNotAllowed(_("Only a decision can be appealed."), code="not_decided")
    decision = policy.Decision(Subject.CLAIM, obj.decided_at, obj.approved_amount or 0,
                               obj.max_total, obj.state.value)
    return Appealed(Subject.CLAIM, obj, obj.order, obj.decided_by_id, decision)


def appellant_of(target: Appealed, user: User) -> Appellant | None:
    if not getattr(user, "is_authenticated", False):
        return None
    if user.id == target.order.buyer_id:
        return Appellant.BUYER
    if user.id == target.order.seller_id:
        return Appellant.SELLER
    return None


def appeal_by(target: Appealed, appellant: Appellant) -> Appeal | None:
    return db.session.scalar(select(Appeal).filter_by(appellant=appellant, **target.key))


def appeals_of(target: Appealed) -> list[Appeal]:
    return list(db.session.scalars(select(Appeal).filter_by(**target.key).order_by(Appeal.id)))


def terms_for(target: Appealed) -> policy.Terms:
    """The appeal terms of one decision. A claim decision may be appealed within the window
    of the policy version that judged the claim. A verdict on a discussion is judged by no
    policy version (staff decide it on the case, not under the protection rules), so its
    window stays the setting APPEAL_WINDOW_DAYS."""
    if target.subject is Subject.CLAIM:
        return dataclasses.replace(
            terms(), window_days=target.obj.policy_version.appeal_window_days)
    return terms()


def window_extension(target: Appealed) -> timedelta:
    """Platform incidents extend the appeal window like every running deadline
    (incidents/)."""
    kind = (DeadlineKind.VERDICT_APPEAL_WINDOW if target.subject is Subject.VERDICT
            else DeadlineKind.CLAIM_APPEAL_WINDOW)
    return extension_of(kind, target.obj.id)


def closes_at(target: Appealed) -> datetime:
    return policy.closes_at(target.decision, terms_for(target), window_extension(target))


def refusal(target: Appealed, user: User, now: datetime | None = None
            ) -> tuple[policy.Refusal, str] | None:
    """Why ``user`` cannot appeal this decision now, as a code and a message; None if
    they can. Someone who is not a party gets None here and 404 from :func:`file_appeal`."""
    appellant = appellant_of(target, user)
    if appellant is None:
        return None
    now = now or clock.now()
    code = policy.refusal(target.decision, appellant, now=now, terms=terms_for(target),
                          already=appeal_by(target, appellant) is not None,
                          extended_by=window_extension(target))
    if code is None:
        return None
    if code is policy.Refusal.WINDOW_CLOSED:
        message = _("The time to appeal this decision ended on %(when)s.",
                    when=format_datetime(closes_at(target), "short"))
    elif code is policy.Refusal.ALREADY_APPEALED:
        message = _("You have already appealed this decision.")
    else:
        message = _("This decision gives you nothing to appeal.")
    return code, message


# --- filing and answering -----------------------------------------------------------------


_statement = partial(checked_text, minimum=STATEMENT_MIN, maximum=STATEMENT_MAX)


def _store(appeal: Appeal, user: User, party: Appellant, uploads: list[Upload]) -> None:
    if not uploads:
        return
    already = db.session.scalar(
        select(func.count(AppealFile.id)).where(AppealFile.appeal_id == appeal.id)) or 0
    for upload in check_uploads(uploads, max_count=FILES_PER_UPLOAD,
                                room_left=FILES_PER_APPEAL - already):
        AppealFile.stored(upload, user, appeal_id=appeal.id, party=party)


def file_appeal(obj: Discussion | Claim, user: User, statement: str,
                uploads: list[Upload] = ()) -> Appeal:
    """A party appeals a decision, once, within the window; the other party is told and
    may answer within 72 h."""
    obj = locked(type(obj), obj.id)
    target = appealed(obj)
    appellant = appellant_of(target, user)
    if appellant is None:
        raise NotFound(_("There is nothing here."))
    refused = refusal(target, user)
    if refused is not None:
        code, message = refused
        fields = {"closes_at": [closes_at(target).isoformat()]}
        raise AppealNotAllowed(message, code=code.value, fields=fields)
    statement = _statement(statement, "statement")
    now = clock.now()
    appeal = Appeal(order_id=target.order.id, buyer_id=target.order.buyer_id,
                    seller_id=target.order.seller_id, subject=target.subject,
                    original_decider_id=target.decided_by_id,
                    original_amount=target.decision.granted, appellant=appellant,
                    statement=statement, filed_at=now,
                    answer_due_at=policy.answer_due(now, terms()),
                    review_due_at=policy.review_due(now, terms()),
                    state=AppealState.SUBMITTED, **target.key)
    add_unless_taken(appeal, lambda: AppealNotAllowed(
        _("You have already appealed this decision."),
        code=policy.Refusal.ALREADY_APPEALED.value))
    _store(appeal, user, appellant, list(uploads))
    audit.record("appeal.filed", appeal, actor=user, after={
        "state": appeal.state.value, "subject": target.subject.value,
        "appellant": appellant.value, **target.key,
        "answer_due_at": appeal.answer_due_at, "review_due_at": appeal.review_due_at})
    notify(user, "appeal.filed", appeal)
    notify(db.session.get(User, appeal.respondent_id), "appeal.filed_against", appeal,
           answer_due_at=appeal.answer_due_at.isoformat())
    return appeal


def answer(appeal: Appeal, user: User, statement: str, uploads: list[Upload] = ()) -> Appeal:
    """The other party's statement, once, within 72 h and before the decision."""
    appeal = locked(Appeal, appeal.id)
    if appeal.role_of(user) is not Role.RESPONDENT:
        raise NotFound(_("There is nothing here."))
    if appeal.respondent_answered_at is not None:
        raise TransitionNotAllowed(_("You have already answered this appeal."),
                                   code="already_answered")
    now = clock.now()
    if now > appeal.answer_due_at:
        raise TransitionNotAllowed(
            _("The time to answer this appeal ended on %(when)s.",
              when=format_datetime(appeal.answer_due_at, "short")),
            code="answer_window_closed",
            fields={"answer_due_at": [appeal.answer_due_at.isoformat()]})
    statement = _statement(statement, "statement")
    party = Appellant.SELLER if appeal.appellant is Appellant.BUYER else Appellant.BUYER
    MACHINE.change(appeal, "answer", actor=user, audited=AUDITED,
                   respondent_statement=statement, respondent_answered_at=now)
    _store(appeal, user, party, list(uploads))
    if appeal.reviewer is not None:
        notify(appeal.reviewer, "appeal.answered", appeal, email=False)
    return appeal


# --- review ----------------------------------------------------------------------------------


def _require_reviewer(appeal: Appeal, staff: User) -> None:
    if not staff.has_role(StaffRole.SENIOR):
        raise NotFound(_("There is nothing here."))
    if staff.id == appeal.original_decider_id:
        raise ConflictOfInterest(
            _("You made the decision under appeal: another staff member reviews it."),
            code="own_decision")
    if conflicted(staff, appeal):
        raise ConflictOfInterest(
            _("This appeal is about your own purchase or sale: another staff member "
              "reviews it."))


def _require_handler(appeal: Appeal, staff: User) -> None:
    _require_reviewer(appeal, staff)
    if appeal.reviewer_id != staff.id:
        if appeal.reviewer is not None:
            raise AppealTaken(_("%(name)s is reviewing this appeal.", name=appeal.reviewer.name))
        raise AppealTaken(_("Take the appeal before acting on it."), code="appeal_not_taken")


def take(appeal: Appeal, staff: User) -> Appeal:
    """A reviewer takes an appeal from the queue; one reviewer per appeal."""
    appeal = locked(Appeal, appeal.id)
    _require_reviewer(appeal, staff)
    if appeal.reviewer_id == staff.id:
        return appeal
    if appeal.reviewer is not None:
        raise AppealTaken(_("%(name)s is reviewing this appeal.", name=appeal.reviewer.name))
    MACHINE.change(appeal, "take", actor=staff, audited=AUDITED, reviewer_id=staff.id,
                   taken_at=clock.now())
    for party_id in (appeal.appellant_id, appeal.respondent_id):
        notify(db.session.get(User, party_id), "appeal.taken", appeal, email=False)
    return appeal


def hand_over(appeal: Appeal, staff: User, to, note: str) -> Appeal:
    """Hand the appeal under review to another senior with a note (arbiter.handover); never
    to the author of the decision under appeal (the database refuses it too)."""
    appeal = locked(Appeal, appeal.id)
    _require_reviewer(appeal, staff)
    if not appeal.is_open:
        raise TransitionNotAllowed(_("This appeal has been decided."), code="appeal_decided")

    def own_decision(recipient: User) -> str | None:
        if recipient.id == appeal.original_decider_id:
            return _("%(name)s made the decision under appeal.", name=recipient.name)
        return None

    recipient, note = handover.check(appeal, staff, to, note, role=StaffRole.SENIOR,
                                     handler_id=appeal.reviewer_id, refuse=own_decision)
    previous = appeal.reviewer
    appeal.reviewer_id = recipient.id
    appeal.reviewer = recipient
    handover.record(appeal, staff, previous, recipient, note, kind="appeal")
    return appeal


def mark_read(appeal: Appeal, staff: User, item: str) -> EvidenceRead:
    """The reviewer marks one piece of evidence read (idempotent)."""
    from appeals.queries import evidence_keys

    appeal = locked(Appeal, appeal.id)
    _require_handler(appeal, staff)
    if not appeal.is_open:
        raise TransitionNotAllowed(_("This appeal has been decided."), code="appeal_decided")
    if item not in evidence_keys(appeal):
        raise NotFound(_("There is nothing here."))
    existing = next((read for read in appeal.reads if read.item == item), None)
    if existing is not None:
        return existing
    read = EvidenceRead(appeal_id=appeal.id, item=item, read_by_id=staff.id,
                        read_at=clock.now())
    db.session.add(read)
    db.session.flush()
    return read


def decision_terms(appeal: Appeal, staff: User, outcome: Outcome, amount: int | None) -> int:
    """The amount the decision would grant (grosze), as its confirmation page states it:
    every check of :func:`decide` but the rationale's, and nothing changes."""
    appeal, _money, granted = _checked(appeal, staff, Outcome(outcome), amount)
    return granted


def decide(appeal: Appeal, staff: User, *, outcome: Outcome, amount: int | None,
           rationale: str, confirm_amount: int | None = None) -> Appeal:
    """The appeal decision: upheld, varied or overturned, with a rationale that answers the
    appeal. Only after the other party answered or their 72 h ran out, and once every piece
    of the case's evidence is marked read. Money follows through the ledger. With
    ``confirm_amount`` (what the confirmation page stated), a decision that would now grant
    anything else is refused (409) and changes nothing."""
    from appeals.documents import issue_decision

    outcome = Outcome(outcome)
    appeal, money, granted = _checked(appeal, staff, outcome, amount)
    rationale = checked_text(rationale, "rationale", minimum=RATIONALE_MIN, maximum=20_000)
    if confirm_amount is not None and confirm_amount != granted:
        raise AmountNotConfirmed(granted, appeal.order.currency)
    now = clock.now()
    MACHINE.change(appeal, OUTCOME_ACTIONS[outcome], actor=staff, audited=AUDITED,
                   new_amount=granted, rationale=rationale, decided_at=now)
    if granted != appeal.original_amount:
        money.apply(appeal, granted, staff)
    issue_decision(appeal, staff)
    for party_id in (appeal.appellant_id, appeal.respondent_id):
        notify(db.session.get(User, party_id), f"appeal.{outcome.value}", appeal)
    return appeal


def _checked(appeal: Appeal, staff: User, outcome: Outcome,
             amount: int | None) -> tuple[Appeal, "_Money", int]:
    """Lock the appeal and what its money may change, check who decides and when, and
    compute the amount granted; nothing is written yet."""
    from appeals.queries import unread_items

    appeal = locked(Appeal, appeal.id)
    _require_reviewer(appeal, staff)
    MACHINE.require(appeal.state, OUTCOME_ACTIONS[outcome])
    _require_handler(appeal, staff)
    now = clock.now()
    if appeal.respondent_answered_at is None and now <= appeal.answer_due_at:
        raise TransitionNotAllowed(
            _("The other party may answer until %(when)s; decide after that or once they "
              "answered.", when=format_datetime(appeal.answer_due_at, "short")),
            code="answer_pending", fields={"answer_due_at": [appeal.answer_due_at.isoformat()]})
    unread = unread_items(appeal)
    if unread:
        raise TransitionNotAllowed(
            _("Mark every piece of evidence read before deciding (%(count)d left).",
              count=len(unread)),
            code="evidence_unread", fields={"unread": unread})
    money = _Money.of(appeal)
    try:
        granted = policy.granted_after(outcome, original=appeal.original_amount, amount=amount,
                                       ceiling=money.ceiling, appellant=appeal.appellant,
                                       subject=appeal.subject)
    except ValueError as error:
        raise ValidationFailed(
            _("This amount does not fit the outcome: an upheld decision keeps its amount, a "
              "varied one needs a different amount between 0.01 and %(max)s.",
              max=ledger.format_money(money.ceiling, appeal.order.currency,
                                      ledger.current_locale())),
            code=str(error), fields={"amount": [str(error)]}) from None
    return appeal, money, granted


# --- money ------------------------------------------------------------------------------------


@dataclass
class _Money:
    """What the appealed decision's money is in the ledger now, and how an appeal moves it.

    A verdict's amount: the owed row is cancelled and a new one written; an amount the
    seller already paid is topped up by the difference (a lower amount cannot be clawed
    back from the buyer: the difference is for the parties). A claim: the buyer's appeal
    adds a payout of the difference (finance pays it as any payout); the seller's appeal
    lowers or cancels the recovery from them, and the buyer keeps what was paid.
    """

    current: Settlement | None
    ceiling: int

    @classmethod
    def of(cls, appeal: Appeal) -> "_Money":
        """Locks what the decision may change in the case's order (the settlement row, then
        the order) before the decision writes anything: its first audit entry takes the
        audit log's lock, and a request that holds the order (an offer accepted on another
        discussion of the case, a claim approved) waits for that lock in turn. The ceiling
        is then read from the order as it is under its lock, not as it was."""
        if appeal.subject is Subject.VERDICT:
            current = _locked_latest(lambda: _latest(
                Settlement.discussion_id == appeal.discussion_id,
                Settlement.kind == SettlementKind.VERDICT))
            order = locked(Order, appeal.order_id)
            held = current.amount if current is not None else 0
            return cls(current, order.compensation_remaining + held)
        claim = db.session.get(Claim, appeal.claim_id)
        if appeal.appellant is Appellant.SELLER:
            current = _locked_latest(lambda: _recovery_of(appeal))
            locked(Order, appeal.order_id)
            return cls(current, appeal.original_amount)
        order = locked(Order, appeal.order_id)
        return cls(None, min(claim.max_total,
                             order.compensation_remaining + appeal.original_amount))

    def apply(self, appeal: Appeal, granted: int, staff: User) -> None:
        note = _("Changed by the appeal decision (appeal #%(id)s).", id=appeal.id)
        if appeal.subject is Subject.VERDICT:
            self._vary_verdict(appeal, granted, staff, note)
        elif appeal.appellant is Appellant.BUYER:
            _add_payout(appeal, granted - appeal.original_amount, staff)
        else:
            self._lower_recovery(appeal, granted, staff, note)

    def _vary_verdict(self, appeal, granted, staff, note) -> None:
        row = self.current
        if row is not None and row.state is SettlementState.CONFIRMED:
            if granted > row.amount:
                ledger.record(appeal.order, SettlementKind.VERDICT, actor=staff,
                              amount=granted - row.amount, discussion_id=appeal.discussion_id,
                              appeal_id=appeal.id)
            return
        if row is not None:
            ledger.cancel(row, staff, note)
        if granted > 0:
            ledger.record(appeal.order, SettlementKind.VERDICT, actor=staff, amount=granted,
                          discussion_id=appeal.discussion_id, appeal_id=appeal.id)

    def _lower_recovery(self, appeal, granted, staff, note) -> None:
        """The seller's appeal against the recovery. Before the payout is confirmed there is
        no recovery yet: :func:`recovery_amount` gives the lowered one when it is written."""
        row = self.current
        if row is None or row.state is not SettlementState.OWED:
            return
        ledger.cancel(row, staff, note)
        if granted > 0:
            ledger.record(appeal.order, SettlementKind.RECOVERY, actor=staff, amount=granted,
                          discussion_id=row.discussion_id, appeal_id=appeal.id)


def _locked_latest(find) -> Settlement | None:
    """The row ``find`` returns, locked and read again; found again when it changed state
    while we waited for its lock (confirmed, failed or cancelled meanwhile)."""
    for _attempt in range(3):
        row = find()
        if row is None:
            return None
        state = row.state
        row = locked(Settlement, row.id)
        if row.state is state:
            return row
    raise TransitionNotAllowed(_("The case changed meanwhile; try again."),
                               code="concurrent_change")


def _latest(*conditions) -> Settlement | None:
    return db.session.scalar(
        select(Settlement).where(*conditions, Settlement.state.in_(COUNTED_STATES))
        .order_by(Settlement.id.desc()).limit(1))


def _recovery_of(appeal: Appeal) -> Settlement | None:
    return db.session.scalar(
        select(Settlement).where(Settlement.kind == SettlementKind.RECOVERY,
                                 Settlement.state == SettlementState.OWED,
                                 (Settlement.claim_id == appeal.claim_id)
                                 | Settlement.appeal_id.in_(
                                     select(Appeal.id).where(Appeal.claim_id == appeal.claim_id)))
        .order_by(Settlement.id.desc()).limit(1))


def _add_payout(appeal: Appeal, difference: int, staff: User) -> None:
    """The buyer's appeal raised a claim's amount: the difference is a payout of its own,
    exported and confirmed by finance like every payout, and in the ledger."""
    claim = db.session.get(Claim, appeal.claim_id)
    ledger.record(appeal.order, SettlementKind.PAYOUT, actor=staff, amount=difference,
                  discussion_id=claim.discussion_id, appeal_id=appeal.id)
    db.session.add(Payout(claim_id=claim.id, appeal_id=appeal.id, buyer_id=claim.buyer_id,
                          seller_id=claim.seller_id, amount=difference,
                          currency=appeal.order.currency, beneficiary_name=claim.buyer.name,
                          account=claim.payout_account, state=PayoutState.PENDING,
                          created_at=clock.now()))
    db.session.flush()


def recovery_amount(claim: Claim, paid: int) -> int:
    """What the seller owes back for a claim's confirmed payout: the amount paid, or what a
    decided seller's appeal lowered it to."""
    decided = db.session.scalar(
        select(Appeal).where(Appeal.claim_id == claim.id, Appeal.appellant == Appellant.SELLER,
                             Appeal.decided_at.is_not(None)))
    if decided is None:
        return paid
    return min(paid, decided.new_amount)


def _appeal_settled(row: Settlement, actor: User | None) -> None:
    """An appeal's payout confirmed by finance: the seller owes it back, as for a claim."""
    if row.kind is SettlementKind.PAYOUT and row.state is SettlementState.CONFIRMED:
        ledger.recover(row, actor, row.amount)


ledger.on_settled(Source.APPEAL, _appeal_settled)


def claim_refusal(order: Order, now: datetime) -> tuple[str, str, int] | None:
    """A new claim after a rejection is replaced by the appeal: refused while the buyer may
    still appeal the rejection or an appeal is pending (claims.services.filing_refusal),
    as a code, a message and the rejected claim (whose page leads to the appeal)."""
    rejected = db.session.scalar(
        select(Claim).where(Claim.order_id == order.id, Claim.state == ClaimState.REJECTED)
        .order_by(Claim.decided_at.desc()).limit(1))
    if rejected is None:
        return None
    target = appealed(rejected)
    mine = appeal_by(target, Appellant.BUYER)
    if mine is not None and mine.is_open:
        return ("appeal_pending",
                _("Your appeal against the rejection of claim #%(id)s is being reviewed.",
                  id=rejected.id), rejected.id)
    if mine is None and now <= closes_at(target):
        return ("appeal_available",
                _("Claim #%(id)s was rejected. Instead of a new claim, appeal the decision "
                  "until %(when)s.", id=rejected.id,
                  when=format_datetime(closes_at(target), "short")), rejected.id)
    return None
