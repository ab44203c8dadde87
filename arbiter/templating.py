"""Jinja helpers: Warsaw time and Babel money in the reader's locale."""

from datetime import datetime
from decimal import Decimal

from flask import Flask, has_request_context
from flask_babel import format_date, format_datetime, format_decimal, get_locale

from arbiter import clock
from arbiter.money import format_money
from orders.states import PAYMENT_METHOD_LABELS


def register_template_helpers(app: Flask) -> None:
    @app.template_filter("money")
    def money_filter(minor: int, currency: str = "PLN") -> str:
        return format_money(minor, currency, str(get_locale() or "pl"))

    @app.template_filter("local_dt")
    def local_datetime(value: datetime | None, fmt: str = "medium") -> str:
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

    @app.template_filter("percent")
    def percent(value, places: int = 1) -> str:
        """A share in the reader's notation: "50,0 %" in Polish, "50.0 %" in English."""
        if value is None:
            return "—"
        return format_decimal(value, format="#,##0." + "0" * places) + "\u00a0%"

    @app.template_filter("chunked")
    def chunked(value: str, size: int = 16) -> str:
        """Long hashes in groups separated by spaces, so lines can break between them."""
        return " ".join(value[i:i + size] for i in range(0, len(value), size))

    @app.context_processor
    def inject_globals():
        from flask_login import current_user

        from arbiter.documents import documents_for
        from arbiter.notifications import text_for, unread_count

        signed_in = has_request_context() and current_user.is_authenticated
        unread = unread_count(current_user) if signed_in else 0
        return {
            "unread_notifications": unread,
            "notification_text": text_for,
            "decision_documents": documents_for,
            "current_locale": str(get_locale() or "pl"),
            "payment_method_label": lambda method: PAYMENT_METHOD_LABELS[method],
        }
