"""Input checks shared by every package's services."""

from flask import Flask, request
from flask_babel import format_number, get_locale, ngettext
from flask_babel import gettext as _
from wtforms.validators import Length, ValidationError

from arbiter.errors import ValidationFailed, error_response
from arbiter.money import InvalidAmount, amount_example, parse_amount

# No request of ours nests deeper than a few levels; Python's parser (and every recursive
# walk over the result: schemas, the NUL check) gives up with a RecursionError, a 500,
# around a thousand.
MAX_JSON_DEPTH = 32
# Row ids and offsets go into BIGINT columns and LIMIT/OFFSET; a bigger number is a
# driver error (a 500), not an empty page.
MAX_PAGE = 1_000_000


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


def _json_depth(value) -> int:
    """How deeply ``value`` nests lists and objects, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def refuse_deep_json(app: Flask) -> None:
    """Parse a JSON body once, first of all hooks, and refuse (400, as any body that is not
    usable JSON) one nested too deeply: before the login throttle's key, the API's
    schemas or anything else walks it, whether or not the caller signed in."""

    @app.before_request
    def _refuse_deep_json():
        if not request.is_json or not request.content_length:
            return None
        message = _("The JSON body is nested too deeply (at most %(depth)d levels).",
                    depth=MAX_JSON_DEPTH)
        try:
            body = request.get_json(silent=True)  # malformed JSON: the views answer it
        except RecursionError:
            body = None
        else:
            if _json_depth(body) <= MAX_JSON_DEPTH:
                return None
        return error_response(400, "bad_request", message, {"_json": [message]})


def page_number(value: str | None) -> int:
    """``?page=``: a number from 1 to :data:`MAX_PAGE` (422 otherwise); 1 when absent."""
    if value in (None, ""):
        return 1
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= MAX_PAGE:
        raise ValidationFailed(_("There is no such page."), fields={"page": ["range"]})
    return number


def bounded_int(value: str | None, field: str, *, minimum: int, maximum: int) -> int | None:
    """An optional whole number from the query string within its bounds (422 otherwise)."""
    if value in (None, ""):
        return None
    try:
        number = int(value)
    except ValueError:
        number = minimum - 1
    if not minimum <= number <= maximum:
        raise ValidationFailed(_("Must be between %(min)d and %(max)d.", min=minimum,
                                 max=maximum), fields={field: ["range"]})
    return number
