"""Helpers for appeal tests: a verdict on a fresh order, and an appeal taken to a decision
through the services."""

from datetime import datetime, timedelta

import time_machine

from appeals import services as appeals
from appeals.queries import evidence
from appeals.states import Outcome
from arbiter.extensions import db
from disputes import services as disputes
from disputes.states import Verdict
from tests.appeals.conftest import RATIONALE, STATEMENT

ANSWER = "The parcel was sent on time; the courier's note says nothing about the damage."
DECISION = "Both statements and every photo read: the courier's note settles it."


def decide_verdict(create_discussion, buyer, seller, staff, amount=5_000):
    """A partial verdict of ``amount`` by ``staff`` on a new order of buyer and seller."""
    discussion = create_discussion(buyer=buyer, seller=seller, age_hours=25)
    disputes.escalate(discussion, buyer, "The seller does not answer at all.")
    disputes.take_case(discussion, staff)
    disputes.decide(discussion, staff, verdict=Verdict.PARTIAL, amount=amount,
                    rationale=RATIONALE)
    db.session.commit()
    return discussion


def decided_appeal(decision, appellant, reviewer, outcome=Outcome.UPHELD, amount=None, *,
                   filed_at: datetime | None = None, after=timedelta(days=4), respondent=None):
    """``appellant`` appeals ``decision`` at ``filed_at``; ``respondent`` (if given) answers
    an hour later; ``reviewer`` decides ``after`` the filing."""
    start = filed_at or decision.decided_at + timedelta(hours=1)
    with time_machine.travel(start, tick=False):
        appeal = appeals.file_appeal(decision, appellant, STATEMENT)
        db.session.commit()
    if respondent is not None:
        with time_machine.travel(start + timedelta(hours=1), tick=False):
            appeals.answer(appeal, respondent, ANSWER)
            db.session.commit()
    with time_machine.travel(start + after, tick=False):
        appeals.take(appeal, reviewer)
        for item in evidence(appeal):
            appeals.mark_read(appeal, reviewer, item.key)
        appeals.decide(appeal, reviewer, outcome=outcome, amount=amount, rationale=DECISION)
        db.session.commit()
    return appeal
