"""Staff management (issue 20): invitations, roles, deactivation. Administrators only.

One service function per change; each locks what it changes, writes one audit entry (who,
what before and after) and queues the e-mails, and leaves the commit to the caller.

- :func:`invite` e-mails a single-use link valid 72 hours; only the SHA-256 of its token is
  stored, and the e-mail waiting in the outbox holds a nonce the token is derived from with
  the secret key (:mod:`accounts.links`, shared with address verification).
  :func:`accept_as_new` creates the account with the roles (its address counts as verified:
  the link reached it); an address that already has an account gets the roles through
  :func:`accept_as_member`, only once its owner has signed in with that account (which
  verifies an address not yet verified, for the same reason).
- :func:`set_roles` replaces the roles a person holds.
- :func:`deactivate` ends every session and revokes every API token of the person in the
  same transaction; a deactivated account cannot log in (``services.authenticate``), its
  cookies find no user (``services.load_session_user``) and its tokens are dead
  (``integrations.tokens.find_live``). :func:`reactivate` undoes it (new sessions only).

The platform keeps one active administrator: removing the administrator role from, or
deactivating, the last one is refused (409). Every function that could take the role away
locks the rows of every live administrator in id order first (as ``accounts.deletion``
does), so two administrators demoting each other at once queue, and the second one counts
the administrators the first one left.
"""

from datetime import timedelta

from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, func, select

from accounts import links, services
from accounts.models import RoleGrant, StaffInvitation, User, UserSession
from accounts.roles import Role
from arbiter import audit, clock
from arbiter.db import add_unless_taken, locked
from arbiter.errors import DomainError, NotFound, TransitionNotAllowed, ValidationFailed
from arbiter.extensions import db
from arbiter.notifications import OutboxEmail, register_texts
from arbiter.validation import checked_text

INVITATION_LIFETIME = timedelta(hours=72)
TEMPLATE = "staff_invitation"

register_texts({
    "staff.invited": _l("You are invited to join the Arbiter staff."),
})



class LastAdministrator(TransitionNotAllowed):
    code = "last_administrator"


class InvitationUnusable(DomainError):
    """The link was used, replaced, withdrawn or is older than 72 hours."""

    status = 410
    code = "invitation_unusable"


class StaffChangeRefused(TransitionNotAllowed):
    code = "staff_change_refused"


class NotAnAdministrator(DomainError):
    status = 403
    code = "not_an_administrator"


def require_admin(actor: User, refusal: str | None = None) -> None:
    """403 unless ``actor`` is an active administrator (``refusal``: what they tried)."""
    if not actor.has_role(Role.ADMIN) or actor.is_deactivated:
        raise NotAnAdministrator(refusal or _("Only an administrator can change the staff."))


def _checked_roles(roles, *, allow_none: bool) -> list[str]:
    try:
        checked = sorted({Role(role).value for role in roles or ()})
    except ValueError:
        raise ValidationFailed(_("Choose roles from the list."), code="unknown_role",
                               fields={"roles": ["unknown"]}) from None
    if not checked and not allow_none:
        raise ValidationFailed(_("Choose at least one role."), code="no_roles",
                               fields={"roles": ["required"]})
    return checked


def _held(user: User) -> list[str]:
    """The roles granted to ``user`` (not the ones they include)."""
    return sorted(grant.role.value for grant in user.role_grants)


# --- reading -----------------------------------------------------------------------------

_is_staff = exists().where(RoleGrant.user_id == User.id)
_is_admin = exists().where(RoleGrant.user_id == User.id, RoleGrant.role == Role.ADMIN)


def staff_members() -> list[User]:
    """Everyone holding a role (deactivated people too, marked), by name."""
    return list(db.session.scalars(
        select(User).where(_is_staff, User.deleted_at.is_(None)).order_by(User.name, User.id)))


def pending_invitations() -> list[StaffInvitation]:
    """Invitations not yet accepted nor withdrawn, newest first (expired ones included)."""
    return list(db.session.scalars(
        select(StaffInvitation).where(StaffInvitation.accepted_at.is_(None),
                                      StaffInvitation.revoked_at.is_(None))
        .order_by(StaffInvitation.created_at.desc(), StaffInvitation.id.desc())))


def active_admin_count(*, excluding: int | None = None) -> int:
    query = select(func.count(User.id)).where(_is_admin, User.deleted_at.is_(None),
                                              User.deactivated_at.is_(None))
    if excluding is not None:
        query = query.where(User.id != excluding)
    return db.session.scalar(query) or 0


def _lock_person(user_id: int, actor: User | None = None) -> User:
    """Every live administrator's row in id order, then the person's: see the docstring.

    The acting administrator is read again once the locks are held: one who lost the role
    (or was deactivated) while waiting is refused.
    """
    db.session.execute(select(User.id).where(_is_admin, User.deleted_at.is_(None))
                       .order_by(User.id).with_for_update())
    if actor is not None:
        db.session.refresh(actor, ["role_grants", "deactivated_at"])
        require_admin(actor)
    user = locked(User, user_id)
    if user.deleted_at is not None:
        raise NotFound(_("There is nothing here."))
    db.session.refresh(user, ["role_grants"])
    return user


def _require_another_admin(user: User) -> None:
    if Role.ADMIN in _held(user) and user.deactivated_at is None \
            and not active_admin_count(excluding=user.id):
        raise LastAdministrator(_(
            "%(name)s is the last active administrator. Give another staff member the "
            "administrator role first.", name=user.name))


# --- invitations -------------------------------------------------------------------------

def invite(admin: User, email: str, roles) -> StaffInvitation:
    """Invite ``email`` to the staff with ``roles``; replaces a pending invitation to the
    same address. The link goes out by e-mail (outbox) after the commit."""
    require_admin(admin)
    email = services.normalise_email(email or "")
    if not (3 <= len(email) <= 254 and "@" in email.strip("@")):
        raise ValidationFailed(_("Enter a valid e-mail address."), code="invalid_email",
                               fields={"email": ["invalid"]})
    roles = _checked_roles(roles, allow_none=False)
    existing = db.session.scalar(select(User).where(User.email == email))
    if existing is not None and existing.is_deactivated:
        raise StaffChangeRefused(_("This account is deactivated: reactivate it on the staff "
                                   "page instead of inviting it."), code="account_deactivated")
    if existing is not None and set(roles) <= set(_held(existing)):
        raise StaffChangeRefused(_("This person already holds these roles."),
                                 code="roles_held")
    now = clock.now()
    for old in db.session.scalars(
            select(StaffInvitation).where(StaffInvitation.email == email,
                                          StaffInvitation.accepted_at.is_(None),
                                          StaffInvitation.revoked_at.is_(None))
            .with_for_update()):
        old.revoked_at = now
        audit.record("staff.invitation_replaced", old, actor=admin)
    db.session.flush()
    nonce = links.new_nonce()
    invitation = StaffInvitation(email=email, roles=roles,
                                 token_hash=links.token_hash(links.token(PURPOSE, nonce)),
                                 invited_by_id=admin.id, created_at=now,
                                 expires_at=now + INVITATION_LIFETIME)
    add_unless_taken(invitation, lambda: StaffChangeRefused(
        _("Someone else has just invited this address."), code="invitation_pending"))
    audit.record("staff.invited", invitation, actor=admin,
                 after={"email": email, "roles": roles, "expires_at": invitation.expires_at,
                        "existing_account_id": getattr(existing, "id", None)})
    db.session.add(OutboxEmail(
        recipient_id=getattr(existing, "id", None), to_address=email, template=TEMPLATE,
        locale=(existing.locale if existing is not None and existing.locale else None)
        or str(get_locale() or "pl"),
        context={"kind": "staff.invited", "invitation_nonce": nonce,
                 "inviter": admin.name, "roles": roles,
                 "expires_at": invitation.expires_at.isoformat(),
                 "has_account": existing is not None}))
    return invitation


PURPOSE = "staff-invitation"


def invitation_url(nonce: str) -> str:
    """The link the e-mail carries (rendered when the outbox sends it; see accounts.links)."""
    return links.url("staff.invitation", PURPOSE, nonce)


def withdraw_invitation(admin: User, invitation_id: int) -> None:
    require_admin(admin)
    invitation = locked(StaffInvitation, invitation_id)
    if not invitation.is_pending:
        raise StaffChangeRefused(_("This invitation was already used or withdrawn."),
                                 code="invitation_closed")
    invitation.revoked_at = clock.now()
    audit.record("staff.invitation_withdrawn", invitation, actor=admin,
                 after={"email": invitation.email})


def find_invitation(token: str, *, lock: bool = False) -> StaffInvitation:
    """The invitation of ``token``: unknown -> NotFound (404); used, replaced, withdrawn or
    older than 72 hours -> InvitationUnusable (410)."""
    return links.find(StaffInvitation, token, lock=lock,
                      not_found=_("This invitation link is not valid."),
                      unusable=InvitationUnusable(_(
                          "This invitation link has been used or has expired. Ask an "
                          "administrator for a new one.")))


def account_for(invitation: StaffInvitation) -> User | None:
    return db.session.scalar(select(User).where(User.email == invitation.email,
                                                User.deleted_at.is_(None)))


def _grant(user: User, roles, granted_by_id: int | None) -> None:
    now = clock.now()
    held = set(_held(user))
    for role in sorted(set(roles) - held):
        user.role_grants.append(RoleGrant(role=Role(role), granted_at=now,
                                          granted_by_id=granted_by_id))


def _accept(invitation: StaffInvitation, user: User) -> None:
    before = _held(user)
    _grant(user, invitation.roles, invitation.invited_by_id)
    if user.verified_at is None:  # the invitation's link reached the address
        user.verified_at = clock.now()
    invitation.accepted_at = clock.now()
    invitation.accepted_user_id = user.id
    db.session.flush()
    audit.record("staff.invitation_accepted", invitation, actor=user,
                 before={"user_id": user.id, "roles": before},
                 after={"user_id": user.id, "roles": _held(user)})


def accept_as_new(token: str, name: str, password: str) -> User:
    """Create the invited person's account with the invitation's roles."""
    invitation = find_invitation(token, lock=True)
    if account_for(invitation) is not None:
        raise StaffChangeRefused(_("This address already has an account: sign in with it to "
                                   "accept the invitation."), code="sign_in_first")
    name = checked_text(name, "name", maximum=120)
    user = services.create_user(invitation.email, name, password)
    _accept(invitation, user)
    return user


def accept_as_member(token: str, user: User) -> None:
    """Grant the invitation's roles to the signed-in owner of the invited address."""
    invitation = find_invitation(token, lock=True)
    if user.email != invitation.email:
        raise StaffChangeRefused(_(
            "This invitation is for another e-mail address. Sign out and sign in with the "
            "invited account."), code="wrong_account")
    user = _lock_person(user.id)
    if user.is_deactivated:
        raise StaffChangeRefused(_("This account is deactivated."), code="account_deactivated")
    _accept(invitation, user)


# --- roles and deactivation ------------------------------------------------------------

def set_roles(admin: User, user_id: int, roles) -> User:
    """Replace the roles ``user_id`` holds with ``roles`` (none: no longer staff)."""
    require_admin(admin)
    roles = _checked_roles(roles, allow_none=True)
    user = _lock_person(user_id, admin)
    before = _held(user)
    if before == roles:
        return user
    if Role.ADMIN.value in before and Role.ADMIN.value not in roles:
        _require_another_admin(user)
    now = clock.now()
    user.role_grants = [grant for grant in user.role_grants if grant.role.value in roles] + [
        RoleGrant(role=Role(role), granted_at=now, granted_by_id=admin.id)
        for role in roles if role not in before]
    db.session.flush()
    audit.record("staff.roles_changed", user, actor=admin, before={"roles": before},
                 after={"roles": roles})
    return user


def deactivate(admin: User, user_id: int) -> dict[str, int]:
    """Deactivate a staff member's account: every session ends and every API token is
    revoked now (a person holding no role is not deactivated here: 409)."""
    from integrations.tokens import revoke_all_of  # integrations builds on accounts

    require_admin(admin)
    user = _lock_person(user_id, admin)
    if not user.role_grants:
        raise StaffChangeRefused(_("Only staff members are deactivated here."),
                                 code="not_staff")
    if user.is_deactivated:
        raise StaffChangeRefused(_("This account is already deactivated."),
                                 code="already_deactivated")
    _require_another_admin(user)
    now = clock.now()
    user.deactivated_at = now
    counts = {
        "sessions_ended": db.session.execute(
            UserSession.__table__.delete().where(UserSession.user_id == user.id)).rowcount,
        "tokens_revoked": revoke_all_of(user),
    }
    audit.record("staff.deactivated", user, actor=admin, before={"deactivated_at": None},
                 after={"deactivated_at": now, "roles": _held(user), **counts})
    return counts


def reactivate(admin: User, user_id: int) -> None:
    """Let a deactivated person sign in again (no old session or token comes back)."""
    require_admin(admin)
    user = _lock_person(user_id, admin)
    if not user.is_deactivated:
        raise StaffChangeRefused(_("This account is active."), code="not_deactivated")
    before = user.deactivated_at
    user.deactivated_at = None
    audit.record("staff.reactivated", user, actor=admin, before={"deactivated_at": before},
                 after={"deactivated_at": None, "roles": _held(user)})

