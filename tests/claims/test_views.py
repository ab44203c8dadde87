"""The public page "Buyer protection rules", in Polish and English."""

from datetime import UTC, datetime

from arbiter.extensions import db
from claims.models import PolicyVersion
from tests.claims import PLAIN_VERSION


def _text(response) -> str:
    return response.text.replace("\xa0", " ")


def test_the_rules_are_public_and_polish_by_default(app, db_session, seller_answer_hours):
    seller_answer_hours(48)  # 2017-08's (the tests' databases give sellers none)
    response = app.test_client().get("/protection-rules")
    assert response.status_code == 200
    page = _text(response)
    assert "Zasady ochrony kupujących" in page
    assert "Wersja 2017-08" in page
    assert "Dotyczy zamówień opłaconych od 1 sierpnia 2017." in page  # 22:00 UTC the day before
    assert "Płatności platformy, Przelew bankowy." in page
    assert "Koszt wysyłki do 100,00 zł, jeśli zamówienie opłacono w formie: Płatności " \
           "platformy." in page
    assert "10 000,00 zł łącznie za przedmiot i wysyłkę." in page
    assert "W ciągu 90 dni od zapłaty." in page
    assert ("Przedmiot nie dotarł: potwierdzenie zawiadomienia na policję (numer i dokument)."
            in page)
    assert "Sprzedający może odpowiedzieć na wniosek w ciągu 48 godzin od jego złożenia" in page
    assert "jeden raz, w ciągu 30 dni od decyzji." in page


def test_the_rules_in_english(client, seller_answer_hours):
    seller_answer_hours(48)
    page = _text(client.get("/protection-rules"))
    assert "Buyer protection rules" in page
    assert "For orders paid from August 1, 2017." in page
    assert "Platform payments, Bank transfer." in page
    assert "The shipping cost up to PLN 100.00, for orders paid with: Platform payments." in page
    assert "PLN 10,000.00 in total, item and shipping together." in page
    assert "Within 90 days of payment." in page
    assert ("Item not received: police acknowledgement (reference number and document)."
            in page)
    assert "The seller may answer a claim within 48 hours of its filing" in page
    assert "A decision on a claim may be appealed once, within 30 days of the decision." in page


def test_newer_versions_come_first_and_say_what_they_replaced(client):
    db.session.add(PolicyVersion(
        code="2018-05", effective_from=datetime(2018, 4, 30, 22, 0, tzinfo=UTC),
        covered_payment_methods=["platform_payments"], shipping_covered_for=[],
        shipping_cap_minor=0, total_cap_minor=500_000, filing_window_days=1,
        **PLAIN_VERSION,
    ))
    db.session.commit()
    page = _text(client.get("/protection-rules"))
    assert page.index("Version 2018-05") < page.index("Version 2017-08")
    assert "Replaced by version 2018-05 for orders paid from May 1, 2018." in page
    assert "Within 1 day of payment." in page
    assert "Shipping costs are not reimbursed." in page
    assert "No documents are required when filing a claim." in page


def test_every_page_links_to_the_rules(client):
    assert 'href="/protection-rules"' in client.get("/").text
