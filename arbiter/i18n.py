"""Locale choice: an explicit switch wins, then the account's preference, then the browser."""

from flask import current_app, has_request_context, request, session
from flask_babel import get_locale
from flask_login import current_user

LANGUAGES = ("pl", "en")


class DateFormats(dict):
    """Flask-Babel's named date formats, chosen by the language being written.

    Polish keeps Babel's own ("22.11.2026, 13:32"). Babel's English is American: month
    first and a 12-hour clock ("7/2/26, 9:00 AM"), which most people on a Polish platform
    read as 7 February, and a deadline must never be ambiguous. English pages say
    "2 Jul 2026, 09:00" instead: the month spelled out, the 24-hour clock.
    """

    ENGLISH = {
        "datetime.short": "d MMM yyyy, HH:mm",
        "datetime.medium": "d MMM yyyy, HH:mm:ss",
        "date.short": "d MMM yyyy",
        "date.medium": "d MMM yyyy",
        "time.short": "HH:mm",
        "time.medium": "HH:mm:ss",
    }

    def __getitem__(self, key: str):
        if key in self.ENGLISH:
            locale = get_locale()
            if locale is not None and locale.language == "en":
                return self.ENGLISH[key]
        return super().__getitem__(key)


def select_locale() -> str:
    if not has_request_context():  # CLI, background tasks: they pass a locale explicitly
        return current_app.config["DEFAULT_LOCALE"]
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    if current_user and current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    return (request.accept_languages.best_match(LANGUAGES)
            or current_app.config["DEFAULT_LOCALE"])
