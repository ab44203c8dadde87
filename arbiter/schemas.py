"""Marshmallow fields for the shell's concepts, shared by every package's schemas: money
as integer grosze from a strict decimal string, and timezone-aware datetimes."""

from datetime import datetime

from marshmallow import ValidationError, fields

from arbiter import clock
from arbiter.money import InvalidAmount, parse_amount


class AmountField(fields.Field):
    """A decimal string such as "12.50", parsed strictly into integer grosze."""

    def __init__(self, *, positive: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.positive = positive

    def _deserialize(self, value, attr, data, **kwargs) -> int:
        text = value if isinstance(value, str) else ""
        try:
            # On the wire exactly the documented pattern: no spaces around the digits (a
            # form's parse_amount forgives them; a program's request is not typed by hand).
            return parse_amount(text if text == text.strip() else "",
                                allow_zero=not self.positive)
        except InvalidAmount as error:
            raise ValidationError(str(error)) from error


class AwareDateTime(fields.AwareDateTime):
    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        return clock.ensure_aware(super()._deserialize(value, attr, data, **kwargs))
