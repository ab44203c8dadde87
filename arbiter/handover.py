"""Handing a case to another staff member, with a note (issue 20): the parts the three
kinds of case share. Each package keeps its one service function (``disputes.services``,
``claims.services``, ``appeals.services`` ``hand_over``): it locks its row, checks its own
state, and calls :func:`check` before the change and :func:`record` after it.

The rules:

- only the current handler, or a ``senior``, hands a case over; nobody hands over a case
  they are the buyer or seller of, and a case nobody handles yet is taken, not handed;
- the recipient is an active staff member holding the role the case needs (``advisor``
  for discussions and claims, ``senior`` for appeals), neither the buyer nor the seller
  (``orders.policy.conflicted``), and not the one handling it already; a package may add a
  refusal of its own (appeals: never the author of the decision under appeal);
- the note (required) is for staff: it goes into the audit entry, shown on the case's page
  to staff only (:func:`history`), and to the recipient, who is notified.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import marshmallow as ma
from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select

from accounts.models import RoleGrant, User
from accounts.roles import INCLUDES, LABELS, Role
from arbiter import audit
from arbiter.api import InSchema
from arbiter.audit import AuditEntry
from arbiter.errors import TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.notifications import notify, register_texts
from arbiter.validation import checked_text
from orders.policy import conflicted
from orders.services import require_impartial

NOTE_MAX = 2_000

register_texts({
    "discussion.handed_over": _l("%(from_name)s handed discussion #%(id)s to you: %(note)s"),
    "claim.handed_over": _l("%(from_name)s handed claim #%(id)s to you: %(note)s"),
    "appeal.handed_over": _l("%(from_name)s handed appeal #%(id)s to you: %(note)s"),
    "discussion.taken_from_you": _l("%(from_name)s handed discussion #%(id)s to another "
                                    "advisor."),
    "claim.taken_from_you": _l("%(from_name)s handed claim #%(id)s to another advisor."),
    "appeal.taken_from_you": _l("%(from_name)s handed appeal #%(id)s to another reviewer."),
})


class NobodyHandlesIt(TransitionNotAllowed):
    code = "not_taken"


class NotTheHandler(TransitionNotAllowed):
    """Someone other than the handler (and not a senior) tries to hand the case over (409,
    like acting on a case someone else has taken)."""

    code = "not_the_handler"


def check(case, actor: User, to_id, note: str | None, *, role: Role, handler_id: int | None,
          refuse=None) -> tuple[User, str]:
    """The recipient and the cleaned note, or the refusal (see the module's docstring).

    ``refuse(recipient)`` returns the package's own reason to refuse a recipient, or None.
    """
    require_impartial(actor, case)
    if handler_id is None:
        raise NobodyHandlesIt(_("Nobody is handling this case yet: take it instead of "
                                "handing it over."))
    if actor.id != handler_id and not actor.has_role(Role.SENIOR):
        raise NotTheHandler(_("Only the staff member handling this case, or a senior "
                              "advisor, can hand it over."))
    note = checked_text(note, "note", maximum=NOTE_MAX)
    recipient = db.session.get(User, to_id) if isinstance(to_id, int) else None

    def refused(message: str, reason: str):
        return ValidationFailed(message, code="handover_recipient", fields={"to": [reason]})

    if recipient is None or recipient.deleted_at is not None:
        raise refused(_("Choose a staff member from the list."), "unknown")
    if recipient.id == handler_id:
        raise refused(_("%(name)s is already handling this case.", name=recipient.name),
                      "handler")
    if recipient.deactivated_at is not None:
        raise refused(_("%(name)s's account is deactivated.", name=recipient.name),
                      "deactivated")
    if not recipient.has_role(role):
        raise refused(_("%(name)s does not hold the role this case needs (%(role)s).",
                        name=recipient.name, role=LABELS[role]), "role")
    if conflicted(recipient, case):
        raise refused(_("%(name)s is the buyer or the seller in this case.",
                        name=recipient.name), "conflicted")
    reason = refuse(recipient) if refuse else None
    if reason:
        raise refused(reason, "refused")
    return recipient, note


def record(case, actor: User, previous: User | None, recipient: User, note: str, *,
           kind: str) -> AuditEntry:
    """The audit entry (before and after: the handler; the note) and the notifications."""
    entry = audit.record(f"{kind}.handed_over", case, actor=actor,
                         before={"handler_id": getattr(previous, "id", None)},
                         after={"handler_id": recipient.id}, note=note)
    notify(recipient, f"{kind}.handed_over", case, from_name=actor.name, note=note)
    if previous is not None and previous.id != actor.id:
        notify(previous, f"{kind}.taken_from_you", case, email=False, from_name=actor.name)
    return entry


@dataclass(frozen=True)
class HandOver:
    at: datetime
    by: User | None
    from_: User | None
    to: User | None
    note: str


def history(case) -> list[HandOver]:
    """The case's hand-overs, oldest first, with who handed it to whom (for staff only)."""
    entries = list(db.session.scalars(
        select(AuditEntry).where(AuditEntry.object_type == case.__tablename__,
                                 AuditEntry.object_id == str(case.id),
                                 AuditEntry.action.like("%.handed_over"))
        .order_by(AuditEntry.id)))
    ids = {entry.actor_id for entry in entries} | {
        (entry.before or {}).get("handler_id") for entry in entries} | {
        (entry.after or {}).get("handler_id") for entry in entries}
    people = {user.id: user for user in db.session.scalars(
        select(User).where(User.id.in_([i for i in ids if i is not None])))}
    return [HandOver(entry.at, people.get(entry.actor_id),
                     people.get((entry.before or {}).get("handler_id")),
                     people.get((entry.after or {}).get("handler_id")), entry.note or "")
            for entry in entries]


def candidates(case, role: Role, *, handler_id: int | None,
               also_excluded: tuple[int | None, ...] = ()) -> list[User]:
    """Active staff who may receive the case, by name (the form's choices)."""
    granting = {role} | {holder for holder, included in INCLUDES.items() if role in included}
    excluded = {case.buyer_id, case.seller_id, handler_id, *also_excluded} - {None}
    return list(db.session.scalars(
        select(User).where(
            exists().where(RoleGrant.user_id == User.id, RoleGrant.role.in_(granting)),
            User.deleted_at.is_(None), User.deactivated_at.is_(None),
            User.id.not_in(excluded))
        .order_by(User.name, User.id)))


# --- pages and the API -----------------------------------------------------------------

class HandOverIn(InSchema):
    """``POST .../hand-over``: to whom (a user id) and the note for staff."""

    to = ma.fields.Integer(required=True, strict=True,
                           metadata={"description": "the id of the staff member"})
    note = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=NOTE_MAX))


@dataclass(frozen=True)
class Kind:
    """How a case's page offers the hand-over form."""

    role: Role
    handler: str  # the column holding the handler's id
    endpoint: str  # the page's POST endpoint
    argument: str  # its URL argument
    is_open: Callable  # the case may still be handed over
    also_excluded: str | None = None  # a column naming someone who never receives it


KINDS: dict[str, Kind] = {}


def register_kind(table: str, kind: Kind) -> None:
    KINDS[table] = kind


def submitted_form():
    """The hand-over form of a page's POST: (recipient id, note), or ValidationFailed."""
    from accounts.forms import HandOverForm

    form = HandOverForm()
    form.to.validate_choice = False
    if not form.validate():
        field = "to" if form.to.errors else "note"
        raise ValidationFailed(_("Choose a staff member and write a note for them."),
                               code="handover_form", fields={field: ["required"]})
    return form.to.data, form.note.data


def panel(case, user) -> dict | None:
    """What a staff member sees of hand-overs on the case's page: the history and, when
    they may hand the case over now, the form with the possible recipients."""
    kind = KINDS.get(case.__tablename__)
    if kind is None or not getattr(user, "is_authenticated", False) \
            or not user.has_role(kind.role) or conflicted(user, case):
        return None
    from accounts.forms import HandOverForm

    handler_id = getattr(case, kind.handler)
    form = None
    may = (kind.is_open(case) and handler_id is not None
           and (user.id == handler_id or user.has_role(Role.SENIOR)))
    if may:
        excluded = (getattr(case, kind.also_excluded),) if kind.also_excluded else ()
        form = HandOverForm(formdata=None)
        form.to.choices = [(person.id, person.name) for person in candidates(
            case, kind.role, handler_id=handler_id, also_excluded=excluded)]
    handed = history(case)
    if form is None and not handed:
        return None
    return {"history": handed, "form": form,
            "action": url_for(kind.endpoint, **{kind.argument: case.id})}
