"""The protection-claim state machine: states, the one transition table, and its vocabulary.

Every service function names its transition here; ``require`` refuses anything the table
does not allow with :class:`TransitionNotAllowed` (HTTP 409). The table is data: the JSON
API will publish it as it is, so it is never written twice.
"""

from enum import StrEnum

from flask_babel import lazy_gettext as _l

from arbiter.statemachine import StateMachine, Transition


class ClaimType(StrEnum):
    NOT_RECEIVED = "not_received"
    NOT_AS_DESCRIBED = "not_as_described"
    OTHER = "other"


class ClaimState(StrEnum):
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    AWAITING_DOCUMENTS = "awaiting_documents"
    AWAITING_SECOND_APPROVAL = "awaiting_second_approval"
    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    PAID = "paid"


S = ClaimState
# Before a decision: the buyer may still add documents or withdraw.
OPEN_STATES = frozenset({S.SUBMITTED, S.UNDER_REVIEW, S.AWAITING_DOCUMENTS})
# Approved by an advisor above the four-eyes threshold: not final (no payout, nothing in
# the ledger) until a second, different senior confirms it or sends it back.
AWAITING_APPROVAL_STATES = frozenset({S.AWAITING_SECOND_APPROVAL})
# Decided in the buyer's favour, the payout not yet confirmed.
PAYABLE_STATES = frozenset({S.APPROVED, S.PARTIALLY_APPROVED})
TERMINAL_STATES = frozenset({S.REJECTED, S.WITHDRAWN, S.PAID})
DECIDED_STATES = frozenset({S.APPROVED, S.PARTIALLY_APPROVED, S.REJECTED, S.PAID})
# A claim in one of these states is the only one its order may have (a partial unique
# index says so): open ones await a decision, the others compensate the buyer, and an
# order is compensated at most once. After a rejection or a withdrawal the buyer may file
# again (with the documents that were missing, say) while the filing window lasts.
EXCLUSIVE_STATES = OPEN_STATES | AWAITING_APPROVAL_STATES | PAYABLE_STATES | {S.PAID}
# An approval is on record (first approver, amount): awaiting its confirmation or final.
APPROVED_STATES = AWAITING_APPROVAL_STATES | PAYABLE_STATES | {S.PAID}


class Decision(StrEnum):
    """What staff decide; each is the name of the state the claim moves to."""

    APPROVED = "approved"
    PARTIALLY_APPROVED = "partially_approved"
    REJECTED = "rejected"


class RejectionReason(StrEnum):
    """Why a claim was rejected. Stable codes: decisions and the API cite them."""

    NOT_COVERED = "not_covered"
    ITEM_DELIVERED_AS_DESCRIBED = "item_delivered_as_described"
    LOSS_NOT_DOCUMENTED = "loss_not_documented"
    DOCUMENTS_NOT_PROVIDED = "documents_not_provided"
    SETTLED_WITH_SELLER = "settled_with_seller"
    FALSE_INFORMATION = "false_information"
    OTHER = "other"


class DocumentKind(StrEnum):
    POLICE_REPORT = "police_report"
    SUPPORTING = "supporting"
    REQUESTED = "requested"
    SELLER_EVIDENCE = "seller_evidence"  # what the seller sent with their answer


# What a policy version may require a buyer to hand in when filing a claim: the police
# acknowledgement (its reference number and the document) and supporting documents (at
# least one: photos, an expert's opinion, the invoice of a documented loss).
FILING_DOCUMENT_KINDS = (DocumentKind.POLICE_REPORT, DocumentKind.SUPPORTING)

# The buyer's own papers (police acknowledgement, supporting and requested documents): the
# seller of the order never sees them, links or downloads; staff and the buyer do.
BUYER_DOCUMENT_KINDS = frozenset({DocumentKind.POLICE_REPORT, DocumentKind.SUPPORTING,
                                  DocumentKind.REQUESTED})


class PayoutState(StrEnum):
    PENDING = "pending"      # approved, not yet handed to finance
    EXPORTED = "exported"    # in a CSV batch that finance has
    PAID = "paid"            # finance confirmed the transfer
    FAILED = "failed"        # the bank returned the transfer; a re-issue pays it again


class Role(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"
    STAFF = "staff"


# Withdrawal: DESIGN.md lists submitted -> withdrawn only; the issue says "withdraw before
# a decision". We follow the issue: a buyer whose parcel turns up while an advisor reviews
# the claim must be able to drop it, rather than make staff reject it (a rejection is a
# finding against the buyer). After a decision there is nothing left to withdraw.
TRANSITIONS: tuple[Transition, ...] = (
    Transition("take", frozenset({S.SUBMITTED}), S.UNDER_REVIEW, Role.STAFF),
    Transition("withdraw", OPEN_STATES, S.WITHDRAWN, Role.BUYER),
    Transition("request_documents", frozenset({S.UNDER_REVIEW}), S.AWAITING_DOCUMENTS,
               Role.STAFF, starts="document_request.due_at = requested_at + 7 days"),
    Transition("documents_arrived", frozenset({S.AWAITING_DOCUMENTS}), S.UNDER_REVIEW,
               Role.BUYER),
    Transition("reject_after_deadline", frozenset({S.AWAITING_DOCUMENTS}), S.REJECTED,
               Role.STAFF, timer="document_request.due_at"),
    Transition("approve", frozenset({S.UNDER_REVIEW}), S.APPROVED, Role.STAFF),
    Transition("approve_partially", frozenset({S.UNDER_REVIEW}), S.PARTIALLY_APPROVED,
               Role.STAFF),
    Transition("reject", frozenset({S.UNDER_REVIEW}), S.REJECTED, Role.STAFF),
    # Four eyes: an approval above CLAIM_SECOND_APPROVAL_ABOVE waits for a second senior,
    # who confirms it (it becomes the decision the first approver chose) or sends it back.
    Transition("approve_pending_second", frozenset({S.UNDER_REVIEW}),
               S.AWAITING_SECOND_APPROVAL, Role.STAFF),
    Transition("confirm_approval", frozenset({S.AWAITING_SECOND_APPROVAL}), S.APPROVED,
               Role.STAFF),
    Transition("confirm_partial_approval", frozenset({S.AWAITING_SECOND_APPROVAL}),
               S.PARTIALLY_APPROVED, Role.STAFF),
    Transition("send_back", frozenset({S.AWAITING_SECOND_APPROVAL}), S.UNDER_REVIEW,
               Role.STAFF),
    Transition("mark_paid", PAYABLE_STATES, S.PAID, Role.STAFF),
)
MACHINE = StateMachine(TRANSITIONS, subject="claim", refusal=lambda state: str(_l(
    "This claim is %(state)s; that is not possible now.", state=STATE_LABELS[state])))
transition, allowed, require = MACHINE.transition, MACHINE.allowed, MACHINE.require
DECISION_ACTIONS = {
    Decision.APPROVED: "approve",
    Decision.PARTIALLY_APPROVED: "approve_partially",
    Decision.REJECTED: "reject",
}
# The second approval of a pending decision: the action that makes it final.
CONFIRM_ACTIONS = {
    Decision.APPROVED: "confirm_approval",
    Decision.PARTIALLY_APPROVED: "confirm_partial_approval",
}


CLAIM_TYPE_LABELS = {
    ClaimType.NOT_RECEIVED: _l("Item not received"),
    ClaimType.NOT_AS_DESCRIBED: _l("Item significantly not as described"),
    ClaimType.OTHER: _l("Other problem after the sale"),
}
STATE_LABELS = {
    S.SUBMITTED: _l("submitted"),
    S.UNDER_REVIEW: _l("under review"),
    S.AWAITING_DOCUMENTS: _l("awaiting documents"),
    S.AWAITING_SECOND_APPROVAL: _l("awaiting second approval"),
    S.APPROVED: _l("approved"),
    S.PARTIALLY_APPROVED: _l("partially approved"),
    S.REJECTED: _l("rejected"),
    S.WITHDRAWN: _l("withdrawn"),
    S.PAID: _l("paid"),
}
DECISION_LABELS = {
    Decision.APPROVED: _l("Approve: pay the claim's maximum"),
    Decision.PARTIALLY_APPROVED: _l("Approve partially: pay a lower amount"),
    Decision.REJECTED: _l("Reject"),
}
REJECTION_REASON_LABELS = {
    RejectionReason.NOT_COVERED: _l("The purchase is not covered by the rules"),
    RejectionReason.ITEM_DELIVERED_AS_DESCRIBED: _l(
        "The item was delivered and matches its description"),
    RejectionReason.LOSS_NOT_DOCUMENTED: _l("The loss is not documented"),
    RejectionReason.DOCUMENTS_NOT_PROVIDED: _l(
        "The requested documents were not provided by the deadline"),
    RejectionReason.SETTLED_WITH_SELLER: _l("The buyer and the seller settled the matter"),
    RejectionReason.FALSE_INFORMATION: _l("The claim contains false information"),
    RejectionReason.OTHER: _l("Other reason (see the rationale)"),
}
DOCUMENT_KIND_LABELS = {
    DocumentKind.POLICE_REPORT: _l("Police report acknowledgement"),
    DocumentKind.SUPPORTING: _l("Supporting document"),
    DocumentKind.REQUESTED: _l("Requested document"),
    DocumentKind.SELLER_EVIDENCE: _l("Seller's evidence"),
}
# What a policy version requires at filing, as the rules and the filing page say it.
FILING_DOCUMENT_LABELS = {
    DocumentKind.POLICE_REPORT: _l("police acknowledgement (reference number and document)"),
    DocumentKind.SUPPORTING: _l("at least one supporting document"),
}
PAYOUT_STATE_LABELS = {
    PayoutState.PENDING: _l("waiting for the next payout batch"),
    PayoutState.EXPORTED: _l("sent to the finance team"),
    PayoutState.PAID: _l("paid"),
    PayoutState.FAILED: _l("returned by the bank"),
}
