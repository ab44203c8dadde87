"""Locale choice: an explicit switch wins, then the account's preference, then the browser."""

from flask import current_app, has_request_context, request, session
from flask_login import current_user

LANGUAGES = ("pl", "en")


def select_locale() -> str:
    if not has_request_context():  # CLI, background tasks: they pass a locale explicitly
        return current_app.config["DEFAULT_LOCALE"]
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    if current_user and current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    return request.accept_languages.best_match(LANGUAGES) or "pl"
