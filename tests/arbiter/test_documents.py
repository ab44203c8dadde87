"""Decision documents: content, fonts, locked-down fetching, numbering, verification."""

import io
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from accounts.roles import Role
from arbiter import documents
from arbiter.documents import DecisionDocument, DecisionKind, next_number
from arbiter.extensions import db
from arbiter.pdf import RefusingURLFetcher, render_pdf
from arbiter.storage import storage
from arbiter.tasks import run_ready_tasks
from disputes import services
from disputes.states import Verdict

POLISH = "Zażółć gęślą jaźń: ąćęłńóśźż ĄĆĘŁŃÓŚŹŻ"


def _decide(discussion, staff, rationale=None, verdict=Verdict.PARTIAL, amount=5_000):
    services.take_case(discussion, staff)
    services.decide(discussion, staff, verdict=verdict, amount=amount,
                    rationale=rationale or f"{POLISH}. The photos show the damage clearly.")
    db.session.commit()
    run_ready_tasks()  # what the end of the request does: render after the commit
    return documents.documents_for("discussions", discussion.id)


def _text(document: DecisionDocument) -> str:
    reader = PdfReader(io.BytesIO(storage().get(document.storage_key)))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_a_verdict_yields_a_rendered_pdf_with_its_content(escalated, staff):
    [document] = _decide(escalated, staff)
    assert document.number.startswith(f"ARB/{datetime.now(UTC).year}/")
    assert document.locale == "pl" and document.rendered_at is not None
    pdf = storage().get(document.storage_key)
    assert pdf.startswith(b"%PDF-")
    import hashlib

    assert hashlib.sha256(pdf).hexdigest() == document.sha256
    text = _text(document)
    assert POLISH in text  # DejaVu renders every Polish letter
    assert document.number in text
    assert escalated.buyer.name in text and escalated.seller.name in text
    assert escalated.order.external_id in text
    assert "50,00" in text  # the refund, formatted the Polish way
    assert "Częściowo na korzyść kupującego" in text
    flat = text.replace("\n", "").replace(" ", "")
    assert f"/decisions/{document.number}/verify" in flat
    assert document.fingerprint in flat


def test_an_english_copy_for_a_party_who_reads_english(escalated, staff):
    escalated.buyer.locale = "en"
    db.session.commit()
    polish, english = _decide(escalated, staff)
    assert (polish.locale, english.locale) == ("pl", "en")
    assert polish.number == english.number
    assert "Partly in the buyer's favour" in _text(english)
    assert "What happens next" in _text(english)


def test_user_text_renders_as_text_and_fetches_nothing(escalated, staff, monkeypatch):
    fetchers = []
    original = RefusingURLFetcher.__init__

    def remember(self):
        original(self)
        fetchers.append(self)

    monkeypatch.setattr(RefusingURLFetcher, "__init__", remember)
    hostile = ('<img src="file:///etc/passwd"> <link rel="stylesheet" '
               'href="http://169.254.169.254/latest/meta-data/"> <img src="https://evil.example/x.png">'
               ' and the photos show a crack.')
    [document] = _decide(escalated, staff, rationale=hostile)
    text = _text(document)
    assert 'src="file:///etc/passwd"' in text.replace("\n", " ")
    assert "169.254.169.254" in text
    assert "root:x:0:0" not in text
    assert fetchers and all(fetcher.refused == [] for fetcher in fetchers)


def test_the_fetcher_refuses_every_scheme(app):
    with app.test_request_context():
        fetcher = RefusingURLFetcher()
        pdf = render_pdf("pdf/probe.html", css="decision.css", fetcher=fetcher)
    assert pdf.startswith(b"%PDF-")
    assert set(fetcher.refused) == {"file:///etc/passwd", "http://127.0.0.1:9/a.css",
                                    "https://example.com/b.png"}
    for url in list(fetcher.refused):
        with pytest.raises(ValueError, match="not allowed"):
            fetcher.fetch(url)


def test_numbers_are_sequential_per_warsaw_year_and_gap_free(app, db_session):
    late_2026 = datetime(2026, 12, 31, 22, 59, tzinfo=UTC)  # 23:59 in Warsaw
    new_year = datetime(2026, 12, 31, 23, 0, tzinfo=UTC)  # 00:00 on 1 January in Warsaw
    assert next_number(DecisionKind.VERDICT, late_2026) == "ARB/2026/000001"
    assert next_number(DecisionKind.VERDICT, late_2026) == "ARB/2026/000002"
    assert next_number(DecisionKind.CLAIM, late_2026) == "POK/2026/000001"
    assert next_number(DecisionKind.VERDICT, new_year) == "ARB/2027/000001"
    db.session.commit()
    with db.session.begin_nested():
        assert next_number(DecisionKind.VERDICT, late_2026) == "ARB/2026/000003"
        db.session.rollback()  # the decision failed: its number comes back
    assert next_number(DecisionKind.VERDICT, late_2026) == "ARB/2026/000003"


def test_a_document_is_rendered_once_and_never_again(escalated, staff, monkeypatch):
    [document] = _decide(escalated, staff)
    first = (document.sha256, document.storage_key)
    monkeypatch.setattr("arbiter.pdf.render_template", lambda *a, **k: "<p>changed</p>")
    documents.render(document.id)
    db.session.refresh(document)
    assert (document.sha256, document.storage_key) == first


def test_the_sweeper_renders_documents_a_crashed_worker_left(escalated, staff, time_machine):
    from datetime import timedelta

    from arbiter import clock
    from arbiter.sweeper import run_sweep

    services.take_case(escalated, staff)
    services.decide(escalated, staff, verdict=Verdict.SELLER_FAVOUR, amount=None,
                    rationale="The listing described the scratch; no refund is due.")
    db.session.commit()
    from flask import g

    g.pop("ready_tasks", None)  # the worker died before rendering
    document = db.session.scalar(select(DecisionDocument))
    assert document.rendered_at is None
    time_machine.move_to(clock.now() + timedelta(minutes=3), tick=False)
    assert run_sweep()["documents.render_pending"] == 1
    db.session.refresh(document)
    assert document.sha256 is not None


def test_download_only_for_the_parties_and_staff(client, auth, escalated, staff, create_user):
    [document] = _decide(escalated, staff)
    url = f"/decisions/{document.number}/download"
    stranger = create_user()
    for user, expected in ((escalated.buyer, 200), (escalated.seller, 200), (staff, 200),
                           (stranger, 404)):
        auth.login(user.email)
        response = client.get(url)
        assert response.status_code == expected
        if expected == 200:
            assert response.headers["Content-Disposition"].startswith("attachment;")
            assert response.headers["Content-Type"] == "application/pdf"
            assert response.data == storage().get(document.storage_key)
        auth.logout()
    assert client.get(url).status_code == 302


def test_a_document_not_rendered_yet_sends_back_to_its_case_not_to_the_referer(
        client, auth, escalated, staff):
    services.take_case(escalated, staff)
    services.decide(escalated, staff, verdict=Verdict.SELLER_FAVOUR, amount=None,
                    rationale="The tracking shows the parcel was delivered in time.")
    db.session.commit()  # the rendering task has not run: the PDF is not there yet
    document = db.session.scalars(select(DecisionDocument)).first()
    assert document.rendered_at is None
    auth.login(escalated.buyer.email)
    response = client.get(f"/decisions/{document.number}/download",
                          headers={"Referer": "https://evil.example/phish"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/discussions/{escalated.id}"


def test_the_thread_links_the_document(client, auth, escalated, staff):
    [document] = _decide(escalated, staff)
    auth.login(escalated.buyer.email)
    page = client.get(f"/discussions/{escalated.id}").text
    assert f"/decisions/{document.number}/download?locale=pl" in page


def test_verification_by_file_by_hash_and_refusal(client, escalated, staff):
    [document] = _decide(escalated, staff)
    url = f"/decisions/{document.number}/verify"
    assert client.get(url).status_code == 200
    pdf = storage().get(document.storage_key)
    by_file = client.post(url, data={"file": (io.BytesIO(pdf), "decision.pdf")},
                          content_type="multipart/form-data")
    assert by_file.status_code == 200 and 'data-verified="valid"' in by_file.text
    by_hash = client.post(url, data={"sha256": document.sha256.upper()})
    assert 'data-verified="valid"' in by_hash.text
    grouped = " ".join(document.fingerprint[i:i + 16] for i in range(0, 64, 16))
    by_fingerprint = client.post(url, data={"sha256": grouped})  # as printed on the PDF
    assert 'data-verified="valid"' in by_fingerprint.text
    tampered = client.post(url, data={"file": (io.BytesIO(pdf + b"\n%tampered"), "x.pdf")},
                           content_type="multipart/form-data")
    assert tampered.status_code == 422 and 'data-verified="invalid"' in tampered.text
    wrong_number = client.post("/decisions/ARB/1999/000001/verify",
                               data={"sha256": document.sha256})
    assert 'data-verified="invalid"' in wrong_number.text
    for page in (by_file.text, tampered.text):
        assert escalated.buyer.name not in page and escalated.seller.name not in page


@pytest.mark.postgres_only
def test_concurrent_decisions_get_distinct_gap_free_numbers(committed):
    from concurrent.futures import ThreadPoolExecutor
    from datetime import timedelta

    from accounts import services as accounts
    from arbiter import clock
    from disputes.states import ExpectedOutcome, Reason
    from orders.services import upsert_order
    from orders.states import PaymentMethod

    app = committed
    buyer = accounts.create_user("n-buyer@example.test", "B", "long enough password")
    seller = accounts.create_user("n-seller@example.test", "S", "long enough password")
    advisors = [accounts.create_user(f"n-staff{i}@example.test", f"Staff {i}",
                                     "long enough password", roles=tuple(Role)) for i in range(20)]
    ids = []
    for n in range(20):
        order = upsert_order({
            "external_id": f"NUM-{n}", "buyer_email": buyer.email,
            "seller_email": seller.email, "item_title": "x", "item_price": 1000,
            "shipping_cost": 0, "payment_method": PaymentMethod.BANK_TRANSFER,
            "paid_at": clock.now() - timedelta(days=3)}).order
        discussion = services.open_discussion(order, buyer, reason=Reason.OTHER,
                                              expected_outcome=ExpectedOutcome.REFUND,
                                              description="x")
        db.session.flush()
        discussion.escalation_available_at -= timedelta(hours=25)
        services.escalate(discussion, buyer, "help")
        services.take_case(discussion, advisors[n])
        ids.append(discussion.id)
    db.session.commit()
    advisor_ids = [a.id for a in advisors]

    def decide(index):
        with app.app_context():
            from accounts.models import User
            from disputes.models import Discussion

            staff = db.session.get(User, advisor_ids[index])
            discussion = db.session.get(Discussion, ids[index])
            services.decide(discussion, staff, verdict=Verdict.SELLER_FAVOUR, amount=None,
                            rationale="Concurrent decisions must still number cleanly.")
            db.session.commit()
            db.session.remove()

    with ThreadPoolExecutor(max_workers=20) as pool:
        list(pool.map(decide, range(20)))

    numbers = sorted(db.session.scalars(select(DecisionDocument.number)).all())
    year = clock.to_local(clock.now()).year
    assert numbers == [f"ARB/{year}/{n:06d}" for n in range(1, 21)]


def test_a_decision_document_passes_as_evidence(escalated, staff):
    """A party may attach Arbiter's own decision to an appeal or a claim: it has no link,
    action or form that the evidence check refuses."""
    from arbiter.files import Upload, check_upload, pdf_active_content

    [document] = _decide(escalated, staff)
    pdf = storage().get(document.storage_key)
    assert pdf_active_content(pdf) is None
    assert check_upload(Upload("decision.pdf", pdf)).data == pdf


@pytest.mark.parametrize("pasted", [
    "0123456789ABCDEF 0123456789abcdef 0123456789abcdef 0123456789abcdef",
    "0123456789abcdef\n0123456789abcdef\r\n0123456789abcdef\u00a00123456789abcdef",
    "01:23:45:67:89:ab:cd:ef-0123456789abcdef-0123456789abcdef.0123456789abcdef",
    "  0123 4567 89ab cdef 0123 4567 89ab cdef 0123 4567 89ab cdef 0123 4567 89ab cdef  ",
])
def test_a_pasted_digest_is_read_whatever_its_spacing_case_and_separators(pasted):
    assert documents.normalise_digest(pasted) == "0123456789abcdef" * 4


@pytest.mark.parametrize("pasted", ["", "0123456789abcdef" * 3, "0123456789abcdeg" * 4,
                                    "0123456789abcdef" * 4 + "0"])
def test_anything_else_is_not_a_digest(pasted):
    assert documents.normalise_digest(pasted) is None


def test_the_fingerprint_copied_from_the_rendered_pdf_verifies_in_the_form(client,
                                                                         escalated, staff):
    """#22 item 2: the text a reader selects in the PDF, pasted into the verify field as a
    browser would send it (cut at the field's maxlength, if it has one), is genuine."""
    import re

    [document] = _decide(escalated, staff)
    reader = PdfReader(io.BytesIO(storage().get(document.storage_key)))
    text = "\n".join(page.extract_text() for page in reader.pages)
    label = re.search(r"\(SHA-256[^)]*\):?", text)
    # The four printed groups as a reader selects them, with the spacing and line breaks
    # the PDF's text layer gives them.
    pasted = re.match(r"\s*((?:[0-9a-fA-F]{16}\s*){4})", text[label.end():]).group(1)
    assert len(pasted) > 64

    url = f"/decisions/{document.number}/verify"
    field = re.search(r'<input[^>]*id="sha256"[^>]*>', client.get(url).text).group(0)
    maxlength = re.search(r'maxlength="(\d+)"', field)
    sent = pasted[:int(maxlength.group(1))] if maxlength else pasted
    answer = client.post(url, data={"sha256": sent})
    assert answer.status_code == 200 and 'data-verified="valid"' in answer.text
