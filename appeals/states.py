"""The appeal state machine, its vocabulary, and who may appeal what.

An appeal is filed by one party against one decision (a discussion's verdict or a claim's
decision), answered by the other party within 72 h, taken by a staff member who did not
make the decision, and decided after every piece of evidence was marked read.
"""

from enum import StrEnum

from flask_babel import lazy_gettext as _l

from arbiter.statemachine import StateMachine, Transition


class AppealState(StrEnum):
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    UPHELD = "upheld"
    VARIED = "varied"
    OVERTURNED = "overturned"


OPEN_STATES = frozenset({AppealState.SUBMITTED, AppealState.UNDER_REVIEW})
TERMINAL_STATES = frozenset({AppealState.UPHELD, AppealState.VARIED, AppealState.OVERTURNED})


class Outcome(StrEnum):
    """What the reviewer decides; each is the name of the state the appeal moves to."""

    UPHELD = "upheld"
    VARIED = "varied"
    OVERTURNED = "overturned"


class Appellant(StrEnum):
    BUYER = "buyer"
    SELLER = "seller"


class Subject(StrEnum):
    """What is appealed: a discussion's verdict, or a claim's decision."""

    VERDICT = "verdict"
    CLAIM = "claim"


class Role(StrEnum):
    APPELLANT = "appellant"
    RESPONDENT = "respondent"
    STAFF = "staff"


S = AppealState
TRANSITIONS: tuple[Transition, ...] = (
    Transition("answer", frozenset({S.SUBMITTED, S.UNDER_REVIEW}), None, Role.RESPONDENT,
               timer="answer_due_at"),
    Transition("take", frozenset({S.SUBMITTED}), S.UNDER_REVIEW, Role.STAFF,
               starts="review_due_at = filed_at + 14 days (the service level)"),
    Transition("uphold", frozenset({S.UNDER_REVIEW}), S.UPHELD, Role.STAFF),
    Transition("vary", frozenset({S.UNDER_REVIEW}), S.VARIED, Role.STAFF),
    Transition("overturn", frozenset({S.UNDER_REVIEW}), S.OVERTURNED, Role.STAFF),
)
MACHINE = StateMachine(TRANSITIONS, subject="appeal", refusal=lambda state: str(_l(
    "This appeal is %(state)s; that is not possible now.", state=STATE_LABELS[state])))
OUTCOME_ACTIONS = {Outcome.UPHELD: "uphold", Outcome.VARIED: "vary",
                   Outcome.OVERTURNED: "overturn"}


STATE_LABELS = {
    S.SUBMITTED: _l("waiting for a reviewer"),
    S.UNDER_REVIEW: _l("under review"),
    S.UPHELD: _l("upheld"),
    S.VARIED: _l("varied"),
    S.OVERTURNED: _l("overturned"),
}
OUTCOME_LABELS = {
    Outcome.UPHELD: _l("Uphold: the decision stands"),
    Outcome.VARIED: _l("Vary: a different amount"),
    Outcome.OVERTURNED: _l("Overturn: the opposite decision"),
}
APPELLANT_LABELS = {Appellant.BUYER: _l("the buyer"), Appellant.SELLER: _l("the seller")}
SUBJECT_LABELS = {Subject.VERDICT: _l("the platform's verdict"),
                  Subject.CLAIM: _l("the decision on the protection claim")}
