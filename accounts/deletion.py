"""Delete my account: anonymise the person, keep what the law requires, in one transaction.

:func:`delete_account` is the one service function: it checks the password, refuses while
the person still has open cases (or is the last advisor), and then, in the caller's one
commit:

- replaces the name and e-mail address with a pseudonym (``deleted-<pseudonym>`` and
  ``deleted-<pseudonym>@invalid``), makes the password unusable, forgets the language and
  the staff role, and sets ``deleted_at``; the numeric id stays, so decisions, amounts,
  payouts and audit entries keep pointing at the same (now pseudonymous) person;
- ends every session (the ``user_sessions`` rows: a replayed cookie finds nothing), forgets
  the second factor (its secret and recovery codes) and deletes the person's notifications
  and e-mails (outbox rows with their address), staff invitations to their address,
  e-mail confirmation links and data exports (the ZIP files go once the transaction
  commits);
- runs the ``erase`` hook of every package registered in :mod:`accounts.personal_data`,
  in registration order: the payout account (IBAN) and beneficiary name of claims that no
  longer need them (``claims/personal_data.py``), what problem reports said and their
  screenshots (``incidents/personal_data.py``), API tokens and idempotency keys (stored API
  answers, ``integrations/personal_data.py``);
- writes one audit entry, ``user.deleted``, with the hooks' counts and no personal data.

The open cases that refuse a deletion are the packages' ``blockers`` and
``assigned_cases`` hooks.

Kept on purpose: orders, discussions with their messages and evidence, claims with their
documents, decision documents (PDFs with the names as they were when issued), payouts and
their amounts, exported payout CSVs (accounting records) and the audit log, which is
append-only and hash-chained: past entries are never rewritten (``user.registered`` holds
the e-mail address given at registration).
"""

import secrets

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import delete, exists, func, select

from accounts import personal_data, second_factor
from accounts.models import (
    DataExport,
    EmailVerification,
    RoleGrant,
    StaffInvitation,
    User,
    UserSession,
)
from accounts.passwords import verify_password
from accounts.roles import Role
from arbiter import audit, clock
from arbiter.errors import TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.files import delete_blob_after_commit
from arbiter.notifications import Notification, OutboxEmail

# argon2 refuses to verify against this, so no password matches it.
UNUSABLE_PASSWORD = "!deleted"  # noqa: S105 - not a password: a hash nothing matches


class DeletionRefused(TransitionNotAllowed):
    code = "account_deletion_refused"


def pseudonymous_email(pseudonym: str) -> str:
    return f"deleted-{pseudonym}@invalid"


def deletion_blockers(user: User) -> list[str]:
    """Why the account cannot be deleted now, in the reader's language; empty if it can."""
    problems = []
    for holder in personal_data.HOLDERS:
        if holder.blockers:
            problems.extend(holder.blockers(user))
    if user.is_staff:
        handled = sum(holder.assigned_cases(user) for holder in personal_data.HOLDERS
                      if holder.assigned_cases)
        if handled:
            problems.append(ngettext(
                "You are handling %(num)d open case as an advisor. Finish it first.",
                "You are handling %(num)d open cases as an advisor. Finish them first.",
                handled))
    if Role.ADMIN in user.roles:
        others = db.session.scalar(select(func.count(User.id)).where(
            _admin, User.deleted_at.is_(None), User.deactivated_at.is_(None),
            User.id != user.id))
        if not others:
            problems.append(_("You are the last administrator. The platform needs one: "
                              "give another staff member the administrator role before "
                              "deleting this account."))
    return problems


_admin = exists().where(RoleGrant.user_id == User.id, RoleGrant.role == Role.ADMIN)


def _lock(user: User) -> User:
    """Lock the person's row, and for an administrator every live administrator's row, in
    id order: two administrators deleting themselves at once queue here (never deadlock),
    and the second one counts the administrators left after the first one's commit."""
    if Role.ADMIN in user.roles:
        db.session.execute(
            select(User.id).where(_admin, User.deleted_at.is_(None))
            .order_by(User.id).with_for_update())
    return db.session.scalar(select(User).where(User.id == user.id).with_for_update()
                             .execution_options(populate_existing=True))


def delete_account(user: User, password: str) -> str:
    """Anonymise ``user`` (see the module's docstring); returns the pseudonym.

    A wrong password raises :class:`ValidationFailed` and open cases or being the last
    advisor :class:`DeletionRefused` (409), both before anything changes.
    """
    if not verify_password(user.password_hash, password or ""):
        raise ValidationFailed(_("The password is not correct."), code="wrong_password",
                               fields={"password": ["incorrect"]})
    user = _lock(user)
    if user.deleted_at is not None:
        raise DeletionRefused(_("This account has already been deleted."))
    blockers = deletion_blockers(user)
    if blockers:
        raise DeletionRefused(" ".join(blockers))

    now = clock.now()
    pseudonym = secrets.token_hex(6)
    counts = {}
    counts["sessions_ended"] = db.session.execute(
        delete(UserSession).where(UserSession.user_id == user.id)).rowcount
    second_factor.forget(user)
    db.session.execute(delete(Notification).where(Notification.user_id == user.id))
    db.session.execute(delete(OutboxEmail).where(OutboxEmail.recipient_id == user.id))
    db.session.execute(delete(EmailVerification).where(EmailVerification.user_id == user.id))
    counts["staff_invitations_deleted"] = db.session.execute(delete(StaffInvitation).where(
        (StaffInvitation.email == user.email) | (StaffInvitation.accepted_user_id == user.id))
    ).rowcount

    exports = db.session.scalars(select(DataExport).where(DataExport.user_id == user.id)).all()
    for export in exports:
        if export.storage_key:
            delete_blob_after_commit(export.storage_key)
        db.session.delete(export)
    counts["data_exports_deleted"] = len(exports)

    for holder in personal_data.HOLDERS:
        if holder.erase:
            counts.update(holder.erase(user))

    roles = sorted(user.roles)
    user.email = pseudonymous_email(pseudonym)
    user.name = f"deleted-{pseudonym}"
    user.password_hash = UNUSABLE_PASSWORD
    user.password_changed_at = now
    user.locale = None
    user.role_grants = []
    user.deleted_at = now
    audit.record("user.deleted", user, actor=user,
                 after={"pseudonym": pseudonym, "roles": roles, **counts})
    return pseudonym
