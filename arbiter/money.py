"""Money as integer minor units (grosze) plus an ISO currency code.

Amounts arrive as decimal strings and are parsed strictly: at most two decimals, no
exponent, no sign, no NaN/Infinity, no floats anywhere. Formatting goes through Babel.

One parser, two formats. The API's (``locale=None``) is the wire format only: ``1500.50``.
People typing into a page (``locale="pl"`` or ``"en"``) may also write what the site itself
shows in their language, so what a page displays can be typed back:

- ungrouped, with either decimal mark: ``1500.50`` or ``1500,50``;
- grouped in thousands the locale's way, with the locale's decimal mark only: Polish
  ``1 500,50`` (a space, a no-break space U+00A0 or a narrow no-break space U+202F, the
  same one throughout), English ``1,500.50``;
- optionally with the currency as the site prints it (``zł``, ``PLN``) before or after.

Everything else is refused, because it is ambiguous or a typo: three decimals (``1,500``
in Polish), the other locale's grouping (``1.500,50``, ``1,500.50`` in Polish), a group
that is not three digits (``1 50,00``), exponents, signs, and text around the number.
"""

import re
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import (
    format_currency,
    format_decimal,
    get_currency_symbol,
    get_decimal_symbol,
    get_group_symbol,
)

from arbiter.schema_messages import request_gettext as _

DEFAULT_CURRENCY = "PLN"
# 10^11 grosze = 1,000,000,000.00 zł: far above any marketplace order, well inside BIGINT.
MAX_MINOR = 100_000_000_000
_AMOUNT = re.compile(r"(?P<units>0|[1-9][0-9]{0,9})(?:\.(?P<fraction>[0-9]{1,2}))?")
_UNGROUPED_COMMA = re.compile(r"(?P<units>0|[1-9][0-9]{0,9}),(?P<fraction>[0-9]{1,2})")
# The spaces that may separate thousands where the locale groups with a (no-break) space.
_SPACES = " \u00a0\u202f"
# What parse_amount accepts, as the OpenAPI document states it (ECMA-262 and Python
# regular expressions alike): up to MAX_MINOR, and above zero where zero is refused.
AMOUNT_PATTERN = r"^((0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?|1000000000(\.00?)?)$"
POSITIVE_AMOUNT_PATTERN = (r"^(0\.(0[1-9]|[1-9][0-9]?)|[1-9][0-9]{0,8}(\.[0-9]{1,2})?"
                           r"|1000000000(\.00?)?)$")


class InvalidAmount(ValueError):
    """A string that is not a plain, non-negative decimal amount with at most 2 decimals."""


def _grouped(locale: str) -> re.Pattern:
    """The locale's own grouped format: ``1 500,50`` (pl), ``1,500.50`` (en)."""
    group, decimal = get_group_symbol(locale), get_decimal_symbol(locale)
    groups = f"[{re.escape(_SPACES)}]" if group in _SPACES else re.escape(group)
    return re.compile(rf"(?P<units>[1-9][0-9]{{0,2}}(?P<group>{groups})[0-9]{{3}}"
                      rf"(?:(?P=group)[0-9]{{3}}){{0,2}})"
                      rf"(?:{re.escape(decimal)}(?P<fraction>[0-9]{{1,2}}))?")


def _without_currency(text: str, locale: str, currency: str) -> str:
    for mark in (get_currency_symbol(currency, locale), currency):
        if text.endswith(mark):
            return text[:-len(mark)].rstrip(_SPACES)
        if text.startswith(mark):
            return text[len(mark):].lstrip(_SPACES)
    return text


def _match(text: str, locale: str | None, currency: str) -> re.Match | None:
    text = text.strip(_SPACES)
    if locale is None:  # the API: its documented wire format only
        return _AMOUNT.fullmatch(text)
    text = _without_currency(text, locale, currency)
    return (_AMOUNT.fullmatch(text) or _UNGROUPED_COMMA.fullmatch(text)
            or _grouped(locale).fullmatch(text))


def amount_example(locale: str | None, minor: int = 150_050) -> str:
    """How an amount is typed in ``locale``'s format ("1 500,50"; "1500.50" for the API)."""
    if locale is None:
        return to_decimal_string(minor)
    return format_decimal(Decimal(minor).scaleb(-2), format="#,##0.00", locale=locale)


def parse_amount(text: str, *, allow_zero: bool = True, locale: str | None = None,
                 currency: str = DEFAULT_CURRENCY) -> int:
    """Parse ``"9950.00"`` into ``995000`` grosze, refusing anything ambiguous.

    ``locale=None`` reads the API's format only; a locale also reads that locale's own
    format (see the module's docstring).
    """
    if not isinstance(text, str):
        raise InvalidAmount(_("amount must be a decimal string such as 12.50"))
    match = _match(text, locale, currency)
    if match is None:
        raise InvalidAmount(
            _("amount must be a non-negative decimal number with at most 2 decimal places, "
              "such as %(example)s") % {"example": amount_example(locale, 1_250)}
        )
    fraction = (match["fraction"] or "").ljust(2, "0")
    units = re.sub(f"[{re.escape(_SPACES)},]", "", match["units"])
    minor = int(units) * 100 + int(fraction or 0)
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
