"""The one change the signals have: a member of staff writes a note about an account.

Signals never change anything by themselves; a note is what staff make of them, kept
append-only and audited. Any sanction is decided elsewhere, by a person, with a rationale.
"""

import hashlib

from flask_babel import gettext as _

from accounts.models import User
from accounts.roles import Role
from arbiter import audit, clock
from arbiter.errors import ConflictOfInterest, NotFound, ValidationFailed
from arbiter.extensions import db
from signals.models import AccountNote
from signals.policy import NOTE_MAX


def require_reader(staff: User, subject_id: int) -> User:
    """An advisor (or senior) looking at someone else's account: the account, or
    NotFound (404) for anyone else and for an account that does not exist;
    ConflictOfInterest (403) for one's own account (what others noted about you is not
    yours to read or add to)."""
    if not staff.has_role(Role.ADVISOR):
        raise NotFound(_("There is nothing here."))
    subject = db.session.get(User, subject_id)
    if subject is None:
        raise NotFound(_("There is nothing here."))
    if subject.id == staff.id:
        raise ConflictOfInterest(_("These are the signals of your own account: another "
                                   "staff member looks at them."))
    return subject


def add_note(subject_id: int, staff: User, body: str) -> AccountNote:
    """Append a note about an account; audited (``account.note_added`` on the user, with
    the note's SHA-256 so the log proves what it said without repeating it)."""
    subject = require_reader(staff, subject_id)
    text = (body or "").strip()
    if not text:
        raise ValidationFailed(_("Write the note first."), fields={"body": [_("Required.")]})
    if len(text) > NOTE_MAX:
        message = _("At most %(max)d characters.", max=NOTE_MAX)
        raise ValidationFailed(message, fields={"body": [message]})
    note = AccountNote(user_id=subject.id, author_id=staff.id, body=text,
                       created_at=clock.now())
    db.session.add(note)
    db.session.flush()
    audit.record("account.note_added", object_type="users", object_id=subject.id,
                 actor=staff, after={
                     "note_id": note.id,
                     "body_sha256": hashlib.sha256(text.encode()).hexdigest()})
    return note
