"""The public status as JSON: only the fields listed here leave the server, so nothing
personal (who declared or posted) can slip into the answer.

Titles, impacts and update bodies come in the reader's language (Accept-Language, as the
pages), in Polish where staff have not written the English text yet.
"""

from flask_babel import get_locale
from marshmallow import Schema, fields

from incidents.states import IncidentState, UpdateKind


class InReaderLanguage(fields.String):
    """A text staff wrote in Polish and English, in the reader's language."""

    def __init__(self, **kwargs):
        super().__init__(metadata={"description": "In the reader's language (Accept-Language);"
                                                  " Polish where the English text is not "
                                                  "written yet"}, **kwargs)

    def get_value(self, obj, attr, accessor=None, default=None):
        return obj.text_in(attr, str(get_locale() or "pl")).text


class UpdateSchema(Schema):
    id = fields.Integer()
    kind = fields.Enum(UpdateKind, by_value=True)
    body = InReaderLanguage()
    posted_at = fields.AwareDateTime()


class IncidentSchema(Schema):
    id = fields.Integer()
    title = InReaderLanguage()
    impact = InReaderLanguage()
    affected_services = fields.List(fields.String())
    state = fields.Enum(IncidentState, by_value=True)
    started_at = fields.AwareDateTime()
    ended_at = fields.AwareDateTime(allow_none=True)
    updates = fields.List(fields.Nested(UpdateSchema))
