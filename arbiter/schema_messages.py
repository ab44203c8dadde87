"""marshmallow's and webargs' own error messages, in the language of the request.

A field error in an API answer ("Missing data for required field.") comes from the library,
not from our code, so it would always be English. marshmallow copies its class-level
messages into every field when the field is created and formats them with ``str.format``
when input is refused; :class:`Translatable` is a ``str`` whose ``format`` first looks the
text up in the request's catalogue. :func:`install` swaps the library's messages for
translatable ones; it runs when ``arbiter`` is imported, before any schema is defined.
"""

from flask import has_request_context
from flask_babel import gettext
from marshmallow import Schema, fields, validate


class Translatable(str):
    """A message translated when the library formats it, i.e. while answering a request."""

    __slots__ = ()

    def format(self, *args, **kwargs) -> str:
        text = gettext(str(self)) if has_request_context() else str(self)
        return text.format(*args, **kwargs)


def _l(message: str) -> Translatable:
    """Marks a library message for extraction (``pybabel -k _l``) and translation."""
    return Translatable(message)


FIELD_MESSAGES = {
    fields.Field: {
        "required": _l("Missing data for required field."),
        "null": _l("Field may not be null."),
        "validator_failed": _l("Invalid value."),
    },
    fields.String: {"invalid": _l("Not a valid string."),
                    "invalid_utf8": _l("Not a valid utf-8 string.")},
    fields.Number: {"invalid": _l("Not a valid number."), "too_large": _l("Number too large.")},
    fields.Integer: {"invalid": _l("Not a valid integer.")},
    fields.Boolean: {"invalid": _l("Not a valid boolean.")},
    fields.Email: {"invalid": _l("Not a valid email address.")},
    fields.Enum: {"unknown": _l("Must be one of: {choices}.")},
    fields.List: {"invalid": _l("Not a valid list.")},
    fields.Nested: {"type": _l("Invalid type.")},
    fields.Mapping: {"invalid": _l("Not a valid mapping type.")},
    fields.DateTime: {
        "invalid": _l("Not a valid date and time."),
        "invalid_awareness": _l("Not a valid date and time: give the time zone."),
        "format": _l("\"{input}\" cannot be formatted as a date and time."),
    },
}
SCHEMA_MESSAGES = {"type": _l("Invalid input type."), "unknown": _l("Unknown field.")}
INVALID_JSON = _l("Invalid JSON body.")


def number_range(minimum: int, maximum: int) -> validate.Range:
    """``validate.Range`` with a message that translates (its own is assembled at import)."""
    return validate.Range(min=minimum, max=maximum,
                          error=_l("Must be between {min} and {max}."))


def install() -> None:
    for field_class, messages in FIELD_MESSAGES.items():
        # Each class's own dict: fields merge them along the MRO when they are created.
        field_class.default_error_messages = {
            **field_class.__dict__.get("default_error_messages", {}), **messages}
    Schema._default_error_messages = {**Schema._default_error_messages, **SCHEMA_MESSAGES}
    validate.Length.message_min = _l("Shorter than minimum length {min}.")
    validate.Length.message_max = _l("Longer than maximum length {max}.")
    validate.Length.message_all = _l("Length must be between {min} and {max}.")
    validate.Length.message_equal = _l("Length must be {equal}.")
    validate.OneOf.default_message = _l("Must be one of: {choices}.")
    validate.Email.default_message = _l("Not a valid email address.")


def request_gettext(message: str) -> str:
    """Our own validation messages: in the request's language when answering a request; as
    written (English) elsewhere, such as ``flask orders import``, whose output is English."""
    return gettext(message) if has_request_context() else message


def translate(message: str) -> str:
    """A message webargs wrote itself (not through marshmallow), e.g. for a broken body."""
    return gettext(INVALID_JSON) if message == INVALID_JSON else message
