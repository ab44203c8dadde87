"""Input checks shared by every package's services."""

from flask_babel import gettext as _

from arbiter.errors import ValidationFailed
from arbiter.money import InvalidAmount, parse_amount


def checked_text(value: str | None, field: str, *, minimum: int = 1, maximum: int) -> str:
    """``value`` stripped, or ValidationFailed (422) naming ``field`` if its length is off."""
    value = (value or "").strip()
    if not minimum <= len(value) <= maximum:
        raise ValidationFailed(
            _("Write between %(min)d and %(max)d characters.", min=minimum, max=maximum),
            fields={field: ["length"]})
    return value


def form_amount(text: str | None, field: str) -> int | None:
    """An amount typed into a form, in grosze; ``None`` when the box is empty.

    People write "120,50" in Polish and "120.50" in English: either decimal mark is taken
    (one of them, at most two decimals). Everything else stays as strict as the API's
    amounts: no thousands separators, no exponent, nothing negative, nothing zero.
    """
    if not text:
        return None
    text = text.strip()
    if text.count(",") == 1 and "." not in text:
        text = text.replace(",", ".")
    try:
        return parse_amount(text, allow_zero=False)
    except InvalidAmount as error:
        raise ValidationFailed(_("Enter an amount such as 120.50."),
                               fields={field: [str(error)]}) from None
