"""Every user-facing string has a current Polish translation."""

from pathlib import Path

import pytest
from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ["accounts", "arbiter", "orders", "disputes", "claims", "settlements", "appeals",
           "incidents", "integrations", "dashboards", "signals", "templates"]


def _translated(message) -> bool:
    """A plural entry's string is a tuple, truthy even when every form is empty."""
    if isinstance(message.string, tuple | list):
        return all(message.string)
    return bool(message.string)


def test_polish_catalogue_is_complete_and_current(tmp_path):
    pot = tmp_path / "messages.pot"
    CommandLineInterface().run([
        "pybabel", "extract", "-F", str(ROOT / "babel.cfg"), "-k", "_l", "-k", "lazy_gettext",
        "--no-location", "-o", str(pot), *[str(ROOT / s) for s in SOURCES],
    ])
    with pot.open("rb") as handle:
        extracted = {m.id for m in read_po(handle) if m.id}
    with (ROOT / "arbiter/translations/pl/LC_MESSAGES/messages.po").open("rb") as handle:
        catalogue = read_po(handle)
    translated = {m.id for m in catalogue if m.id and _translated(m) and not m.fuzzy}
    missing = sorted(map(str, extracted - translated))
    assert not missing, f"untranslated or fuzzy in Polish (run `make messages`): {missing}"
    stale = sorted(str(m.id) for m in catalogue if m.id and m.id not in extracted)
    assert not stale, f"Polish entries for strings that no longer exist: {stale}"


@pytest.mark.parametrize("default", ["pl", "en"])
def test_the_configured_default_language_serves_browsers_that_state_none(fresh_app, default):
    app = fresh_app(DEFAULT_LOCALE=default)
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
    page = app.test_client().get("/").text
    assert f'<html lang="{default}">' in page
