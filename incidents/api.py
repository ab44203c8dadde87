"""The incidents JSON API: the public platform status."""

from flask import Blueprint, jsonify, url_for
from flask_babel import gettext as _

from arbiter import clock
from incidents import queries
from incidents.schemas import IncidentSchema

bp = Blueprint("incidents_api", __name__, url_prefix="/api/v1")


@bp.get("/status")
def status():
    """Is the platform working? Open incidents and those of the last 90 days; public."""
    now = clock.now()
    page = queries.status(now)
    incidents = IncidentSchema(many=True)
    response = jsonify({
        "status": "operational" if page.all_working else "incident",
        "summary": _("All systems are working.") if page.all_working
        else _("We are dealing with a platform incident."),
        "generated_at": now.isoformat(),
        "open_incidents": incidents.dump(page.open),
        "recent_incidents": incidents.dump(page.recent),
        "status_page": url_for("incidents.status", _external=True),
        "feed": url_for("incidents.status_feed", _external=True),
    })
    response.headers["Cache-Control"] = "public, max-age=60"
    response.vary.add("Accept-Language")
    return response
