"""Policy versions: drafted by an admin, published by a second one for a future date,
withdrawn before that date if need be (the transitions; the rules are in
:func:`claims.policy.draft_problems`).

A published version is never edited: the database refuses a publication by the drafter
(CHECK ``published_by_a_second_admin``) and two published versions for one instant (a
partial unique index), so two admins publishing at once cannot both succeed.
"""

from collections.abc import Iterator
from datetime import datetime

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from accounts.models import User
from accounts.staff import require_admin
from arbiter import audit, clock
from arbiter.db import locked
from arbiter.errors import DomainError, TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from claims import policy
from claims.models import Claim, PolicyVersion, VersionStatus
from orders.models import Order

FIELDS = ("code", "effective_from", "covered_payment_methods", "shipping_covered_for",
          "shipping_cap_minor", "total_cap_minor", "filing_window_days",
          "documents_required", "per_buyer_cap_minor", "per_buyer_window_days",
          "seller_answer_hours", "appeal_window_days")

PROBLEM_MESSAGES = {
    policy.DraftProblem.NOT_IN_THE_FUTURE: _l(
        "Choose a date in the future: a version applies only to orders paid after it is "
        "published."),
    policy.DraftProblem.NOTHING_COVERED: _l("Cover at least one payment method."),
    policy.DraftProblem.SHIPPING_FOR_UNCOVERED: _l(
        "Shipping can be reimbursed only for covered payment methods."),
    policy.DraftProblem.CAP_NOT_POSITIVE: _l("A cap must be more than 0."),
    policy.DraftProblem.SHIPPING_CAP_ABOVE_TOTAL: _l(
        "The shipping cap cannot be more than the cap on the total."),
    policy.DraftProblem.WINDOW_NOT_POSITIVE: _l("A window must be more than 0."),
    policy.DraftProblem.WINDOW_TOO_LONG: _l("This window is longer than any policy gives."),
    policy.DraftProblem.DOCUMENTS_NOT_VALID: _l(
        "Choose the documents from the list, for claim types from the list."),
    policy.DraftProblem.BUYER_CAP_HALF_GIVEN: _l(
        "Give the per-buyer cap and its window together, or neither."),
}


class SecondAdministratorRequired(DomainError):
    """The drafter cannot publish their own version (four eyes)."""

    status = 403
    code = "second_administrator_required"


def _require_admin(actor: User) -> None:
    require_admin(actor, _("Only an administrator can change the protection rules."))


def _snapshot(version: PolicyVersion) -> dict:
    return audit.snapshot(version, ("status", *FIELDS))


def draft_version(admin: User, fields: dict) -> PolicyVersion:
    """A new draft from ``fields`` (FIELDS by name); 422 naming every field that breaks a
    rule, or the code when another version has it."""
    _require_admin(admin)
    problems = policy.draft_problems(fields, clock.now())
    if problems:
        raise ValidationFailed(
            _("The draft breaks the rules below; nothing was saved."),
            fields={name: [str(PROBLEM_MESSAGES[problem])]
                    for name, problem in problems.items()})
    if db.session.scalar(select(PolicyVersion.id).where(PolicyVersion.code == fields["code"])):
        taken = _("Another version already has this code.")
        raise ValidationFailed(taken, code="code_taken", fields={"code": [taken]})
    now = clock.now()
    values = {name: fields.get(name) for name in FIELDS}
    values["documents_required"] = policy.documents_json(fields["documents_required"])
    version = PolicyVersion(
        **values,
        status=VersionStatus.DRAFT, drafted_by_id=admin.id, drafted_at=now)
    db.session.add(version)
    db.session.flush()
    audit.record("policy_version.drafted", version, actor=admin, after=_snapshot(version))
    return version


def publish_version(version_id: int, admin: User) -> PolicyVersion:
    """Publish a draft for its date: by an admin other than its drafter, before the date."""
    _require_admin(admin)
    version = locked(PolicyVersion, version_id)
    if version.status != VersionStatus.DRAFT:
        raise TransitionNotAllowed(_("Only a draft can be published."))
    if version.drafted_by_id == admin.id:
        raise SecondAdministratorRequired(
            _("Another administrator must publish the version you drafted."))
    if version.effective_from <= clock.now():
        raise TransitionNotAllowed(
            _("Its date has passed: draft it again with a date in the future."))
    try:
        # A savepoint: another version published for the same instant (the unique index,
        # waited for on PostgreSQL) answers 409 and leaves this one a draft.
        with db.session.begin_nested():
            version.status = VersionStatus.PUBLISHED
            version.published_by_id = admin.id
            version.published_at = clock.now()
    except IntegrityError:
        raise TransitionNotAllowed(
            _("Another version is already published for that instant."),
            code="effective_from_taken") from None
    audit.record("policy_version.published", version, actor=admin,
                 after=_snapshot(version))
    return version


def withdraw_version(version_id: int, admin: User) -> PolicyVersion:
    """Take back a published version before its date (drafts are simply never published)."""
    _require_admin(admin)
    version = locked(PolicyVersion, version_id)
    if version.status != VersionStatus.PUBLISHED or version.drafted_by_id is None:
        raise TransitionNotAllowed(_("Only a scheduled version can be withdrawn."))
    if version.effective_from <= clock.now():
        raise TransitionNotAllowed(
            _("This version is in force already; publish a new one to change the rules."))
    version.status = VersionStatus.WITHDRAWN
    version.withdrawn_by_id = admin.id
    version.withdrawn_at = clock.now()
    audit.record("policy_version.withdrawn", version, actor=admin, after=_snapshot(version))
    return version


# --- impact: past claims replayed under a draft -------------------------------------------------


def replay_statement(since: datetime, until: datetime):
    """The one SQL pass of a replay: the facts of every claim submitted in [since, until),
    streamed (the benchmark reads it alone as its floor)."""
    return (select(Claim.id, Claim.submitted_at, Claim.claim_type, Claim.claimed_amount,
                   PolicyVersion.code, Order.paid_at, Order.item_price, Order.shipping_cost,
                   Order.payment_method)
            .join(Order, Order.id == Claim.order_id)
            .join(PolicyVersion, PolicyVersion.id == Claim.policy_version_id)
            .where(Claim.submitted_at >= since, Claim.submitted_at < until)
            .order_by(Claim.id)
            .execution_options(yield_per=2000))


def replayed_claims(since: datetime, until: datetime) -> Iterator[policy.ClaimFacts]:
    """The facts of every claim submitted in [since, until), in one statement, streamed."""
    rows = db.session.execute(replay_statement(since, until))
    for row in rows:
        yield policy.ClaimFacts(
            claim_id=row.id, submitted_at=row.submitted_at, paid_at=row.paid_at,
            item_price=row.item_price, shipping_cost=row.shipping_cost,
            payment_method=row.payment_method, claim_type=row.claim_type,
            claimed_amount=row.claimed_amount, judged_by=row.code)

