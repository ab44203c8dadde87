"""The staff dashboard: every chart for a period, each chart as SVG and as CSV.

Staff only (others 403, anonymous visitors to the login page). The period comes from the
query string (``from``/``to``, Warsaw days); a bad one is a form error with 422.
"""

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import format_date
from flask_babel import gettext as _

from accounts.auth import role_required
from accounts.roles import ANY_STAFF
from arbiter import clock
from arbiter.errors import ValidationFailed
from arbiter.extensions import talisman
from arbiter.storage import send_download
from dashboards import charts, policy
from dashboards.policy import Period, PeriodError, PeriodProblem

bp = Blueprint("dashboards", __name__)

# The SVG is an image: it may style itself inline and do nothing else, not even when it is
# opened on its own in a tab (no script, no fetch, no plugin, no framing).
SVG_POLICY = {
    "default-src": "'none'",
    "style-src": "'unsafe-inline'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'none'",
    "frame-ancestors": "'none'",
}


def _message(error: PeriodError) -> str:
    return {
        PeriodProblem.INVALID_DATE: _("Enter a date such as 2026-05-31."),
        PeriodProblem.OUT_OF_RANGE: _("Enter a date between %(earliest)s and %(latest)s.",
                                      earliest=policy.EARLIEST.isoformat(),
                                      latest=policy.LATEST.isoformat()),
        PeriodProblem.REVERSED: _("The start must not be after the end."),
        PeriodProblem.TOO_LONG: _("Choose at most %(days)d days (one year).",
                                  days=policy.MAX_DAYS),
    }[error.problem]


def _period() -> Period:
    """The requested period, or ValidationFailed (422) naming the field."""
    try:
        return policy.parse_period(request.args.get("from"), request.args.get("to"),
                                   clock.now())
    except PeriodError as error:
        message = _message(error)
        raise ValidationFailed(message, fields={error.field or "from": [message]}) from None


def _period_args(period: Period) -> dict:
    return {"from": period.start.isoformat(), "to": period.end.isoformat()}


def _build(name: str, period: Period) -> charts.Chart:
    builder = charts.CHARTS.get(name)
    if builder is None:
        abort(404)
    return builder(period, clock.now())


@bp.route("/staff/dashboard/charts")
@role_required(*ANY_STAFF)
def overview():
    """Every chart for the period (by default the last 30 days), with its data as a table."""
    try:
        period = _period()
    except ValidationFailed as error:
        return render_template("dashboards/charts.html", charts=None, errors=error.fields,
                               values={"from": request.args.get("from", ""),
                                       "to": request.args.get("to", "")}), 422
    now = clock.now()
    return render_template(
        "dashboards/charts.html", errors={}, values=_period_args(period),
        period_start=format_date(period.start, "long"),
        period_end=format_date(period.end, "long"),
        charts=[builder(period, now) for builder in charts.CHARTS.values()],
        chart_size=(charts.WIDTH, charts.HEIGHT))


@bp.route("/staff/dashboard/charts/<chart>.svg")
@talisman(content_security_policy=SVG_POLICY)
@role_required(*ANY_STAFF)
def chart_svg(chart: str):
    """One chart as an SVG image (no script, nothing fetched)."""
    drawing = charts.render_svg(_build(chart, _period()))
    response = Response(drawing, mimetype="image/svg+xml")
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.route("/staff/dashboard/charts/<chart>.csv")
@role_required(*ANY_STAFF)
def chart_csv(chart: str):
    """One chart's numbers as a CSV download."""
    period = _period()
    data = _build(chart, period)
    filename = f"arbiter-{data.key}-{period.start.isoformat()}-{period.end.isoformat()}.csv"
    return send_download(charts.to_csv(data), filename=filename, mimetype="text/csv")
