"""The public transparency page: how often decisions are appealed and how appeals end, with
the platform-wide figures of discussions the seller profiles show per seller.

Public (no login), read-only, figures only: nothing names a person or a case.
"""

from flask import Blueprint, render_template
from flask_babel import format_decimal

from appeals.figures import appeal_figures
from arbiter import clock
from disputes import policy as discussion_policy
from disputes import queries as discussion_queries

bp = Blueprint("transparency", __name__)


@bp.app_template_filter("per_100")
def per_100(rate) -> str:
    """A rate as "per 100" in the reader's locale ("12,5"), or a dash without data."""
    value = rate.share(1)
    return "—" if value is None else format_decimal(value, format="#,##0.0")


@bp.app_template_filter("days")
def days(value) -> str:
    """A number of days in the reader's locale ("3,0"), or a dash without data."""
    return "—" if value is None else format_decimal(value, format="#,##0.0")


@bp.route("/transparency")
def transparency():
    """Public: appeals per 100 decisions, how appeals ended and the median days to decide
    them, and how discussions ended, over the last 12 months."""
    since = discussion_policy.profile_window_start(clock.now())
    return render_template(
        "appeals/transparency.html",
        appeals=appeal_figures(since=since),
        no_intervention=discussion_queries.ended_without_intervention(opened_since=since),
        on_time=discussion_queries.seller_on_time_rate(opened_since=since))
