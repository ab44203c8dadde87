"""The incidents JSON API: the public platform status, described in the OpenAPI document."""

from flask_babel import gettext as _
from marshmallow import fields

from arbiter import clock
from arbiter.api import Blueprint, OutSchema
from arbiter.urls import public_url
from incidents import queries
from incidents.schemas import IncidentSchema

blp = Blueprint("Status", __name__, url_prefix="/api/v1",
                description="The public platform status: open and recent incidents.")


class StatusSchema(OutSchema):
    status = fields.String(metadata={"enum": ["operational", "incident"]})
    summary = fields.String()
    generated_at = fields.AwareDateTime()
    open_incidents = fields.List(fields.Nested(IncidentSchema))
    recent_incidents = fields.List(fields.Nested(IncidentSchema))
    status_page = fields.String()
    feed = fields.String()


@blp.route("/status", methods=["GET"])
@blp.response(200, StatusSchema)
def status():
    """Is the platform working? Open incidents and those of the last 90 days; public."""
    now = clock.now()
    page = queries.status(now)
    body = {
        "status": "operational" if page.all_working else "incident",
        "summary": _("All systems are working.") if page.all_working
        else _("We are dealing with a platform incident."),
        "generated_at": now,
        "open_incidents": page.open,
        "recent_incidents": page.recent,
        "status_page": public_url("incidents.status"),
        "feed": public_url("incidents.status_feed"),
    }
    return body, 200, {"Cache-Control": "public, max-age=60", "Vary": "Accept-Language"}
