"""Locale choice: an explicit switch wins, then the account's preference, then the browser."""

from functools import cache

from babel import Locale
from flask import current_app, has_request_context, request, session
from flask_babel import get_locale, get_translations
from flask_login import current_user
from jinja2 import pass_context
from markupsafe import Markup

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


@cache
def _locale(name: str) -> Locale:
    return Locale.parse(name)


def select_babel_locale() -> Locale:
    """:func:`select_locale` as the Babel ``Locale`` Flask-Babel wants, parsed once per
    language instead of on every request."""
    return _locale(select_locale())


def select_locale() -> str:
    if not has_request_context():  # CLI, background tasks: they pass a locale explicitly
        return current_app.config["DEFAULT_LOCALE"]
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    if current_user and current_user.is_authenticated and current_user.locale in LANGUAGES:
        return current_user.locale
    return request.accept_languages.best_match(LANGUAGES) or "pl"


def init_template_translations(app) -> None:
    """Templates translate with the page's catalogue, looked up once per rendering.

    Flask-Babel's Jinja callables find the request's locale and catalogue again for every
    ``_()``, which is most of the cost of a page's chrome (a page has dozens). This context
    processor binds the same newstyle callables (autoescaped, always %-formatted, exactly as
    Jinja's i18n extension makes them) to the catalogue of the locale in force when the
    template is rendered, ``force_locale`` included. Templates rendered without Flask's
    ``render_template`` keep Flask-Babel's callables.
    """

    @app.context_processor
    def _page_translations():
        return _template_callables(get_translations())


# One set per catalogue (a catalogue is loaded once per language and kept by Flask-Babel),
# so a string without variables is translated once per process and language.
_CALLABLES: dict[int, tuple[object, dict]] = {}


def _template_callables(translations) -> dict:
    found = _CALLABLES.get(id(translations))
    if found is not None and found[0] is translations:
        return found[1]
    ugettext, ungettext = translations.ugettext, translations.ungettext
    plain: dict[str, Markup] = {}

    @pass_context
    def gettext(context, string, **variables):
        autoescape = context.eval_ctx.autoescape
        if not variables and autoescape:
            if string not in plain:
                plain[string] = Markup(ugettext(string)) % variables  # noqa: S704
            return plain[string]
        translated = ugettext(string)
        if autoescape:
            translated = Markup(translated)  # noqa: S704 - our catalogue; % escapes values
        return translated % variables

    @pass_context
    def ngettext(context, singular, plural, number, **variables):
        variables.setdefault("num", number)
        translated = ungettext(singular, plural, number)
        if context.eval_ctx.autoescape:
            translated = Markup(translated)  # noqa: S704 - our catalogue; % escapes values
        return translated % variables

    callables = {"gettext": gettext, "_": gettext, "ngettext": ngettext}
    # The catalogue itself is kept with its callables: its id is never reused while cached.
    _CALLABLES[id(translations)] = (translations, callables)
    return callables
