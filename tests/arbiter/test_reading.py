"""Numbers, dates and messages in the reader's language (#22 item 18)."""

from datetime import UTC, datetime, timedelta

import pytest
from flask import render_template_string
from flask_babel import force_locale
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import TextAreaField

from arbiter.errors import ValidationFailed
from arbiter.validation import TextLength, checked_text

NBSP = ("\u00a0", "\u202f")


def _plain(text: str) -> str:
    for space in NBSP:
        text = text.replace(space, " ")
    return text


def _render(app, lang: str, source: str, **context) -> str:
    with app.test_request_context(), force_locale(lang):
        return _plain(render_template_string(source, **context))


@pytest.mark.parametrize(("lang", "shown"), [("pl", "75,0 KB"), ("en", "75.0 KB")])
def test_sizes_in_the_readers_notation(app, lang, shown):
    assert _render(app, lang, "{{ 76800|filesize }}") == shown


@pytest.mark.parametrize("lang", ["pl", "en"])
def test_dates_in_lists_have_no_seconds(app, lang):
    moment = datetime(2026, 7, 2, 7, 5, 42, tzinfo=UTC)
    shown = _render(app, lang, "{{ when|local_dt }}", when=moment)
    assert "09:05" in shown and "42" not in shown


@pytest.mark.parametrize(("lang", "zone"), [("pl", "czasu warszawskiego"),
                                            ("en", "Warsaw time")])
def test_deadlines_say_warsaw_time(app, lang, zone):
    now = datetime(2026, 7, 2, 7, 0, tzinfo=UTC)
    shown = _render(app, lang, "{{ deadline(due, now) }}", due=now + timedelta(hours=5),
                    now=now)
    assert f'<span class="deadline-zone">{zone}</span>' in shown


class _RationaleForm(FlaskForm):
    rationale = TextAreaField("Rationale", validators=[TextLength(min=30, max=20_000)])


@pytest.mark.parametrize(("text", "polish", "english"), [
    ("Za krótko.", "Wpisz co najmniej 30 znaków; ten tekst ma 10.",
     "Write at least 30 characters; this text has 10."),
    ("x" * 20_001, "Wpisz najwyżej 20 000 znaków; ten tekst ma 20 001.",
     "Write at most 20,000 characters; this text has 20,001."),
])
def test_the_rationale_length_message_reads_naturally(app, text, polish, english):
    for lang, expected in (("pl", polish), ("en", english)):
        with app.test_request_context(method="POST"), force_locale(lang):
            form = _RationaleForm(formdata=MultiDict({"rationale": text}), meta={"csrf": False})
            assert not form.validate()
            assert [_plain(str(e)) for e in form.rationale.errors] == [expected]
            with pytest.raises(ValidationFailed) as refused:
                checked_text(text, "rationale", minimum=30, maximum=20_000)
            assert _plain(refused.value.message) == expected


def test_every_page_links_the_favicon(client):
    page = client.get("/login").text
    assert '<link rel="icon" type="image/svg+xml" href="/static/favicon.svg">' in page
    icon = client.get("/static/favicon.svg")
    try:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
        assert icon.data.startswith(b"<svg")
    finally:
        icon.close()


def test_the_data_export_size_is_in_the_readers_notation(client, auth, buyer):
    from sqlalchemy import select

    from accounts.models import DataExport
    from arbiter.extensions import db

    buyer.locale = "pl"
    db.session.commit()
    auth.login(buyer.email)
    assert client.post("/account/data-export").status_code == 302
    export = db.session.scalars(select(DataExport).order_by(DataExport.id.desc())).first()
    db.session.refresh(export)
    kilobytes = f"{export.size / 1024:.1f}".replace(".", ",")
    assert f"({kilobytes}\u00a0KB · " in client.get("/account").text
