"""The public status as JSON: only the fields listed here leave the server, so nothing
personal (who declared or posted) can slip into the answer."""

from marshmallow import Schema, fields

from incidents.states import IncidentState, UpdateKind


class UpdateSchema(Schema):
    id = fields.Integer()
    kind = fields.Enum(UpdateKind, by_value=True)
    body = fields.String()
    posted_at = fields.AwareDateTime()


class IncidentSchema(Schema):
    id = fields.Integer()
    title = fields.String()
    impact = fields.String()
    affected_services = fields.List(fields.String())
    state = fields.Enum(IncidentState, by_value=True)
    started_at = fields.AwareDateTime()
    ended_at = fields.AwareDateTime(allow_none=True)
    updates = fields.List(fields.Nested(UpdateSchema))
