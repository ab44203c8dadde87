"""Input checks shared by every package's services."""

from flask_babel import get_locale
from flask_babel import gettext as _

from arbiter.errors import ValidationFailed
from arbiter.money import InvalidAmount, amount_example, parse_amount


def checked_text(value: str | None, field: str, *, minimum: int = 1, maximum: int) -> str:
    """``value`` stripped, or ValidationFailed (422) naming ``field`` if its length is off."""
    value = (value or "").strip()
    if not minimum <= len(value) <= maximum:
        raise ValidationFailed(
            _("Write between %(min)d and %(max)d characters.", min=minimum, max=maximum),
            fields={field: ["length"]})
    return value


def form_amount(text: str | None, field: str, locale: str | None = None) -> int | None:
    """An amount typed into a form, in grosze; ``None`` when the box is empty.

    Read in the page's language (arbiter.money's locale format): "1 500,50" in Polish,
    "1,500.50" in English, and "1500.50" or "1500,50" in either. Everything else stays as
    strict as the API's amounts: no exponent, no third decimal, no other grouping, nothing
    negative, nothing zero.
    """
    if not text:
        return None
    locale = locale or page_locale()
    try:
        return parse_amount(text, allow_zero=False, locale=locale)
    except InvalidAmount as error:
        raise ValidationFailed(
            _("Enter an amount such as %(example)s.", example=amount_example(locale)),
            fields={field: [str(error)]}) from None


def page_locale() -> str:
    """The language the page is shown in (Polish outside a request, the site's default)."""
    return str(get_locale() or "pl")

