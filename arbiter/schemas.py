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
        try:
            return parse_amount(value if isinstance(value, str) else "",
                                allow_zero=not self.positive)
        except InvalidAmount as error:
            raise ValidationError(str(error)) from error


class AwareDateTime(fields.AwareDateTime):
    def _deserialize(self, value, attr, data, **kwargs) -> datetime:
        return clock.ensure_aware(super()._deserialize(value, attr, data, **kwargs))
