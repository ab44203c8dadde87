"""argon2id password hashing and the password rules (NIST SP 800-63B, issue 25 item 4).

The rules: 12 to 128 characters, and not easy to guess. "Easy to guess" is zxcvbn's
estimate: it knows common passwords, words, names, keyboard patterns, repeats and
sequences, and the account's own e-mail address and name (``context``). No composition
rules (a digit, a capital letter...): they make passwords harder to remember, not to guess.
"""

import re

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app
from flask_babel import gettext as _
from zxcvbn import zxcvbn

MIN_LENGTH = 12
MAX_LENGTH = 128

_default = PasswordHasher()  # argon2id with the library's RFC 9106 low-memory profile
# Tests hash hundreds of passwords: same algorithm, smaller cost.
_fast = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
# A real hash to verify against when the e-mail is unknown, so both paths cost the same.
_DUMMY_HASH = _default.hash("arbiter-timing-equaliser")


def _hasher() -> PasswordHasher:
    return _fast if current_app.config.get("PASSWORD_HASH_FAST") else _default


# zxcvbn's score 3: "safely unguessable", about 10^8 to 10^10 guesses; below it a password
# falls to a guessing attack that knows the common passwords and the person's details.
MIN_SCORE = 3


def _context_words(context) -> list[str]:
    """The e-mail address and name, whole, without their separators and in pieces
    ("jan.kowalski@poczta.pl" gives "jan.kowalski", "jankowalski", "jan", "kowalski",
    "poczta", ...), for zxcvbn's dictionary of the person's own words."""
    words = set()
    for value in context:
        value = (value or "").strip().lower()
        for part in {value, value.split("@")[0]} - {""}:
            words.update((part, re.sub(r"[\W_]+", "", part)))
            words.update(piece for piece in re.split(r"[\W_]+", part) if len(piece) >= 3)
    return sorted(words - {""})


def password_problem(password: str, context=()) -> str | None:
    """What is wrong with this password, in the reader's language; None if it is fine.

    ``context``: the account's e-mail address and name, refused as (part of) a password.
    """
    if len(password) < MIN_LENGTH:
        return _("The password must have at least %(count)d characters.", count=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("The password must have at most %(count)d characters.", count=MAX_LENGTH)
    estimate = zxcvbn(password, user_inputs=_context_words(context), max_length=MAX_LENGTH)
    if estimate["score"] >= MIN_SCORE:
        return None
    if any(match.get("dictionary_name") == "user_inputs" for match in estimate["sequence"]):
        return _("The password must not be built from your e-mail address or name. Choose "
                 "something only you know, for example a few unrelated words.")
    return _("This password is too easy to guess: it is common or follows a simple pattern "
             "(repeats, sequences, keyboard rows, a word with digits). A few unrelated words "
             "make a strong password that is easy to remember.")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher().verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False
