"""Staff's second factor: TOTP codes from an authenticator app (RFC 6238, pyotp) and ten
single-use recovery codes.

Every staff member (anyone holding a role) has one. A session (``user_sessions`` row) of a
staff member counts as signed in only once it passed the second factor
(``second_factor_at`` on the row, never only in the cookie); until then :func:`gate` lets
it reach the second-factor pages and logout only, whether the person still has to enrol
or to type a code.

Codes are checked against :func:`arbiter.clock.now` with one step of tolerance either way
(a phone's clock drifts). A code is accepted only for a time step later than the last one
accepted (``second_factors.last_step``, compared and set in one conditional UPDATE, so two
requests racing with the same code cannot both win); a recovery code is spent the same way
(``used_at`` set only where it is still empty).

Each function changes state and writes its audit entry; the caller commits.
"""

import hashlib
import hmac
import re
import secrets
from datetime import datetime

import pyotp
import segno
from flask import redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import delete, func, select, update

from accounts.models import RecoveryCode, SecondFactor, User, UserSession
from arbiter import audit, clock
from arbiter.errors import DomainError, error_response, wants_json
from arbiter.extensions import db
from arbiter.urls import safe_next_url

ISSUER = "Arbiter"
STEP_SECONDS = 30  # pyotp's default interval, what every authenticator app uses
DIGITS = 6
VALID_WINDOW = 1  # the previous and the next step are accepted too (clock drift)
RECOVERY_CODE_COUNT = 10
# A recovery code: 16 characters of the RFC 4648 base32 alphabet (no 0/1/8/9 to misread),
# i.e. 80 random bits, shown as four groups of four ("K7QF-2XMA-…").
_RECOVERY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_RECOVERY_LENGTH = 16


class SecondFactorRequired(DomainError):
    """A staff member's request without a passed second factor (session or token)."""

    status = 403
    code = "second_factor_required"


class CodeRefused(DomainError):
    """A wrong code, a code of a step already used, or a spent recovery code."""

    status = 401
    code = "invalid_second_factor"


class NotEnrolled(DomainError):
    status = 403
    code = "second_factor_not_enrolled"


class AlreadyEnrolled(DomainError):
    status = 409
    code = "second_factor_already_enrolled"


def _refused() -> CodeRefused:
    return CodeRefused(_("The code is wrong or was already used. Wait for the next code in "
                         "your authenticator app and try again, or use an unused recovery "
                         "code."), fields={"code": ["refused"]})


# --- reading ------------------------------------------------------------------------------


def factor_of(user: User) -> SecondFactor | None:
    return db.session.get(SecondFactor, user.id)


def is_enrolled(user: User) -> bool:
    factor = factor_of(user)
    return factor is not None and factor.confirmed_at is not None


def recovery_codes_left(user: User) -> int:
    return db.session.scalar(select(func.count(RecoveryCode.id)).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))) or 0


def required(user) -> bool:
    """Whether this person signs in with a second factor: every staff member."""
    return bool(getattr(user, "is_authenticated", False)) and user.is_staff


def session_pending(user) -> bool:
    """This request's session belongs to staff and has not passed the second factor."""
    return required(user) and getattr(user, "second_factor_at", None) is None


def summary(user: User) -> dict | None:
    """For the account page: whether it is on (since when), how many recovery codes are
    left, and whether the person must have it; None for someone who has nothing to see."""
    factor = factor_of(user)
    enrolled = factor is not None and factor.confirmed_at is not None
    if not enrolled and not required(user):
        return None
    return {"enrolled_at": factor.confirmed_at if enrolled else None,
            "codes_left": recovery_codes_left(user) if enrolled else 0,
            "required": required(user)}


def provisioning_uri(user: User, factor: SecondFactor) -> str:
    """The ``otpauth://`` address an authenticator app reads from the QR code."""
    return pyotp.TOTP(factor.secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=user.email, issuer_name=ISSUER)


def qr_code_svg(uri: str, title: str) -> Markup:
    """The QR code of ``uri`` as inline SVG, drawn here (segno): no image service sees the
    secret."""
    svg = segno.make(uri, error="m").svg_inline(scale=5, border=3, title=title, light="#fff",
                                                 svgclass="qr-code", lineclass=None)
    # segno escapes the title; everything else is its own markup (paths, numbers).
    return Markup(svg)  # noqa: S704


def grouped(secret: str) -> str:
    """The secret for typing by hand: groups of four."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


# --- codes ----------------------------------------------------------------------------------


def _normalise(code: str) -> str:
    return re.sub(r"[\s-]", "", code or "").upper()


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step whose code ``code`` is (now, the one before or the one after)."""
    if not re.fullmatch(rf"\d{{{DIGITS}}}", code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = totp.timecode(now)
    for offset in (0, -1, 1)[: 1 + 2 * VALID_WINDOW]:
        if hmac.compare_digest(totp.generate_otp(current + offset), code):
            return current + offset
    return None


def _recovery_hash(code: str) -> str:
    # SHA-256, not argon2: a recovery code is 80 random bits, not a person's password, so no
    # dictionary or brute force reaches it and a slow hash would add nothing; a plain hash
    # lets the code be found by an indexed lookup and spent in one conditional UPDATE.
    return hashlib.sha256(_normalise(code).encode()).hexdigest()


def _new_recovery_codes(user: User) -> list[str]:
    """Replace the person's recovery codes with ten new ones; the codes are returned once
    (to show) and only their hashes are kept."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    now = clock.now()
    codes = []
    for _i in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _j in range(_RECOVERY_LENGTH))
        codes.append("-".join(raw[i:i + 4] for i in range(0, _RECOVERY_LENGTH, 4)))
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=_recovery_hash(code),
                                    created_at=now) for code in codes)
    return codes


def _accept_totp(factor: SecondFactor, code: str) -> bool:
    """Spend ``code``'s time step: only if it is later than the last one accepted."""
    step = _matching_step(factor.secret, code, clock.now())
    if step is None:
        return False
    spent = db.session.execute(
        update(SecondFactor)
        .where(SecondFactor.user_id == factor.user_id, SecondFactor.confirmed_at.is_not(None),
               (SecondFactor.last_step.is_(None)) | (SecondFactor.last_step < step))
        .values(last_step=step)
        .execution_options(synchronize_session=False))
    db.session.expire(factor, ["last_step"])
    return spent.rowcount == 1


def _accept_recovery_code(user: User, code: str) -> bool:
    spent = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _recovery_hash(code),
               RecoveryCode.used_at.is_(None))
        .values(used_at=clock.now())
        .execution_options(synchronize_session=False))
    return spent.rowcount == 1


def _mark_session(user: User, session_token: str | None) -> None:
    if not session_token:
        return
    from accounts.services import _token_hash

    now = clock.now()
    db.session.execute(update(UserSession)
                       .where(UserSession.token_hash == _token_hash(session_token),
                              UserSession.user_id == user.id)
                       .values(second_factor_at=now)
                       .execution_options(synchronize_session=False))
    user.second_factor_at = now


# --- transitions ------------------------------------------------------------------------------


def begin_enrolment(user: User) -> SecondFactor:
    """A new secret for the person to scan (pending until they type a code from it); an
    unfinished earlier one is replaced."""
    factor = factor_of(user)
    if factor is not None and factor.confirmed_at is not None:
        raise AlreadyEnrolled(_("Your authenticator app is already set up."))
    secret = pyotp.random_base32()  # 32 characters: 160 bits, as RFC 4226 recommends
    if factor is None:
        factor = SecondFactor(user_id=user.id, secret=secret, created_at=clock.now())
        db.session.add(factor)
    else:
        factor.secret, factor.created_at = secret, clock.now()
    db.session.flush()
    return factor


def confirm_enrolment(user: User, code: str, session_token: str | None = None) -> list[str]:
    """The person typed a code from the secret they scanned: the second factor is on, this
    session passed it, and the ten recovery codes (returned, shown once) are made."""
    factor = factor_of(user)
    if factor is None:
        raise NotEnrolled(_("Start the set-up of your authenticator app first."))
    if factor.confirmed_at is not None:
        raise AlreadyEnrolled(_("Your authenticator app is already set up."))
    step = _matching_step(factor.secret, _normalise(code), clock.now())
    if step is None:
        raise CodeRefused(_("That code does not match. Check that the time on your phone is "
                            "right and type the code your app shows now."),
                          fields={"code": ["refused"]})
    # Only where it is still pending: of two confirmations at once, one turns it on.
    turned_on = db.session.execute(
        update(SecondFactor)
        .where(SecondFactor.user_id == user.id, SecondFactor.secret == factor.secret,
               SecondFactor.confirmed_at.is_(None))
        .values(confirmed_at=clock.now(), last_step=step)
        .execution_options(synchronize_session=False))
    db.session.expire(factor)
    if turned_on.rowcount != 1:
        raise AlreadyEnrolled(_("Your authenticator app is already set up."))
    codes = _new_recovery_codes(user)
    _mark_session(user, session_token)
    audit.record("second_factor.enrolled", user, actor=user,
                 after={"method": "totp", "recovery_codes": len(codes)})
    return codes


def verify(user: User, code: str, session_token: str | None = None) -> str:
    """Check a code typed at sign-in (``session_token``: mark that session as passed).

    Six digits are an authenticator code, anything else a recovery code. Returns which
    was used; raises :class:`CodeRefused` (wrong, already used) or :class:`NotEnrolled`.
    """
    factor = factor_of(user)
    if factor is None or factor.confirmed_at is None:
        raise NotEnrolled(_("Set up your authenticator app first: log in in the browser."))
    code = _normalise(code)
    if re.fullmatch(rf"\d{{{DIGITS}}}", code):
        if not _accept_totp(factor, code):
            raise _refused()
        used = "totp"
    elif len(code) == _RECOVERY_LENGTH and _accept_recovery_code(user, code):
        used = "recovery_code"
        audit.record("second_factor.recovery_code_used", user, actor=user,
                     after={"recovery_codes_left": recovery_codes_left(user)})
    else:
        raise _refused()
    _mark_session(user, session_token)
    return used


def regenerate_recovery_codes(user: User, code: str) -> list[str]:
    """Ten new recovery codes for a current authenticator code; the old ones stop working."""
    factor = factor_of(user)
    if factor is None or factor.confirmed_at is None:
        raise NotEnrolled(_("Set up your authenticator app first."))
    if not _accept_totp(factor, _normalise(code)):
        raise _refused()
    codes = _new_recovery_codes(user)
    audit.record("second_factor.recovery_codes_regenerated", user, actor=user,
                 after={"recovery_codes": len(codes)})
    return codes


def reset(user: User, actor=None) -> bool:
    """An operator's remedy for a lost phone without recovery codes: the app and the codes
    are forgotten and every session ends, so the next login sets up a new app. False if
    there was nothing to reset."""
    factor = factor_of(user)
    if factor is None:
        return False
    forget(user)
    from accounts.services import end_all_sessions

    end_all_sessions(user)
    audit.record("second_factor.reset", user, actor=actor,
                 before={"enrolled": factor.confirmed_at is not None})
    return True


def forget(user: User) -> None:
    """Account deletion: the secret and the recovery codes go with the account."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.session.execute(delete(SecondFactor).where(SecondFactor.user_id == user.id))


def second_step(user: User, next_url: str | None):
    """Where a staff member goes once their password was right: the code, or the set-up of
    their authenticator app (its secret is made now: the set-up page only reads)."""
    if not is_enrolled(user):
        begin_enrolment(user)
        return redirect(url_for("second_factor.enrol", next=safe_next_url(next_url)))
    return redirect(url_for("second_factor.verify", next=safe_next_url(next_url)))


# --- the gate -------------------------------------------------------------------------------

# What a staff session that has not passed the second factor may reach.
OPEN_ENDPOINTS = frozenset({
    "second_factor.verify", "second_factor.enrol", "second_factor.start_enrolment",
    "accounts.logout", "core.set_language", "static",
})


def gate():
    """Before every request (after its transaction began): a staff session that has not
    passed the second factor sees only the second-factor pages and logout; pages redirect
    there, the API answers 403 with a JSON error."""
    if request.endpoint in OPEN_ENDPOINTS or request.endpoint is None:
        return None
    if not session_pending(current_user):
        return None
    if wants_json():
        return error_response(403, SecondFactorRequired.code, _(
            "Staff must finish signing in with their authenticator app first (in the "
            "browser)."))
    return redirect(url_for("second_factor.verify", next=request.full_path.rstrip("?")))


def token_refusal(user: User | None) -> SecondFactorRequired | None:
    """Why a staff member's API token may not be used now: they have no second factor.

    Staff get a token only for a code (``POST /api/v1/auth/tokens``), and the migration
    revoked the tokens staff held before second factors existed."""
    if user is None or not user.is_staff or is_enrolled(user):
        return None
    return SecondFactorRequired(_("Staff must set up their authenticator app (in the browser) "
                                  "before using the API."))


def init_gate(app) -> None:
    """Register :func:`gate` after the request's transaction begins
    (:mod:`arbiter.transactions`), so a GET still runs read-only."""
    app.before_request(gate)
