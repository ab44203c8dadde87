"""Input checks shared by every package's services."""

from flask_babel import gettext as _

from arbiter.errors import ValidationFailed


def checked_text(value: str | None, field: str, *, minimum: int = 1, maximum: int) -> str:
    """``value`` stripped, or ValidationFailed (422) naming ``field`` if its length is off."""
    value = (value or "").strip()
    if not minimum <= len(value) <= maximum:
        raise ValidationFailed(
            _("Write between %(min)d and %(max)d characters.", min=minimum, max=maximum),
            fields={field: ["length"]})
    return value
