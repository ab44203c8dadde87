"""Jinja helpers: Warsaw time and Babel money in the reader's locale."""

from datetime import datetime
from decimal import Decimal

from flask import Flask, has_request_context
from flask_babel import (
    format_date,
    format_datetime,
    format_decimal,
    format_timedelta,
    get_locale,
    gettext,
)
from markupsafe import Markup, escape

from arbiter import clock
from arbiter.metrics import format_percent
from arbiter.money import format_money


def register_template_helpers(app: Flask) -> None:
    from accounts.models import User
    from accounts.services import register_page_extra
    from arbiter.notifications import unread_count_of

    # The unread count in the navigation bar comes with the session's user (one query).
    register_page_extra("unread_notifications",
                        lambda: unread_count_of(User.id).scalar_subquery())

    @app.template_filter("money")
    def money_filter(minor: int, currency: str = "PLN") -> str:
        return format_money(minor, currency, str(get_locale() or "pl"))

    @app.template_filter("local_dt")
    def local_datetime(value: datetime | None, fmt: str = "short") -> str:
        """Warsaw time in the reader's language (named formats: arbiter.i18n.DateFormats);
        to the minute unless a page asks for more: seconds only clutter lists."""
        if value is None:
            return ""
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
    def deadline(when: datetime, now: datetime) -> Markup:
        """A deadline in Warsaw time with the time left or overdue, in hours and minutes;
        ``static/countdown.js`` keeps the count running from the ``data-*`` patterns."""
        left, overdue_by = _countdown_patterns()
        overdue, hours, minutes = clock.countdown(when, now)
        iso = escape(when.isoformat())
        shown = escape(format_datetime(clock.ensure_aware(when), "short"))
        style, text = ("deadline-overdue", overdue_by) if overdue else ("text-muted", left)
        # Every deadline says its time zone: people read it from abroad too.
        zone = escape(gettext("Warsaw time"))
        return Markup(  # noqa: S704 - every part is escaped above or in _countdown_patterns
            f'<time datetime="{iso}">{shown}</time> <span class="deadline-zone">{zone}</span>'
            f'\n<span class="{style}" '
            f'data-countdown-to="{iso}" data-left="{left}" data-overdue="{overdue_by}">'
            f'({text.format(h=hours, m=minutes)})</span>')

    @app.template_global()
    def waited(since: datetime, now: datetime) -> str:
        """How long something has waited, in the reader's language: hours up to two days
        ("30 hours"), then days; staff triage by it, so a day is not rounded up from 21 h."""
        return format_timedelta(now - clock.ensure_aware(since), threshold=2,
                                granularity="hour")

    @app.template_filter("chunked")
    def chunked(value: str, size: int = 16) -> str:
        """Long hashes in groups separated by spaces, so lines can break between them."""
        return " ".join(value[i:i + size] for i in range(0, len(value), size))

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
            "upload_rules": _UPLOAD_RULES,
        }


def _upload_rules() -> dict:
    """What static/uploads.js checks before a form is sent (the server checks it again)."""
    from arbiter.files import EXTENSIONS, MAX_FILE_BYTES

    return {"max_bytes": MAX_FILE_BYTES, "extensions": " ".join(EXTENSIONS)}


_UPLOAD_RULES = _upload_rules()


def _countdown_patterns() -> tuple[str, str]:
    """The countdown's two sentences in the page's language, with ``{h}`` and ``{m}`` for
    the hours and minutes (as ``static/countdown.js`` reads them too)."""
    return (str(escape(gettext("%(h)s h %(m)s min left", h="{h}", m="{m}"))),
            str(escape(gettext("overdue by %(h)s h %(m)s min", h="{h}", m="{m}"))))
