"""Decisions are no longer "final": a verdict's and a claim decision's PDF say who may appeal
within how many days (a verdict's: the setting; a claim decision's: the policy version that
judged the claim) and until when; the public rules page says it too."""

import io
from datetime import timedelta

import pytest
from flask_babel import force_locale, format_datetime
from pypdf import PdfReader
from sqlalchemy import update

from arbiter.documents import documents_for
from arbiter.storage import storage
from arbiter.tasks import run_ready_tasks
from claims.models import PolicyVersion
from claims.states import Decision


def _pdf_text(document) -> str:
    reader = PdfReader(io.BytesIO(storage().get(document.storage_key)))
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def _documents(object_type, object_id) -> dict:
    run_ready_tasks()
    return {d.locale: d for d in documents_for(object_type, object_id)}


def _medium(app, when, locale) -> str:
    with app.test_request_context(), force_locale(locale):
        return format_datetime(when, "medium")


@pytest.fixture
def window(app, monkeypatch):
    """An unusual window, so the number on the PDF can only come from the setting."""
    monkeypatch.setitem(app.config, "APPEAL_WINDOW_DAYS", 21)
    return 21


@pytest.fixture
def claim_window(db_session):
    """Another unusual window, in the policy versions: a claim decision's number can only
    come from the version that judged the claim (not from the verdicts' setting)."""
    db_session.execute(update(PolicyVersion).values(appeal_window_days=19))
    db_session.flush()
    return 19


def test_a_verdict_pdf_names_the_appeal_and_its_deadline(app, verdict, buyer, window):
    buyer.locale = "en"
    discussion = verdict()
    documents = _documents("discussions", discussion.id)
    closes = discussion.decided_at + timedelta(days=window)
    steps = documents["en"].data["next_steps"]
    assert "is final" not in steps
    assert (f"Either party may appeal this decision once, within 21 days, until "
            f"{_medium(app, closes, 'en')}.") in steps
    text = _pdf_text(documents["en"])
    assert "Either party may appeal this decision once, within 21 days" in text
    assert "is final" not in text
    polish = _pdf_text(documents["pl"])
    assert "21 dni" in polish and "odwołanie" in polish.lower()


@pytest.mark.parametrize(("decision", "amount", "who"), [
    (Decision.REJECTED, None, "The buyer may appeal"),
    (Decision.PARTIALLY_APPROVED, 5_000, "Either party may appeal"),
    (Decision.APPROVED, None, "The seller may appeal"),
])
def test_a_claim_pdf_says_who_may_appeal_until_when(app, decided_claim, buyer, window,
                                                    claim_window, decision, amount, who):
    buyer.locale = "en"
    claim = decided_claim(decision, amount)
    steps = _documents("claims", claim.id)["en"].data["next_steps"]
    closes = claim.decided_at + timedelta(days=claim_window)
    assert f"{who} this decision once, within 19 days, until {_medium(app, closes, 'en')}" \
        in steps
    assert "file a new claim" not in steps


def test_the_rules_page_states_the_appeal_window(client, app, window, claim_window):
    page = client.get("/protection-rules")
    assert page.status_code == 200
    assert "appeal a verdict of the platform once, within 21 days of the verdict" in page.text
    assert "A decision on a claim may be appealed once, within 19 days of the decision" \
        in page.text
    assert "within 72 hours" in page.text and "decides within 14 days" in page.text
