"""The shape every state machine shares: a transition table as data, and the one check.

Each feature's ``states.py`` declares its states, its ``TRANSITIONS`` table and a
:class:`StateMachine` over it; its service functions call ``require(state, action)``
before changing anything, so a transition the table does not allow is refused with
:class:`TransitionNotAllowed` (HTTP 409) in one place. The JSON API publishes the same
tables (``integrations/machines.py``), so the rules are never written twice.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from arbiter.errors import TransitionNotAllowed


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset
    target: StrEnum | None  # None: the state stays as it is
    actor: StrEnum | None = None
    timer: str | None = None   # the deadline that must have passed first, if any
    starts: str | None = None  # the deadline this step starts, if any


class StateMachine:
    """``refusal(state)`` says, in the reader's language, why nothing is possible now;
    ``subject`` names the audit entries of its changes (``claim.take``, ...)."""

    def __init__(self, transitions: Iterable[Transition], refusal: Callable[[StrEnum], str],
                 *, subject: str):
        self.subject = subject
        self.transitions = tuple(transitions)
        self._by_action = {step.action: step for step in self.transitions}
        self._refusal = refusal

    def transition(self, action: str) -> Transition:
        return self._by_action[action]

    def allowed(self, state: StrEnum, action: str) -> bool:
        return state in self._by_action[action].sources

    def require(self, state: StrEnum, action: str) -> Transition:
        step = self._by_action[action]
        if state not in step.sources:
            raise TransitionNotAllowed(self._refusal(state), code="transition_not_allowed",
                                       fields={"state": [state.value]})
        return step

    def change(self, obj, action: str, *, actor, audited: Iterable[str],
               **changes) -> Transition:
        """The one way a service moves ``obj`` (read with :func:`arbiter.db.locked`): the
        table must allow ``action`` from its state (else 409, nothing changed); then the
        state and ``changes`` are set and the audit entry ``<subject>.<action>`` records the
        ``audited`` columns before and after."""
        from arbiter import audit

        step = self.require(obj.state, action)
        before = audit.snapshot(obj, audited)
        if step.target is not None:
            obj.state = step.target
        for key, value in changes.items():
            setattr(obj, key, value)
        audit.record(f"{self.subject}.{action}", obj, actor=actor, before=before,
                     after=audit.snapshot(obj, audited))
        return step
