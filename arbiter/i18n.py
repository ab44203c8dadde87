"""Locale choice: an explicit switch wins, then the account's preference, then the browser."""

from flask import request, session
from flask_login import current_user

LANGUAGES = ("pl", "en")


def select_locale() -> str:
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    if current_user and current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    return request.accept_languages.best_match(LANGUAGES) or "pl"
