"""Sign-in throttling: per account at one client address, and per address across accounts.

* **Account at an address** (``LOGIN_LIMITS_PER_ACCOUNT_AND_ADDRESS``): tiers such as
  "5 per minute; 10 per 15 minutes; 20 per day" make the wait grow with the failures. The
  key holds the client address too, so someone guessing an account's password does not
  lock its owner out: the owner, signing in from their own address, has a budget of their
  own (NIST SP 800-63B 5.2.2 asks for throttling that does not let an attacker deny
  service).
* **Address** (``LOGIN_LIMITS_PER_ADDRESS``): one address trying one password on many
  accounts (spraying) runs out of this budget whatever the accounts.

Every attempt is counted *before* the password or code is checked, by Flask-Limiter's
atomic increment (Redis ``INCR`` in production), so a burst of simultaneous wrong passwords
cannot have more of them checked than the budget allows. A completed sign-in then clears
its account-at-address windows (:func:`sign_in_succeeded`), so people who sign in
correctly never use up their own budget. A password alone does not complete a staff
sign-in: only the second factor does, or guessing codes could start afresh with each
password.

The browser form, ``POST /api/v1/auth/tokens`` and the second-factor pages count together.
The client address is ``request.remote_addr``, which ProxyFix sets from the trusted proxy's
header in production.
"""

import logging

from flask import current_app, request
from flask_login import current_user
from limits import parse_many

from accounts.services import normalise_email
from arbiter.extensions import limiter

log = logging.getLogger(__name__)

ACCOUNT_SCOPE = "login-account"
ADDRESS_SCOPE = "login-address"


def _typed_email() -> str:
    """The account being signed in to: the e-mail typed (form or JSON), or for the second
    factor's pages, whose forms have none, the session's account."""
    email = request.form.get("email")
    if email is None and request.is_json:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    if email is None and current_user.is_authenticated:
        email = current_user.email
    return normalise_email(email if isinstance(email, str) else "")


def _account_at_address(email: str | None = None) -> str:
    return f"{email if email is not None else _typed_email()}@@{request.remote_addr or '-'}"


def _address() -> str:
    return request.remote_addr or "-"


def _account_limits() -> str:
    return current_app.config["LOGIN_LIMITS_PER_ACCOUNT_AND_ADDRESS"]


def _address_limits() -> str:
    return current_app.config["LOGIN_LIMITS_PER_ADDRESS"]


_per_account = limiter.shared_limit(_account_limits, scope=ACCOUNT_SCOPE,
                                    key_func=_account_at_address, methods=["POST"])
_per_address = limiter.shared_limit(_address_limits, scope=ADDRESS_SCOPE, key_func=_address,
                                    methods=["POST"])


def sign_in_throttle(view):
    """Count every POST to ``view`` against both budgets before it runs; 429 once spent."""
    return _per_address(_per_account(view))


def sign_in_succeeded(email: str) -> None:
    """The person proved who they are: their failures at this address no longer count."""
    identifiers = [_account_at_address(normalise_email(email)), ACCOUNT_SCOPE]
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX")  # as Flask-Limiter keys them
    if prefix:
        identifiers.insert(0, prefix)
    try:
        for item in parse_many(_account_limits()):
            limiter.limiter.clear(item, *identifiers)
    except Exception:  # a storage outage must not fail a correct sign-in
        # Flask-Limiter switches to its in-process counters on the next request; the
        # failures left counted only make this person's next typo come sooner.
        log.warning("could not clear the sign-in throttle of an account", exc_info=True)
