"""Input checks shared by every package's services."""

from flask_babel import format_number, ngettext
from flask_babel import gettext as _
from wtforms.validators import Length, ValidationError

from arbiter.errors import ValidationFailed
from arbiter.money import InvalidAmount, parse_amount


def length_message(minimum: int, maximum: int, length: int) -> str:
    """What a text of the wrong length gets, with the numbers in the reader's notation
    ("od 30 do 20 000 znaków; obecnie 12"): one sentence for forms and services alike."""
    numbers = {"min": format_number(minimum), "max": format_number(maximum),
               "length": format_number(length)}
    if length < minimum:
        return ngettext("Write at least %(min)s character; this text has %(length)s.",
                        "Write at least %(min)s characters; this text has %(length)s.",
                        minimum, **numbers)
    return ngettext("Write at most %(max)s character; this text has %(length)s.",
                    "Write at most %(max)s characters; this text has %(length)s.",
                    maximum, **numbers)


class TextLength(Length):
    """WTForms' Length with :func:`length_message` (WTForms' own Polish reads "Wartość musi
    być długa na od 30 do 20000 znaków")."""

    def __call__(self, form, field):
        length = len(field.data or "")
        if length < self.min or (self.max != -1 and length > self.max):
            raise ValidationError(self.message or length_message(
                self.min, self.max if self.max != -1 else length, length))


def checked_text(value: str | None, field: str, *, minimum: int = 1, maximum: int) -> str:
    """``value`` stripped, or ValidationFailed (422) naming ``field`` if its length is off."""
    value = (value or "").strip()
    if not minimum <= len(value) <= maximum:
        raise ValidationFailed(length_message(minimum, maximum, len(value)),
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
