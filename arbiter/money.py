"""Money as integer minor units (grosze) plus an ISO currency code.

Amounts arrive as decimal strings and are parsed strictly: at most two decimals, no
exponent, no sign, no NaN/Infinity, no floats anywhere. Formatting goes through Babel.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency

from arbiter.schema_messages import request_gettext as _

DEFAULT_CURRENCY = "PLN"
# 10^11 grosze = 1,000,000,000.00 zł: far above any marketplace order, well inside BIGINT.
MAX_MINOR = 100_000_000_000
_AMOUNT = re.compile(r"(?P<units>0|[1-9][0-9]{0,9})(?:\.(?P<fraction>[0-9]{1,2}))?")
# What parse_amount accepts, as the OpenAPI document states it (ECMA-262 and Python
# regular expressions alike): up to MAX_MINOR, and above zero where zero is refused.
AMOUNT_PATTERN = r"^((0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?|1000000000(\.00?)?)$"
POSITIVE_AMOUNT_PATTERN = (r"^(0\.(0[1-9]|[1-9][0-9]?)|[1-9][0-9]{0,8}(\.[0-9]{1,2})?"
                           r"|1000000000(\.00?)?)$")


class InvalidAmount(ValueError):
    """A string that is not a plain, non-negative decimal amount with at most 2 decimals."""


def parse_amount(text: str, *, allow_zero: bool = True) -> int:
    """Parse ``"9950.00"`` into ``995000`` grosze, refusing anything ambiguous."""
    if not isinstance(text, str):
        raise InvalidAmount(_("amount must be a decimal string such as 12.50"))
    match = _AMOUNT.fullmatch(text.strip())
    if match is None:
        raise InvalidAmount(
            _("amount must be a non-negative decimal number with at most 2 decimal places, "
              "such as 12.50")
        )
    fraction = (match["fraction"] or "").ljust(2, "0")
    minor = int(match["units"]) * 100 + int(fraction or 0)
    if minor > MAX_MINOR:
        raise InvalidAmount(_("amount is too large"))
    if minor == 0 and not allow_zero:
        raise InvalidAmount(_("amount must be greater than zero"))
    return minor


def to_decimal_string(minor: int) -> str:
    """``995000`` -> ``"9950.00"`` (the wire format of the JSON API)."""
    sign = "-" if minor < 0 else ""
    units, cents = divmod(abs(minor), 100)
    return f"{sign}{units}.{cents:02d}"


def format_money(minor: int, currency: str = DEFAULT_CURRENCY, locale: str = "pl") -> str:
    """Human formatting: ``10 000,00 zł`` in Polish, ``PLN 10,000.00`` in English."""
    value = Decimal(minor).scaleb(-2)
    if str(locale).startswith("en"):
        # Babel's English pattern glues the ISO code to the digits ("PLN10,000.00").
        return format_currency(value, currency, format="¤\u00a0#,##0.00", locale=locale)
    return format_currency(value, currency, locale=locale)


@dataclass(frozen=True, slots=True)
class Money:
    minor: int
    currency: str = DEFAULT_CURRENCY

    @classmethod
    def parse(cls, text: str, currency: str = DEFAULT_CURRENCY) -> "Money":
        return cls(parse_amount(text), currency)

    def __str__(self) -> str:
        return f"{to_decimal_string(self.minor)} {self.currency}"

    def format(self, locale: str = "pl") -> str:
        return format_money(self.minor, self.currency, locale)
