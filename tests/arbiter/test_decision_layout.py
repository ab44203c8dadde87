"""The decision document as a reader holds it (#22 item 17): the operator's letterhead on
every page, "page x of y", the verification box never alone on a page, and evidence file
names exactly as uploaded in the text layer. Every check reads a real rendered PDF."""

import io

import pytest
from pypdf import PdfReader

from arbiter import documents
from arbiter.extensions import db
from arbiter.files import Upload
from arbiter.storage import storage
from arbiter.tasks import run_ready_tasks
from disputes import services
from disputes.states import Verdict
from tests.files import PNG

LONG_NAME = "potwierdzenie_nadania_przesyłki_kurierskiej_nr_2026-000123_skan.png"
SOFT_HYPHENATED = "zdjęcie\u00adpaczki\u00aduszkodzonej\u00adprzez\u00adkuriera.png"


def _decide(discussion, staff, *, rationale: str, names=("paczka.png",)):
    services.post_message(discussion, discussion.buyer, "Zdjęcia w załączniku.",
                          uploads=[Upload(name, PNG) for name in names])
    db.session.commit()
    services.take_case(discussion, staff)
    services.decide(discussion, staff, verdict=Verdict.PARTIAL, amount=5_000,
                    rationale=rationale)
    db.session.commit()
    run_ready_tasks()
    return documents.documents_for("discussions", discussion.id)


def _pages(document) -> list[str]:
    reader = PdfReader(io.BytesIO(storage().get(document.storage_key)))
    return [page.extract_text() for page in reader.pages]


def test_every_page_has_the_letterhead_and_page_x_of_y(escalated, staff, app, monkeypatch):
    escalated.buyer.locale = "en"
    for key, value in {"OPERATOR_LEGAL_NAME": "Rozjemca S.A.",
                       "OPERATOR_ADDRESS": "ul. Prosta 5, 00-850 Warszawa",
                       "OPERATOR_KRS": "0000123456", "OPERATOR_NIP": "525-000-11-22",
                       "OPERATOR_REGON": "140000000"}.items():
        monkeypatch.setitem(app.config, key, value)
    polish, english = _decide(escalated, staff,
                              rationale="Zdjęcia pokazują pęknięty klosz. " * 150)
    for document, page_of in ((polish, "Strona {} z {}"), (english, "Page {} of {}")):
        pages = _pages(document)
        assert len(pages) >= 2
        for number, text in enumerate(pages, start=1):
            assert "Rozjemca S.A." in text and "ul. Prosta 5, 00-850 Warszawa" in text
            assert "KRS 0000123456 · NIP 525-000-11-22 · REGON 140000000" in text
            assert page_of.format(number, len(pages)) in text


def test_the_demo_letterhead_says_it_is_fictitious(escalated, staff):
    [document] = _decide(escalated, staff, rationale="Zdjęcia pokazują pęknięty klosz.")
    first = _pages(document)[0]
    assert "Arbiter Demo sp. z o.o. (fictitious operator)" in first
    assert "Strona 1 z " in first


@pytest.mark.parametrize("filler", range(0, 44, 4))
def test_the_verification_box_never_stands_alone_on_a_page(escalated, staff, filler):
    """Rationales of growing length move the end of the document across the page break;
    wherever it falls, the last page holds more than the verification box."""
    rationale = "Zdjęcia pokazują pęknięty klosz i uszkodzony karton. " * (20 + filler * 5)
    [document] = _decide(escalated, staff, rationale=rationale)
    last = _pages(document)[-1]
    assert "Weryfikacja:" in last
    assert "Co dalej" in last  # the section before the box comes along with it


def test_file_names_are_in_the_text_layer_as_uploaded(escalated, staff):
    [document] = _decide(escalated, staff, rationale="Zdjęcia pokazują pęknięty klosz.",
                         names=(LONG_NAME, SOFT_HYPHENATED, "paczka.png"))
    text = "".join(_pages(document))
    assert "\ufffe" not in text and "\u00ad" not in text and "\u2010" not in text
    joined = text.replace("\n", "")
    assert LONG_NAME in joined
    assert SOFT_HYPHENATED.replace("\u00ad", "") in joined or SOFT_HYPHENATED in joined
    assert "paczka.png" in text
