"""Jinja helpers: Warsaw time and Babel money in the reader's locale."""

from datetime import datetime, tzinfo
from decimal import Decimal
from functools import lru_cache

from babel import Locale, dates
from flask import Flask, current_app, has_request_context, request
from flask import url_for as flask_url_for
from flask_babel import (
    force_locale,
    format_date,
    format_datetime,
    format_decimal,
    get_locale,
    get_timezone,
)
from jinja2 import pass_context
from markupsafe import Markup, escape

from arbiter import clock
from arbiter.fragments import fragment
from arbiter.i18n import DateFormats
from arbiter.metrics import format_percent
from arbiter.money import format_money
from orders.states import PAYMENT_METHOD_LABELS


def register_template_helpers(app: Flask) -> None:
    from accounts.models import User
    from accounts.services import register_page_extra
    from arbiter.notifications import unread_count_of

    # The unread count in the navigation bar comes with the session's user (one query).
    register_page_extra("unread_notifications",
                        lambda: unread_count_of(User.id).scalar_subquery())

    app.jinja_env.globals["url_for"] = _template_url_for(app)

    @app.context_processor
    def page_locale():
        # Resolved once per rendering for the filters below (Flask-Babel would look the
        # locale and the time zone up again for every value a page shows).
        return {"_page_locale": get_locale(), "_page_zone": get_timezone()}

    @app.template_filter("money")
    @pass_context
    def money_filter(context, minor: int, currency: str = "PLN") -> str:
        locale = context.parent.get("_page_locale") or get_locale()
        return _formatted_money(minor, currency, str(locale or "pl"))

    @app.template_filter("local_dt")
    @pass_context
    def local_datetime(context, value: datetime | None, fmt: str = "medium") -> str:
        if value is None:
            return ""
        if fmt in _NAMED_FORMATS:
            return _formatted_datetime(clock.ensure_aware(value), fmt,
                                       context.parent.get("_page_locale") or get_locale(),
                                       context.parent.get("_page_zone") or get_timezone())
        return format_datetime(clock.ensure_aware(value), fmt)

    @app.template_filter("local_date")
    def local_date(value: datetime | None, fmt: str = "long") -> str:
        """The calendar day in Warsaw (2017-07-31 22:00 UTC is 1 August 2017 there)."""
        if value is None:
            return ""
        return format_date(clock.ensure_aware(value), fmt)

    @app.template_filter("filesize")
    def filesize(size: int) -> str:
        """A file's size in the reader's notation: "0,7 KB" in Polish, "0.7 KB" in English."""
        kilobytes = Decimal(size) / 1024
        if kilobytes >= 1024:
            return format_decimal(kilobytes / 1024, format="#,##0.0") + "\u00a0MB"
        return format_decimal(kilobytes, format="#,##0.0") + "\u00a0KB"

    app.add_template_filter(format_percent, "percent")

    @app.template_global()
    @pass_context
    def deadline(context, when: datetime, now: datetime) -> Markup:
        """A deadline in Warsaw time with the time left or overdue, in hours and minutes;
        ``static/countdown.js`` keeps the count running from the ``data-*`` patterns.
        Built here rather than in a macro: the seller inbox shows one on every row."""
        from disputes.policy import countdown

        locale = context.parent.get("_page_locale") or get_locale()
        left, overdue_by = _countdown_patterns(str(locale))
        overdue, hours, minutes = countdown(when, now)
        iso = escape(when.isoformat())
        shown = escape(_formatted_datetime(clock.ensure_aware(when), "short", locale,
                                           context.parent.get("_page_zone") or get_timezone()))
        style, text = ("deadline-overdue", overdue_by) if overdue else ("text-muted", left)
        return Markup(  # noqa: S704 - every part is escaped above or in _countdown_patterns
            f'<time datetime="{iso}">{shown}</time>\n<span class="{style}" '
            f'data-countdown-to="{iso}" data-left="{left}" data-overdue="{overdue_by}">'
            f'({text.format(h=hours, m=minutes)})</span>')

    @app.template_filter("chunked")
    def chunked(value: str, size: int = 16) -> str:
        """Long hashes in groups separated by spaces, so lines can break between them."""
        return " ".join(value[i:i + size] for i in range(0, len(value), size))

    @app.template_global()
    def cached(*key, caller, when: bool = True) -> Markup:
        """``{% call cached("name", …) %}…{% endcall %}``: the block rendered once per key
        and language, then taken from the fragment cache (:mod:`arbiter.fragments`).
        The key must name everything the block shows that can differ between requests;
        ``when=False`` renders it afresh (a form with the user's input or errors)."""
        if not when:
            return caller()
        # A list in the key (a page's rows) is keyed by its contents.
        key = tuple(tuple(part) if isinstance(part, list) else part for part in key)
        return fragment(("block", *key, str(get_locale())), caller)

    @app.template_global()
    def bootstrap_css() -> Markup:
        """``bootstrap.load_css()``: the same tag for every page, built once per root."""
        return _bootstrap_tag("css", request.script_root)

    @app.template_global()
    def bootstrap_js() -> Markup:
        """``bootstrap.load_js()``: the same tags for every page, built once per root."""
        return _bootstrap_tag("js", request.script_root)

    @app.context_processor
    def inject_globals():
        from flask_login import current_user

        from accounts.services import page_extra
        from arbiter.documents import documents_for
        from arbiter.notifications import text_for, unread_count

        signed_in = has_request_context() and current_user.is_authenticated
        unread = 0
        if signed_in:
            unread = page_extra(current_user, "unread_notifications")
            if unread is None:
                unread = unread_count(current_user)
        return {
            "unread_notifications": unread,
            "notification_text": text_for,
            "decision_documents": documents_for,
            "current_locale": str(get_locale() or "pl"),
            "payment_method_label": lambda method: PAYMENT_METHOD_LABELS[method],
        }


_NAMED_FORMATS = ("short", "medium", "long", "full")


@lru_cache(maxsize=8)
def _countdown_patterns(language: str) -> tuple[str, str]:
    """The countdown's two sentences in this language, with ``{h}`` and ``{m}`` for the
    hours and minutes (as ``static/countdown.js`` reads them too)."""
    from flask_babel import gettext

    with force_locale(language):
        return (str(escape(gettext("%(h)s h %(m)s min left", h="{h}", m="{m}"))),
                str(escape(gettext("overdue by %(h)s h %(m)s min", h="{h}", m="{m}"))))


@lru_cache(maxsize=64)
def _datetime_format(fmt: str, locale: Locale) -> tuple[str, object, object]:
    """The parts of Babel's named date-time format, parsed once per locale."""
    return (dates.get_datetime_format(fmt, locale=locale).replace("'", ""),
            dates.parse_pattern(dates.get_time_format(fmt, locale=locale)),
            dates.parse_pattern(dates.get_date_format(fmt, locale=locale)))


@lru_cache(maxsize=16)
def _own_pattern(fmt: str, language: str):
    """Our replacement for Babel's named format in this language (English: unambiguous
    day-month order and the 24-hour clock, see :class:`arbiter.i18n.DateFormats`)."""
    pattern = DateFormats.ENGLISH.get(f"datetime.{fmt}") if language == "en" else None
    return dates.parse_pattern(pattern) if pattern else None


@lru_cache(maxsize=8192)
def _formatted_datetime(value: datetime, fmt: str, locale: Locale, zone: tzinfo) -> str:
    """Exactly what ``flask_babel.format_datetime(value, fmt)`` prints (Babel's own
    ``format_datetime``: the time and the date pattern in the locale's combination), without
    parsing the patterns or resolving the locale and time zone again for every value.
    A pure function of its arguments, so results are cached: a thread's timestamps never
    change, and a page shows the same ones to everyone who opens it."""
    local = value.astimezone(zone)
    own = _own_pattern(fmt, locale.language)
    if own is not None:
        return own.apply(local, locale)
    combined, time_pattern, date_pattern = _datetime_format(fmt, locale)
    return (combined.replace("{0}", time_pattern.apply(local, locale))
            .replace("{1}", date_pattern.apply(local, locale)))


@lru_cache(maxsize=4096)
def _formatted_money(minor: int, currency: str, locale: str) -> str:
    """:func:`arbiter.money.format_money`, remembered: Babel's number formatting is slow
    and a page shows the same few amounts again and again."""
    return format_money(minor, currency, locale)


def _template_url_for(app: Flask):
    """``url_for`` for templates, remembering what it built.

    A page builds twenty to forty URLs, most of them the same on every page (the
    navigation, the static files). Building one walks the URL map; the result depends only
    on the endpoint, its values and the request's script root, as long as the app has no
    URL defaults callbacks (it has none; with any registered, every call builds afresh).
    Calls with options (``_external``, ``_anchor``, ...), relative endpoints or values
    that are not plain strings and numbers are not remembered.
    """

    @lru_cache(maxsize=4096)
    def build(script_root: str, endpoint: str, values: tuple) -> str:
        return flask_url_for(endpoint, **dict(values))

    plain_types = (str, int, type(None))
    defaults_registered: list[bool] = []  # known after the first request (setup is over)

    def url_for(endpoint: str, **values) -> str:
        if not defaults_registered:
            defaults_registered.append(any(app.url_default_functions.values()))
        if endpoint[0] == "." or defaults_registered[0] or not has_request_context():
            return flask_url_for(endpoint, **values)
        for key, value in values.items():
            if key[0] == "_" or type(value) not in plain_types:
                return flask_url_for(endpoint, **values)
        return build(request.script_root, endpoint, tuple(values.items()))

    return url_for


@lru_cache(maxsize=16)
def _bootstrap_tag(kind: str, script_root: str) -> Markup:
    bootstrap = current_app.extensions["bootstrap"]
    return bootstrap.load_css() if kind == "css" else bootstrap.load_js()
