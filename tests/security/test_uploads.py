"""Uploads that tests/disputes/test_views.py does not already refuse: polyglots, PDFs with
scripts or embedded files, image bombs. Each is refused with a clear message, and no
discussion, claim or file is stored. (Renamed executables, HTML, SVG, oversize files and
path traversal are covered there.)"""

import io
import os
import struct
import zlib

import pytest
from sqlalchemy import func, select

from arbiter.extensions import db
from arbiter.files import Upload, check_upload, image_size
from claims.models import Claim
from disputes.models import Discussion
from tests.claims.helpers import IBAN


def png(width: int, height: int) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr
    return b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))


def jpeg(width: int, height: int) -> bytes:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return b"\xff\xd8" + app0 + sof + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\xff\xd9"


PDF_JAVASCRIPT = (b"%PDF-1.7\n1 0 obj<</Type/Catalog/OpenAction 2 0 R>>endobj\n"
                  b"2 0 obj<</S/JavaScript/JS(app.alert(1))>>endobj\ntrailer<<>>\n%%EOF\n")
PDF_EMBEDDED = (b"%PDF-1.7\n1 0 obj<</Type/Catalog/Names<</EmbeddedFiles 2 0 R>>>>endobj\n"
                b"2 0 obj<</Type/EmbeddedFile/Length 2>>stream\nMZ\nendstream endobj\n%%EOF\n")
PDF_LAUNCH = b"%PDF-1.4\n1 0 obj<</S/Launch/F(cmd.exe)>>endobj\n%%EOF\n"
POLYGLOT = b"%PDF-1.4\n<html><body><script>alert(document.cookie)</script></body></html>\n"
PNG_POLYGLOT = png(10, 10) + b"<script>alert(1)</script>"

ACTIVE = "scripts, embedded files or web page code"
REFUSED = [
    pytest.param("report.pdf", POLYGLOT, ACTIVE, id="pdf-html-polyglot"),
    pytest.param("photo.png", PNG_POLYGLOT, ACTIVE, id="png-script-polyglot"),
    pytest.param("invoice.pdf", PDF_JAVASCRIPT, ACTIVE, id="pdf-javascript"),
    pytest.param("invoice.pdf", PDF_EMBEDDED, ACTIVE, id="pdf-embedded-file"),
    pytest.param("invoice.pdf", PDF_LAUNCH, ACTIVE, id="pdf-launch"),
    pytest.param("bomb.png", png(100_000, 100_000), "at most 50 megapixels", id="png-bomb"),
    pytest.param("bomb.jpg", jpeg(65_535, 65_535), "at most 50 megapixels", id="jpeg-bomb"),
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


@pytest.mark.parametrize(("name", "data"), [
    pytest.param("photo.png", png(8000, 6000), id="png-48-megapixels"),
    pytest.param("photo.jpg", jpeg(4032, 3024), id="jpeg-phone-photo"),
    pytest.param("receipt.pdf", b"%PDF-1.4\n1 0 obj<</Type/Catalog/JSON 1>>endobj\n%%EOF\n",
                 id="pdf-name-starting-with-JS"),
])
def test_ordinary_evidence_still_passes(app, name, data):
    with app.test_request_context():
        assert check_upload(Upload(name, data)).data == data


def test_image_sizes_are_read_from_the_headers():
    assert image_size("image/png", png(100_000, 3)) == (100_000, 3)
    assert image_size("image/jpeg", jpeg(640, 480)) == (640, 480)
    assert image_size("image/jpeg", b"\xff\xd8\xff\xd9") is None
    assert image_size("image/png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 64) is None


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
