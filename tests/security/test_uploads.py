"""Uploads that tests/disputes/test_views.py does not already refuse: polyglots, PDFs with
scripts, actions, forms or embedded files, image bombs, files the parsers cannot read.
Each is refused with a clear message, and no discussion, claim or file is stored.
(Renamed executables, HTML, SVG, oversize files and path traversal are covered there.)

Every hostile file is generated here. PDF names are spelt with ``#xx`` escapes
(``/J#61vaScript`` is ``/JavaScript``) or hidden in compressed object streams, as an
attacker would, so that no byte-level search for names can find them.
"""

import io
import os
import struct

import pytest
from flask import Flask
from flask_babel import Babel
from pypdf import PdfWriter
from sqlalchemy import func, select

from arbiter import files
from arbiter.errors import ValidationFailed
from arbiter.extensions import db
from arbiter.files import Upload, check_upload, image_size, pdf_active_content
from claims.models import Claim
from disputes.models import Discussion
from tests.claims.helpers import IBAN
from tests.files import (
    blank_pdf,
    jpeg,
    pdf_with_object_stream,
    photo,
    png,
    png_chunk,
    raw_pdf,
    stream,
)


def _encrypted_pdf() -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    writer.encrypt("secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _link(action: bytes) -> bytes:
    """A page entry: one link annotation that runs ``action`` when clicked."""
    return b"/Annots [<< /Type /Annot /Subtype /Link /Rect [0 0 99 99] /A %s >>]" % action


ESCAPED_JAVASCRIPT = b"<< /S /J#61vaScript /J#53 (app.alert(1)) >>"
# --- the old checks' hostile files (kept) ---------------------------------------------------
POLYGLOT = b"%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>\n"
PNG_POLYGLOT = png(10, 10) + b"<script>alert(1)</script>"
PDF_JAVASCRIPT = raw_pdf(b"<< /S /JavaScript /JS (app.alert(1)) >>", catalog=b"/OpenAction 4 0 R")
PDF_EMBEDDED = raw_pdf(stream(b"MZ", b"/Type /EmbeddedFile"), catalog=(
    b"/Names << /EmbeddedFiles << /Names [(a.exe) << /Type /Filespec /F (a.exe) "
    b"/EF << /F 4 0 R >> >>] >> >>"))
PDF_LAUNCH = raw_pdf(page=_link(b"<< /S /Launch /F (cmd.exe) >>"))
# --- what the old checks accepted (issue 25, item 8) ----------------------------------------
PDF_ESCAPED_OPEN_ACTION = raw_pdf(catalog=b"/Open#41ction " + ESCAPED_JAVASCRIPT)
PDF_HIDDEN_IN_OBJECT_STREAM = pdf_with_object_stream(
    b"/OpenAction 4 0 R", b"<< /S /JavaScript /JS (app.alert(1)) >>")
PDF_URI = raw_pdf(page=_link(b"<< /S /URI /URI (https://evil.example/) >>"))
PDF_SUBMIT_FORM = raw_pdf(page=_link(b"<< /S /SubmitForm /F << /FS /URL "
                                     b"/F (https://evil.example/) >> >>"))
PDF_ESCAPED_LAUNCH = raw_pdf(b"<< /S /L#61unch /F (cmd.exe) >>", catalog=b"/Open#41ction 4 0 R")
PDF_XFA = raw_pdf(stream(b'<xdp:xdp xmlns:xdp="http://ns.adobe.com/xdp/"></xdp:xdp>'),
                  catalog=b"/AcroForm << /Fields [] /XFA 4 0 R >>")
PDF_TEXT_FIELD = raw_pdf(b"<< /FT /Tx /T (name) /Type /Annot /Subtype /Widget /Rect [0 0 99 20] "
                         b"/P 3 0 R >>", catalog=b"/AcroForm << /Fields [4 0 R] >>",
                         page=b"/Annots [4 0 R]")
PDF_FILE_ATTACHMENT = raw_pdf(stream(b"MZ", b"/Type /Embedded#46ile"), page=(
    b"/Annots [<< /Type /Annot /Subtype /FileAttachment /Rect [0 0 9 9] /FS << /Type /Filespec "
    b"/F (a.exe) /E#46 << /F 4 0 R >> >> >>]"))
PDF_PAGE_OPEN_ACTION = raw_pdf(page=b"/AA << /O " + ESCAPED_JAVASCRIPT + b" >>")
PDF_AFTER_EOF = raw_pdf(after_eof=b"9 0 obj\n" + ESCAPED_JAVASCRIPT + b"\nendobj\n")
PDF_HTML = raw_pdf(stream(b'%<meta http-equiv="refresh" content="0;url=javascript:alert(1)">'),
                   page=b"/Contents 4 0 R")
PNG_HTML_IN_TEXT = png(10, 10, extra_chunks=png_chunk(
    b"tEXt", b"Comment\x00<body onload=alert(document.cookie)>"))
COMMENT = b"<img src=x onerror=alert(1)>"
JPEG_HTML_IN_COMMENT = (b"\xff\xd8\xff\xfe" + struct.pack(">H", 2 + len(COMMENT)) + COMMENT
                        + photo("JPEG")[2:])
JPEG_BOMB_BEHIND_JUNK = jpeg(65_535, 65_535, junk=b"\x00")  # decoders skip the junk byte

PDF_ACTIVE = "links, forms, scripts or embedded files"
MARKUP = "scripts, embedded files or web page code"
PIXELS = "at most 50 megapixels"
REFUSED = [
    pytest.param("report.pdf", POLYGLOT, MARKUP, id="pdf-html-polyglot"),
    pytest.param("photo.png", PNG_POLYGLOT, MARKUP, id="png-script-polyglot"),
    pytest.param("invoice.pdf", PDF_JAVASCRIPT, PDF_ACTIVE, id="pdf-javascript"),
    pytest.param("invoice.pdf", PDF_EMBEDDED, PDF_ACTIVE, id="pdf-embedded-file"),
    pytest.param("invoice.pdf", PDF_LAUNCH, PDF_ACTIVE, id="pdf-launch"),
    pytest.param("invoice.pdf", PDF_ESCAPED_OPEN_ACTION, PDF_ACTIVE,
                 id="pdf-escaped-javascript-open-action"),
    pytest.param("invoice.pdf", PDF_HIDDEN_IN_OBJECT_STREAM, PDF_ACTIVE,
                 id="pdf-javascript-in-object-stream"),
    pytest.param("photo.png", PNG_HTML_IN_TEXT, MARKUP, id="png-html-in-text-chunk"),
    pytest.param("bomb.png", png(100_000, 100_000), PIXELS, id="png-bomb"),
    pytest.param("bomb.jpg", jpeg(65_535, 65_535), PIXELS, id="jpeg-bomb"),
    pytest.param("bomb.jpg", JPEG_BOMB_BEHIND_JUNK, PIXELS, id="jpeg-bomb-behind-junk"),
]


def _stored_files(app) -> int:
    return sum(len(files) for _, _, files in os.walk(app.config["STORAGE_DIR"]))


def _count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(("name", "data", "message"), REFUSED)
def test_a_dangerous_file_is_refused_when_reporting_a_problem(app, auth, client, buyer,
                                                              create_order, name, data,
                                                              message):
    order = create_order(buyer=buyer)
    auth.login(buyer.email)
    before = _stored_files(app)
    response = client.post(f"/orders/{order.id}/report", content_type="multipart/form-data",
                           data={"reason": "damaged", "expected_outcome": "refund",
                                 "description": "The glass was shattered.",
                                 "files": [(io.BytesIO(data), name)]})
    assert response.status_code == 422
    assert message in response.text
    assert _count(Discussion) == 0
    assert _stored_files(app) == before


@pytest.mark.parametrize(("name", "data", "message"), REFUSED)
def test_a_dangerous_file_is_refused_with_a_claim(app, auth, client, buyer, ready_order,
                                                  name, data, message):
    order = ready_order()
    auth.login(buyer.email)
    before = _stored_files(app)
    response = client.post(f"/orders/{order.id}/claim", content_type="multipart/form-data",
                           data={"claim_type": "not_as_described",
                                 "description": "A different model.", "payout_account": IBAN,
                                 "documents": [(io.BytesIO(data), name)]})
    assert response.status_code == 422
    assert message in response.text
    assert _count(Claim) == 0
    assert _stored_files(app) == before


# --- the checks themselves, without a database ----------------------------------------------


@pytest.fixture(scope="module")
def plain_app():
    """Only what the checks need: Flask-Babel for the messages (in English)."""
    app = Flask(__name__)
    Babel(app)
    with app.test_request_context():
        yield app


def _refusal(name: str, data: bytes) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as refused:
        check_upload(Upload(name, data))
    return refused.value


@pytest.mark.parametrize(("name", "data", "code"), [
    pytest.param("a.pdf", PDF_ESCAPED_OPEN_ACTION, "file_active_content",
                 id="open-action-javascript-with-escaped-names"),
    pytest.param("a.pdf", PDF_HIDDEN_IN_OBJECT_STREAM, "file_active_content",
                 id="javascript-in-a-compressed-object-stream"),
    pytest.param("a.pdf", PDF_URI, "file_active_content", id="uri-link"),
    pytest.param("a.pdf", PDF_SUBMIT_FORM, "file_active_content", id="submit-form"),
    pytest.param("a.pdf", PDF_ESCAPED_LAUNCH, "file_active_content", id="launch-escaped"),
    pytest.param("a.pdf", PDF_XFA, "file_active_content", id="xfa-form"),
    pytest.param("a.pdf", PDF_TEXT_FIELD, "file_active_content", id="text-form-field"),
    pytest.param("a.pdf", PDF_FILE_ATTACHMENT, "file_active_content", id="file-attachment"),
    pytest.param("a.pdf", PDF_PAGE_OPEN_ACTION, "file_active_content", id="page-open-action"),
    pytest.param("a.pdf", PDF_AFTER_EOF, "file_active_content",
                 id="javascript-in-an-object-the-table-does-not-list"),
    pytest.param("a.pdf", PDF_HTML, "file_active_content", id="html-meta-refresh-in-pdf"),
    pytest.param("a.pdf", raw_pdf(page=_link(b"<< /S /GoTo /D [3 0 R /Fit] /S /L#61unch "
                                             b"/F (cmd.exe) >>")),
                 "file_unreadable", id="action-behind-a-duplicate-key"),
    pytest.param("a.pdf", _encrypted_pdf(), "file_encrypted", id="encrypted"),
    pytest.param("a.pdf", b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\n%%EOF\n", "file_unreadable",
                 id="no-cross-reference-table"),
    pytest.param("a.pdf", raw_pdf().replace(b"startxref\n", b"startxref\n1"), "file_unreadable",
                 id="damaged-cross-reference-table"),
    pytest.param("a.pdf", pdf_with_object_stream(b"", *[b"[" + b"0 " * 99_000 + b"]"] * 10),
                 "file_unreadable", id="object-stream-bomb"),
    pytest.param("a.png", PNG_HTML_IN_TEXT, "file_active_content", id="html-in-png-text-chunk"),
    pytest.param("a.jpg", JPEG_HTML_IN_COMMENT, "file_active_content",
                 id="html-in-jpeg-comment"),
    pytest.param("a.jpg", JPEG_BOMB_BEHIND_JUNK, "image_too_large", id="jpeg-bomb-behind-junk"),
    pytest.param("a.jpg", jpeg(65_535, 65_535)[:27], "file_unreadable",
                 id="jpeg-cut-off-in-its-frame-header"),
    pytest.param("a.jpg", jpeg(640, 0), "file_unreadable", id="jpeg-without-height"),
    pytest.param("a.png", photo("PNG")[:-20], "file_unreadable", id="png-cut-off"),
])
def test_what_the_old_checks_let_through_is_refused(plain_app, name, data, code):
    assert _refusal(name, data).code == code


@pytest.mark.parametrize(("data", "found"), [
    (PDF_ESCAPED_OPEN_ACTION, "/OpenAction in object 1 0"),
    (raw_pdf(ESCAPED_JAVASCRIPT), "/JavaScript action in object 4 0"),
    (raw_pdf(b"<< /J#53 (app.alert(1)) >>"), "/JS in object 4 0"),
    (PDF_HIDDEN_IN_OBJECT_STREAM, "/OpenAction in object 1 0"),
    (pdf_with_object_stream(b"", b"<< /S /URI /URI (https://evil.example/) >>"),
     "/URI action in object 4 0"),
    (raw_pdf(b"<< /S /L#61unch /F (cmd.exe) >>"), "/Launch action in object 4 0"),
    (PDF_AFTER_EOF, "/JavaScript action in unlisted object 9 0"),
    (PDF_TEXT_FIELD, "/Tx form field in object 4 0"),
    (PDF_FILE_ATTACHMENT, "/FileAttachment in object 3 0"),
])
def test_the_walk_names_what_it_found(data, found):
    assert pdf_active_content(data) == found


@pytest.mark.parametrize(("name", "data"), [
    pytest.param("photo.png", png(8000, 6000), id="png-48-megapixels"),
    pytest.param("photo.jpg", jpeg(4032, 3024), id="jpeg-phone-photo"),
    pytest.param("photo.png", photo("PNG"), id="png-pillow-wrote"),
    pytest.param("photo.jpeg", photo("JPEG"), id="jpeg-pillow-wrote"),
    pytest.param("receipt.pdf", blank_pdf(), id="pdf-pypdf-wrote"),
    pytest.param("receipt.pdf", raw_pdf(catalog=b"/JSON 1"), id="pdf-name-starting-with-JS"),
    pytest.param("receipt.pdf", pdf_with_object_stream(b"/PageMode /UseNone"),
                 id="pdf-with-an-object-stream"),
    pytest.param("receipt.pdf", raw_pdf(catalog=b"/OpenAction [3 0 R /Fit]",
                                        page=_link(b"<< /S /GoTo /D [3 0 R /Fit] >>")),
                 id="pdf-jumping-to-its-own-page"),
    pytest.param("signed.pdf", raw_pdf(
        b"<< /FT /Sig /T (Signature1) /Type /Annot /Subtype /Widget /Rect [0 0 0 0] /P 3 0 R >>",
        catalog=b"/AcroForm << /Fields [4 0 R] /SigFlags 3 >>", page=b"/Annots [4 0 R]"),
        id="pdf-with-a-signature-field"),
])
def test_ordinary_evidence_still_passes(plain_app, name, data):
    assert check_upload(Upload(name, data)).data == data


def test_a_pdf_weasyprint_renders_passes(plain_app):
    from weasyprint import HTML

    data = HTML(string="<h1>Faktura 7/2026</h1><p>Zażółć <a href='#total'>gęślą</a> jaźń.</p>"
                       "<p id='total'>Razem: 120,00 zł</p>").write_pdf()
    assert check_upload(Upload("invoice.pdf", data)).data == data


@pytest.mark.parametrize(("width", "height"), [
    pytest.param(7_100, 7_100, id="50.4-megapixels-below-pillows-limit"),
    pytest.param(10_000, 10_000, id="100-megapixels-pillows-warning"),
    pytest.param(20_000, 20_000, id="400-megapixels-pillows-error"),
])
def test_the_pixel_limit_holds_below_and_above_pillows_own(plain_app, width, height):
    assert _refusal("big.jpg", jpeg(width, height)).code == "image_too_large"
    assert _refusal("big.png", png(width, height)).code == "image_too_large"


def test_image_sizes_are_read_by_pillow():
    assert image_size("image/png", png(100_000, 3)) == (100_000, 3)
    assert image_size("image/jpeg", jpeg(640, 480)) == (640, 480)
    assert image_size("image/jpeg", jpeg(640, 480, junk=b"\x00\x00")) == (640, 480)
    for content_type, data in [("image/jpeg", b"\xff\xd8\xff\xd9"),
                               ("image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)]:
        with pytest.raises(files.UnreadableFile):
            image_size(content_type, data)


@pytest.mark.parametrize(("limit", "value"), [
    ("PDF_MAX_OBJECTS", 2),
    ("PDF_MAX_VALUES", 5),
    ("PDF_MAX_STREAM_TOKENS", 5),
    ("PDF_MAX_SECONDS", -1),
])
def test_the_work_a_pdf_may_cause_is_bounded(monkeypatch, limit, value):
    ordinary = pdf_with_object_stream(b"/PageMode /UseNone", b"<< /Producer (scanner) >>")
    assert pdf_active_content(ordinary) is None
    monkeypatch.setattr(files, limit, value)
    with pytest.raises(files.UnreadableFile, match="more than"):
        pdf_active_content(ordinary)


def test_the_refusal_is_translated(app, client, auth, buyer, create_order):
    order = create_order(buyer=buyer)
    auth.login(buyer.email)
    response = client.post(f"/orders/{order.id}/report", content_type="multipart/form-data",
                           headers={"Accept-Language": "pl"},
                           data={"reason": "damaged", "expected_outcome": "refund",
                                 "description": "Stłuczone szkło.",
                                 "files": [(io.BytesIO(png(100_000, 100_000)), "bomb.png")]})
    assert response.status_code == 422
    assert "50 megapikseli" in response.text


@pytest.mark.parametrize(("name", "data", "polish"), [
    ("faktura.pdf", PDF_URI, "zawiera linki, formularze, skrypty lub osadzone pliki"),
    ("faktura.pdf", _encrypted_pdf(), "jest chroniony hasłem"),
    ("faktura.pdf", b"%PDF-1.4\nnothing", "Nie udało się odczytać pliku faktura.pdf jako"),
])
def test_the_new_refusals_are_translated(app, client, auth, buyer, create_order, name, data,
                                         polish):
    order = create_order(buyer=buyer)
    auth.login(buyer.email)
    response = client.post(f"/orders/{order.id}/report", content_type="multipart/form-data",
                           headers={"Accept-Language": "pl"},
                           data={"reason": "damaged", "expected_outcome": "refund",
                                 "description": "Stłuczone szkło.",
                                 "files": [(io.BytesIO(data), name)]})
    assert response.status_code == 422
    assert polish in response.text
