"""E-mail verification (issue 25 item 2): orders attach to an account by its e-mail address
(``orders.services``), so an address counts only once its owner proved they read it.

- :func:`register` is the registration form's one service. It answers the same whatever
  the address: a new address gets an unverified account and a link valid 24 hours; an
  address that already has an account changes nothing and its owner is told by e-mail that
  someone tried to register it (so the page reveals nobody's account). The password is
  checked (and hashed) either way, so the two paths also take the same time.
- :func:`send_link` e-mails a single-use link (:mod:`accounts.links`: only the SHA-256 of
  its token is stored); a newer link replaces a pending one (resend).
- :func:`verify` spends the link and sets ``users.verified_at``.
- Until then the account may sign in, but :func:`gate` lets it reach only its account
  pages (and a banner offers to resend the link): no orders, cases or staff work; the API
  refuses its tokens (:func:`token_refusal`).

Each function changes state, writes its audit entry and queues the e-mail; the caller
commits.
"""

from datetime import timedelta

from flask import redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from accounts import links, services
from accounts.models import EmailVerification, User
from accounts.passwords import hash_password
from arbiter import audit, clock
from arbiter.db import add_unless_taken
from arbiter.errors import (
    DomainError,
    TransitionNotAllowed,
    ValidationFailed,
    error_response,
    wants_json,
)
from arbiter.extensions import db
from arbiter.notifications import OutboxEmail, register_texts

LINK_LIFETIME = timedelta(hours=24)
PURPOSE = "email-verification"
LINK_TEMPLATE = "email_verification"
ATTEMPT_TEMPLATE = "registration_attempt"

register_texts({
    "account.verify": _l("Confirm your e-mail address for Arbiter."),
    "account.registration_attempt": _l("Someone tried to register your e-mail address."),
})


class LinkUnusable(DomainError):
    """The link was used, replaced by a newer one or is older than 24 hours."""

    status = 410
    code = "verification_link_unusable"


class AlreadyVerified(TransitionNotAllowed):
    code = "already_verified"


class Unverified(DomainError):
    status = 403
    code = "email_unverified"


def _locale(user: User | None) -> str:
    return (user.locale if user is not None and user.locale else None) \
        or str(get_locale() or "pl")


def register(email: str, name: str, password: str) -> None:
    """A registration: see the module's docstring. Refuses only a password that breaks the
    rules (422), which says nothing about the address."""
    email = services.normalise_email(email)
    services.check_password_rules(password, email=email, name=name)
    owner = db.session.scalar(select(User).where(User.email == email))
    if owner is None:
        try:
            with db.session.begin_nested():
                user = services.create_user(email, name, password, verified=False)
        except IntegrityError:
            return  # the same address registered a moment ago won the race: same answer
        except ValidationFailed as taken:  # ... and committed before create_user looked
            if taken.code != "email_taken":
                raise
            return
        send_link(user)
        return
    hash_password(password)  # the same work as a new account's: the answer's time tells nothing
    audit.record("user.registration_attempted", owner, actor=None,
                 after={"verified": owner.is_verified})
    db.session.add(OutboxEmail(
        recipient_id=owner.id, to_address=owner.email, template=ATTEMPT_TEMPLATE,
        locale=_locale(owner),
        context={"kind": "account.registration_attempt", "verified": owner.is_verified}))


def send_link(user: User) -> EmailVerification:
    """E-mail ``user`` a new link (replacing a pending one); sent after the commit."""
    if user.is_verified:
        raise AlreadyVerified(_("Your e-mail address is already confirmed."))
    now = clock.now()
    for old in db.session.scalars(
            select(EmailVerification).where(EmailVerification.user_id == user.id,
                                            EmailVerification.used_at.is_(None),
                                            EmailVerification.revoked_at.is_(None))
            .with_for_update()):
        old.revoked_at = now
    db.session.flush()
    nonce = links.new_nonce()
    link = EmailVerification(user_id=user.id,
                             token_hash=links.token_hash(links.token(PURPOSE, nonce)),
                             created_at=now, expires_at=now + LINK_LIFETIME)
    add_unless_taken(link, lambda: AlreadyVerified(
        _("A link has just been sent. Check your inbox."), code="link_pending"))
    audit.record("user.verification_sent", user, actor=user,
                 after={"expires_at": link.expires_at})
    db.session.add(OutboxEmail(
        recipient_id=user.id, to_address=user.email, template=LINK_TEMPLATE,
        locale=_locale(user),
        context={"kind": "account.verify", "verification_nonce": nonce, "name": user.name,
                 "expires_at": link.expires_at.isoformat()}))
    return link


def verification_url(nonce: str) -> str:
    """The link the e-mail carries (rendered when the outbox sends it)."""
    return links.url("accounts.verify_email", PURPOSE, nonce)


def find_link(token: str, *, lock: bool = False) -> EmailVerification:
    """The pending link of ``token``: unknown -> 404; used, replaced or expired -> 410."""
    return links.find(EmailVerification, token, lock=lock,
                      not_found=_("This confirmation link is not valid."),
                      unusable=LinkUnusable(_(
                          "This confirmation link has been used, replaced by a newer one or "
                          "has expired. Log in and ask for a new link.")))


def verify(token: str) -> User:
    """Spend the link and confirm its account's address."""
    link = find_link(token, lock=True)
    user = link.user
    now = clock.now()
    link.used_at = now
    if user.verified_at is None:
        user.verified_at = now
        audit.record("user.email_verified", user, actor=user, after={"verified_at": now})
    return user


# --- what an unverified account reaches ------------------------------------------------------

# The account's own pages (its data, notifications, password, deletion), the link itself
# and the page chrome; everything about orders, cases and staff work waits for the
# confirmation.
OPEN_ENDPOINTS = frozenset({
    "core.index", "core.set_language", "core.notifications", "static", "accounts.logout",
    "accounts.account", "accounts.change_password", "accounts.delete_account",
    "accounts.request_data_export", "accounts.download_data_export", "accounts.privacy",
    "accounts.verify_email", "accounts.resend_verification", "staff.invitation",
})


def pending(user) -> bool:
    """This request's person is signed in with an address not yet confirmed."""
    return bool(getattr(user, "is_authenticated", False)) and user.verified_at is None


def gate():
    """Before every request: an unverified account reaches :data:`OPEN_ENDPOINTS` only;
    other pages go to the account page (with the banner), the API answers 403."""
    if request.endpoint in OPEN_ENDPOINTS or request.endpoint is None:
        return None
    if not pending(current_user):
        return None
    message = _("Confirm your e-mail address first: open the link we sent you.")
    if wants_json():
        return error_response(403, Unverified.code, message)
    return redirect(url_for("accounts.account"))


def token_refusal(user: User | None) -> Unverified | None:
    """Why an API token of ``user`` may not be used (or made): the address is unconfirmed."""
    if user is None or user.is_verified:
        return None
    return Unverified(_("Confirm your e-mail address first: open the link we sent you."))


def init_gate(app) -> None:
    app.before_request(gate)
