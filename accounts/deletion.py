"""Delete my account: anonymise the person, keep what the law requires, in one transaction.

:func:`delete_account` is the one service function: it checks the password, refuses while
the person still has open cases (or is the last advisor), and then, in the caller's one
commit:

- replaces the name and e-mail address with a pseudonym (``deleted-<pseudonym>`` and
  ``deleted-<pseudonym>@invalid``), makes the password unusable, forgets the language and
  the staff role, and sets ``deleted_at``; the numeric id stays, so decisions, amounts,
  payouts and audit entries keep pointing at the same (now pseudonymous) person;
- ends every session (the ``user_sessions`` rows: a replayed cookie finds nothing) and
  revokes every API token; deletes the person's idempotency keys (stored API answers),
  notifications and e-mails (outbox rows with their address), and data exports (the ZIP
  files go once the transaction commits);
- erases what problem reports said and their screenshots;
- erases the payout account (IBAN) and the beneficiary name of claims that can no longer
  pay (rejected, withdrawn, paid) or whose payout finance already has (exported). An
  approved claim whose payout is still waiting for export keeps them: the money is owed,
  and the transfer needs the account. The sweeper erases them once the payout is exported
  (:func:`payout_details_due` / :func:`erase_payout_details`);
- writes one audit entry, ``user.deleted``, with counts and no personal data.

Kept on purpose: orders, discussions with their messages and evidence, claims with their
documents, decision documents (PDFs with the names as they were when issued), payouts and
their amounts, exported payout CSVs (accounting records) and the audit log, which is
append-only and hash-chained: past entries are never rewritten (``user.registered`` holds
the e-mail address given at registration).
"""

import secrets

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import delete, func, or_, select

from accounts.models import DataExport, User, UserSession
from accounts.passwords import verify_password
from arbiter import audit, clock
from arbiter.errors import TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.files import delete_blob_after_commit
from arbiter.notifications import Notification, OutboxEmail
from claims.models import Claim, Payout
from claims.states import OPEN_STATES as OPEN_CLAIM_STATES
from claims.states import TERMINAL_STATES as TERMINAL_CLAIM_STATES
from claims.states import PayoutState
from disputes.models import Discussion
from disputes.states import OPEN_STATES as OPEN_DISCUSSION_STATES
from incidents.models import ProblemReport
from integrations import tokens
from integrations.models import ApiToken, IdempotencyKey, TokenKind

# argon2 refuses to verify against this, so no password matches it.
UNUSABLE_PASSWORD = "!deleted"  # noqa: S105 - not a password: a hash nothing matches
ERASED_TEXT = "—"  # what an erased problem report says (the columns may not be empty)
ERASED = ""  # an erased payout account or beneficiary name


class DeletionRefused(TransitionNotAllowed):
    code = "account_deletion_refused"


def pseudonymous_email(pseudonym: str) -> str:
    return f"deleted-{pseudonym}@invalid"


def deletion_blockers(user: User) -> list[str]:
    """Why the account cannot be deleted now, in the reader's language; empty if it can."""
    problems = []
    discussions = db.session.scalar(
        select(func.count(Discussion.id)).where(
            Discussion.state.in_(OPEN_DISCUSSION_STATES),
            or_(Discussion.buyer_id == user.id, Discussion.seller_id == user.id))) or 0
    if discussions:
        problems.append(ngettext(
            "You take part in %(num)d open discussion. Close or withdraw it, or wait until "
            "it ends, before deleting your account.",
            "You take part in %(num)d open discussions. Close or withdraw them, or wait until "
            "they end, before deleting your account.", discussions))
    claims = db.session.scalar(
        select(func.count(Claim.id)).where(Claim.state.in_(OPEN_CLAIM_STATES),
                                           Claim.buyer_id == user.id)) or 0
    if claims:
        problems.append(ngettext(
            "You have %(num)d protection claim awaiting a decision. Withdraw it or wait for "
            "the decision before deleting your account.",
            "You have %(num)d protection claims awaiting a decision. Withdraw them or wait for "
            "the decisions before deleting your account.", claims))
    if user.is_staff:
        handled = (db.session.scalar(select(func.count(Discussion.id)).where(
            Discussion.state.in_(OPEN_DISCUSSION_STATES),
            Discussion.assigned_staff_id == user.id)) or 0) + (db.session.scalar(
                select(func.count(Claim.id)).where(Claim.state.in_(OPEN_CLAIM_STATES),
                                                   Claim.assigned_staff_id == user.id)) or 0)
        if handled:
            problems.append(ngettext(
                "You are handling %(num)d open case as an advisor. Finish it first.",
                "You are handling %(num)d open cases as an advisor. Finish them first.",
                handled))
        others = db.session.scalar(select(func.count(User.id)).where(
            User.is_staff.is_(True), User.deleted_at.is_(None), User.id != user.id))
        if not others:
            problems.append(_("You are the last advisor account. The platform needs one: "
                              "make another advisor account before deleting this one."))
    return problems


def _lock(user: User) -> User:
    """Lock the person's row, and for an advisor every live advisor's row, in id order: two
    advisors deleting themselves at once queue here (never deadlock), and the second one
    counts the advisors left after the first one's commit."""
    if user.is_staff:
        db.session.execute(
            select(User.id).where(User.is_staff.is_(True), User.deleted_at.is_(None))
            .order_by(User.id).with_for_update())
    return db.session.scalar(select(User).where(User.id == user.id).with_for_update()
                             .execution_options(populate_existing=True))


def payout_details_due(now=None):
    """Claims of deleted accounts that still hold an IBAN they no longer need: the claim
    can no longer pay, or its payout is already exported (the sweeper's job)."""
    deleted = select(User.id).where(User.deleted_at.is_not(None))
    handed_over = select(Payout.claim_id).where(Payout.state != PayoutState.PENDING)
    return (select(Claim)
            .where(Claim.buyer_id.in_(deleted), Claim.payout_account != ERASED,
                   or_(Claim.state.in_(TERMINAL_CLAIM_STATES), Claim.id.in_(handed_over)))
            .order_by(Claim.id))


def _erase(claim: Claim) -> None:
    claim.payout_account = ERASED
    if claim.payout is not None:
        claim.payout.account = ERASED
        claim.payout.beneficiary_name = ERASED


def erase_payout_details(claim: Claim, now=None) -> None:
    """Sweeper: the payout of a deleted account's claim was exported; erase its IBAN."""
    _erase(claim)
    audit.record("user.payout_details_erased", object_type="users", object_id=claim.buyer_id,
                 after={"claim_id": claim.id})


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
    live_tokens = db.session.scalars(select(ApiToken).where(
        ApiToken.kind == TokenKind.USER, ApiToken.user_id == user.id,
        ApiToken.revoked_at.is_(None))).all()
    for token in live_tokens:
        tokens.revoke(token)
    counts["api_tokens_revoked"] = len(live_tokens)
    db.session.execute(delete(IdempotencyKey).where(IdempotencyKey.owner == f"user:{user.id}"))
    db.session.execute(delete(Notification).where(Notification.user_id == user.id))
    db.session.execute(delete(OutboxEmail).where(OutboxEmail.recipient_id == user.id))

    exports = db.session.scalars(select(DataExport).where(DataExport.user_id == user.id)).all()
    for export in exports:
        if export.storage_key:
            delete_blob_after_commit(export.storage_key)
        db.session.delete(export)
    counts["data_exports_deleted"] = len(exports)

    reports = db.session.scalars(
        select(ProblemReport).where(ProblemReport.user_id == user.id)).all()
    for report in reports:
        report.what_happened = ERASED_TEXT
        report.doing = ERASED_TEXT
        if report.screenshot_key:
            delete_blob_after_commit(report.screenshot_key)
        report.screenshot_key = report.screenshot_sha256 = None
        report.screenshot_filename = report.screenshot_content_type = None
    counts["problem_reports_erased"] = len(reports)

    kept = erased = 0
    for claim in db.session.scalars(select(Claim).where(Claim.buyer_id == user.id)):
        payout_pending = claim.payout is not None and claim.payout.state is PayoutState.PENDING
        if payout_pending:
            kept += 1
        elif claim.state in TERMINAL_CLAIM_STATES or claim.payout is not None:
            _erase(claim)
            erased += 1
    counts["payout_details_erased"] = erased
    counts["payout_details_kept_until_export"] = kept

    was_staff = user.is_staff
    user.email = pseudonymous_email(pseudonym)
    user.name = f"deleted-{pseudonym}"
    user.password_hash = UNUSABLE_PASSWORD
    user.password_changed_at = now
    user.locale = None
    user.is_staff = False
    user.deleted_at = now
    audit.record("user.deleted", user, actor=user,
                 after={"pseudonym": pseudonym, "was_staff": was_staff, **counts})
    return pseudonym
