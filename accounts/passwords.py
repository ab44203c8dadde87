"""argon2id password hashing and the password rules."""

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _

MIN_LENGTH = 10
MAX_LENGTH = 128

_default = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
# Tests hash hundreds of passwords: same algorithm, smaller cost.
_fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
# A real hash to verify against when the e-mail is unknown, so both paths cost the same.
_DUMMY_HASH = _default.hash("arbiter-timing-equaliser")


def _hasher() -> PasswordHasher:
    return _fast if current_app.config.get("PASSWORD_HASH_FAST") else _default


def password_problem(password: str) -> str | None:
    """What is wrong with this password, in the reader's language; None if it is fine."""
    if len(password) < MIN_LENGTH:
        return _("The password must have at least %(count)d characters.", count=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("The password must have at most %(count)d characters.", count=MAX_LENGTH)
    return None


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher().verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False
