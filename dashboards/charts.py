"""The staff dashboard's charts: their data (one query each), an SVG drawing and a CSV file.

Each chart is built by one function from a period and the current instant. The numbers
come from the read-side queries of the packages that own the rows (``disputes.queries``,
``claims.queries``); this module only labels and formats them: dates in Warsaw, money and
percentages with Babel in the reader's locale. The CSV carries the raw numbers (ISO dates,
amounts as ``1234.56``, per cent with a dot) so a spreadsheet reads them in any locale.

The SVG is drawn with pygal and cleaned of everything a browser could fetch or run: no
``<script>`` (pygal's tooltips need its JavaScript from a CDN; we load none), no comments
with URLs. Only its own inline ``<style>`` remains, which its response's CSP allows.
"""

import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import pygal
from flask_babel import format_date, format_decimal, get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from pygal.style import Style

from arbiter.metrics import format_percent
from arbiter.money import DEFAULT_CURRENCY, format_money, to_decimal_string
from arbiter.spreadsheets import csv_bytes
from claims import queries as claim_queries
from claims.states import STATE_LABELS, ClaimState
from dashboards import policy
from dashboards.policy import AgeBucket, Period
from disputes import queries as discussion_queries
from disputes.queries import Rate

# pygal appends an old-style import hook for its map plugins (pygal.maps.*), which we never
# use. It has no find_spec, so every later failed import (optional dependencies probing
# for each other) raises an ImportWarning through it; take it out again.
sys.meta_path[:] = [finder for finder in sys.meta_path
                    if not isinstance(finder, pygal.PluginImportFixer)]

AGE_LABELS = {
    AgeBucket.UNDER_24_HOURS: _l("under 24 h"),
    AgeBucket.ONE_TO_THREE_DAYS: _l("1 to 3 days"),
    AgeBucket.THREE_TO_SEVEN_DAYS: _l("3 to 7 days"),
    AgeBucket.OVER_SEVEN_DAYS: _l("over 7 days"),
}


@dataclass
class Chart:
    """What one chart shows, ready for the page, the SVG and the CSV."""

    key: str
    title: str
    note: str
    kind: str  # "bar" or "line"
    x_labels: list[str]
    series: list[tuple[str, list[float | int | None]]]
    y_format: Callable[[float], str]  # the axis's labels
    table_header: list[str]
    table_rows: list[list[str]]
    csv_header: list[str]
    csv_rows: list[list[str | int]]
    headline: str = ""
    reference: tuple[str, float] | None = None
    y_range: tuple[float, float] | None = None
    # Each point's own text (what the table says); None: as the axis (y_format).
    value_format: Callable[[float], str] | None = None
    counts: bool = False  # whole numbers: the axis gets whole-number ticks only
    extra: dict = field(default_factory=dict)


# --- formatting ----------------------------------------------------------------------------


def _locale() -> str:
    return str(get_locale() or "pl")


def _money(minor: int) -> str:
    return format_money(minor, DEFAULT_CURRENCY, _locale())


def _raw_percent(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def _day(value: date) -> str:
    return format_date(value, "medium")


def _short_day(value: date) -> str:
    return format_date(value, "d MMM")


def _rate_cells(rate: Rate, places: int = 1) -> tuple[Decimal | None, str]:
    share = rate.share(places)
    return share, format_percent(share, places)


def _total(rates: list[Rate]) -> Rate:
    return Rate(sum(r.numerator for r in rates), sum(r.denominator for r in rates))


def _axis_percent(value: float) -> str:
    """An axis tick: only the digits it needs ("40 %", "0,0036 %"); points carry all."""
    return f"{format_decimal(Decimal(str(value)), format='#,##0.####')} %"


def _plotted(share: Decimal | None) -> float | None:
    # A float only to place a point on the drawing; every number shown is the Decimal.
    return None if share is None else float(share)


# --- the charts ----------------------------------------------------------------------------


def opened_per_day(period: Period, now: datetime) -> Chart:
    buckets = policy.day_buckets(period)
    counts = discussion_queries.opened_per_bucket(buckets)
    total = sum(counts)
    return Chart(
        key="opened_per_day", counts=True, title=_("Discussions opened per day"),
        note=_("Calendar days in Warsaw."), kind="bar",
        x_labels=[_short_day(b.label) for b in buckets],
        series=[(_("Discussions"), counts)],
        y_format=lambda v: format_decimal(v, format="#,##0"),
        table_header=[_("Day"), _("Discussions opened")],
        table_rows=[[_day(b.label), format_decimal(c)] for b, c in zip(buckets, counts,
                                                                        strict=True)],
        csv_header=["day", "discussions_opened"],
        csv_rows=[[b.label.isoformat(), c] for b, c in zip(buckets, counts, strict=True)],
        headline=ngettext("%(num)d discussion opened", "%(num)d discussions opened", total),
    )


def _rate_chart(key: str, title: str, note: str, period: Period, rates: list[Rate],
                names: tuple[str, str], csv_names: tuple[str, str], places: int = 1,
                reference: tuple[str, Decimal] | None = None) -> Chart:
    buckets = policy.week_buckets(period)
    shares = [r.share(places) for r in rates]
    total = _total(rates)
    _share, total_text = _rate_cells(total, places)
    return Chart(
        key=key, title=title, note=note, kind="line",
        x_labels=[_short_day(b.label) for b in buckets],
        series=[(title, [_plotted(s) for s in shares])],
        y_format=_axis_percent,
        value_format=lambda v: format_percent(Decimal(str(v)), places),
        table_header=[_("Week from"), names[0], names[1], _("Share")],
        table_rows=[[_day(b.label), format_decimal(r.denominator), format_decimal(r.numerator),
                     format_percent(s, places)] for b, r, s in zip(buckets, rates, shares,
                                                              strict=True)],
        csv_header=["week_start", csv_names[0], csv_names[1], "percent"],
        csv_rows=[[b.label.isoformat(), r.denominator, r.numerator, _raw_percent(s)]
                  for b, r, s in zip(buckets, rates, shares, strict=True)],
        headline=f"{total_text} ({total.numerator} / {total.denominator})",
        reference=None if reference is None else (reference[0], float(reference[1])),
        y_range=(0, 100) if places == 1 else None,
        extra={"total": total},
    )


def no_intervention(period: Period, now: datetime) -> Chart:
    rates = discussion_queries.ended_without_intervention_per_bucket(
        policy.week_buckets(period))
    reference = format_percent(policy.NO_INTERVENTION_REFERENCE, 0)
    return _rate_chart(
        "no_intervention", _("Ended without platform intervention"),
        _("Discussions opened in each week that have ended, and how many of them ended "
          "without the platform. The source programme reported %(reference)s.",
          reference=reference),
        period, rates, (_("Ended"), _("Without the platform")),
        ("ended", "ended_without_intervention"),
        reference=(_("Programme reference: %(reference)s", reference=reference),
                   policy.NO_INTERVENTION_REFERENCE))


def on_time(period: Period, now: datetime) -> Chart:
    rates = discussion_queries.on_time_per_bucket(policy.week_buckets(period), now)
    return _rate_chart(
        "on_time", _("Sellers' answers within 24 h"),
        _("Discussions opened in each week whose answer is in or overdue, and how many "
          "sellers answered within 24 h."),
        period, rates, (_("Answers due"), _("On time")), ("answers_due", "answered_on_time"))


def escalations_by_age(period: Period, now: datetime) -> Chart:
    thresholds = policy.age_thresholds(now)
    counts = discussion_queries.escalations_by_age(thresholds)
    labels = [str(AGE_LABELS[bucket]) for bucket, _after, _before in thresholds]
    total = sum(counts)
    return Chart(
        key="escalations_by_age", counts=True, title=_("Escalations waiting, by age"),
        note=_("Escalations in the staff queue now, by time since the buyer asked for help; "
               "the period does not apply."), kind="bar",
        x_labels=labels, series=[(_("Escalations"), counts)],
        y_format=lambda v: format_decimal(v, format="#,##0"),
        table_header=[_("Waiting"), _("Escalations")],
        table_rows=[[label, format_decimal(c)] for label, c in zip(labels, counts, strict=True)],
        csv_header=["age", "escalations_waiting"],
        csv_rows=[[bucket.value, c] for (bucket, _a, _b), c in zip(thresholds, counts,
                                                                   strict=True)],
        headline=ngettext("%(num)d escalation waiting", "%(num)d escalations waiting", total),
    )


def claims_by_state(period: Period, now: datetime) -> Chart:
    counts = claim_queries.claims_by_state(period.starts_at, period.ends_before)
    states = list(ClaimState)
    labels = [str(STATE_LABELS[state]) for state in states]
    values = [counts[state] for state in states]
    total = sum(values)
    return Chart(
        key="claims_by_state", counts=True, title=_("Claims by state"),
        note=_("Claims submitted in the period, by their state now."), kind="bar",
        x_labels=labels, series=[(_("Claims"), values)],
        y_format=lambda v: format_decimal(v, format="#,##0"),
        table_header=[_("State"), _("Claims")],
        table_rows=[[label, format_decimal(v)] for label, v in zip(labels, values, strict=True)],
        csv_header=["state", "claims"],
        csv_rows=[[state.value, counts[state]] for state in states],
        headline=ngettext("%(num)d claim submitted", "%(num)d claims submitted", total),
    )


def paid_per_week(period: Period, now: datetime) -> Chart:
    buckets = policy.week_buckets(period)
    paid = claim_queries.paid_per_bucket(buckets)
    total = sum(p.amount for p in paid)
    return Chart(
        key="paid_per_week", title=_("Amount paid per week"),
        note=_("Payouts finance confirmed as paid, by the week of the confirmation."),
        kind="bar", x_labels=[_short_day(b.label) for b in buckets],
        series=[(_("Amount paid"), [p.amount for p in paid])],
        y_format=lambda v: _money(round(v)),
        table_header=[_("Week from"), _("Payouts"), _("Amount paid")],
        table_rows=[[_day(b.label), format_decimal(p.payouts), _money(p.amount)]
                    for b, p in zip(buckets, paid, strict=True)],
        csv_header=["week_start", "payouts", "amount", "currency"],
        csv_rows=[[b.label.isoformat(), p.payouts, to_decimal_string(p.amount),
                   DEFAULT_CURRENCY] for b, p in zip(buckets, paid, strict=True)],
        headline=_("%(amount)s paid", amount=_money(total)),
        extra={"total": total},
    )


def paid_per_orders(period: Period, now: datetime) -> Chart:
    paid = claim_queries.paid_per_orders_per_bucket(policy.week_buckets(period))
    rates = [Rate(p.paid_claims, p.orders) for p in paid]
    reference = format_percent(policy.PAID_PER_ORDERS_REFERENCE, 4)
    return _rate_chart(
        "paid_per_orders", _("Claims paid per orders"),
        _("Claims paid in each week per orders paid in the same week. The source programme "
          "paid for %(reference)s of transactions.", reference=reference),
        period, rates, (_("Orders"), _("Claims paid")), ("orders", "paid_claims"), places=4,
        reference=(_("Programme reference: %(reference)s", reference=reference),
                   policy.PAID_PER_ORDERS_REFERENCE))


CHARTS: dict[str, Callable[[Period, datetime], Chart]] = {
    "opened_per_day": opened_per_day,
    "no_intervention": no_intervention,
    "on_time": on_time,
    "escalations_by_age": escalations_by_age,
    "claims_by_state": claims_by_state,
    "paid_per_week": paid_per_week,
    "paid_per_orders": paid_per_orders,
}


# --- output ----------------------------------------------------------------------------------


def to_csv(chart: Chart) -> bytes:
    """UTF-8, comma-separated, CRLF, one header row; numbers as plain decimals."""
    return csv_bytes(chart.csv_header, chart.csv_rows)


# The page shows a chart about 600 px wide at 1280 px (half the content width), so it is
# drawn at that size, with its text at 13-14 px: drawn at 800 px and scaled down, pygal's
# default 10 px labels came out at about 6 px.
WIDTH, HEIGHT = 600, 320
MOST_X_LABELS = 8  # rotated 45 degrees, this many "12 Mar" labels never touch at 600 px
FONT = 14
STYLE = Style(
    background="#ffffff", plot_background="#ffffff", foreground="#212529",
    foreground_strong="#212529", foreground_subtle="#6c757d",
    font_family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
    colors=("#0d6efd", "#dc3545", "#198754", "#fd7e14"), opacity="0.9",
    opacity_hover="0.9", transition="none",
    label_font_size=FONT - 1, major_label_font_size=FONT - 1, legend_font_size=FONT,
    value_font_size=FONT, value_label_font_size=FONT, tooltip_font_size=FONT,
    no_data_font_size=FONT + 2,
)


def whole_number_ticks(highest: int, most: int = 6) -> list[int]:
    """Axis ticks for counts: 0 up to at least ``highest`` in whole steps, at most ``most``
    of them (pygal's own ticks for small counts are 0, 0.5, 1, ... which read 0, 0, 1)."""
    step = max(1, -(-highest // (most - 1)))
    return list(range(0, max(highest, 1) + step, step))


def _config(chart: Chart) -> dict:
    count = len(chart.x_labels)
    many = count > MOST_X_LABELS
    point_text = chart.value_format or chart.y_format
    options = {
        "js": [],  # no pygal.js from a CDN (and no script at all, see _clean)
        "style": STYLE, "width": WIDTH, "height": HEIGHT, "show_legend": bool(chart.reference),
        "legend_at_bottom": True, "x_label_rotation": 45 if many else 0,
        "show_minor_x_labels": not many, "truncate_label": -1, "truncate_legend": -1,
        "no_data_text": _("No data"),
        "value_formatter": lambda v: "" if v is None else chart.y_format(v),  # the axis
        "formatter": lambda v: "" if v is None else point_text(v),  # each point
        "print_values": False, "show_y_guides": True, "include_x_axis": True,
        "title": None,
    }
    if many:
        options["x_labels_major_every"] = -(-count // MOST_X_LABELS)
    if chart.y_range:
        options["range"] = chart.y_range
    if chart.counts:
        highest = max((v for _name, values in chart.series for v in values if v), default=0)
        options["y_labels"] = whole_number_ticks(int(highest))
    return options


def _clean(tree: ET.Element) -> None:
    """Remove every script and comment, whatever pygal's version puts there."""
    for parent in list(tree.iter()):
        for child in list(parent):
            if child.tag is ET.Comment or str(child.tag).rsplit("}", 1)[-1] == "script":
                parent.remove(child)


def render_svg(chart: Chart) -> bytes:
    """The chart as a standalone SVG document (no script, nothing to fetch)."""
    kind = pygal.Line if chart.kind == "line" else pygal.Bar
    drawing = kind(**_config(chart))
    drawing.x_labels = chart.x_labels
    for name, values in chart.series:
        drawing.add(name, values)
    if chart.reference:
        label, value = chart.reference
        drawing.add(label, [value] * len(chart.x_labels), show_dots=False,
                    stroke_style={"width": 2, "dasharray": "6, 4"})
    tree = drawing.render_tree()
    _clean(tree)
    return ET.tostring(tree, encoding="utf-8", xml_declaration=True)
