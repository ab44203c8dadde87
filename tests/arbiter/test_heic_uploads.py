"""HEIC/HEIF photos (an iPhone's default) are accepted and stored as JPEG (#22 item 10)."""

import hashlib
import io

import pytest
from PIL import Image
from sqlalchemy import select

from arbiter.errors import ValidationFailed
from arbiter.extensions import db
from arbiter.files import Upload, check_upload
from claims.models import ClaimDocument
from tests.files import PNG, heic


def test_a_heic_photo_becomes_a_jpeg_keeping_the_originals_sha256():
    original = heic(64, 48)
    checked = check_upload(Upload("IMG_0042.HEIC", original))
    assert checked.content_type == "image/jpeg"
    assert checked.filename == "IMG_0042.jpg"
    assert checked.original_sha256 == hashlib.sha256(original).hexdigest()
    with Image.open(io.BytesIO(checked.data)) as image:
        assert (image.format, image.size) == ("JPEG", (64, 48))


@pytest.mark.parametrize(("name", "data"), [
    ("photo.heic", PNG), ("photo.heif", b"\x00\x00\x00\x1cftypheic" + b"\x00" * 40),
    ("photo.heic", b"\x00\x00\x00\x1cftypavif" + b"\x00" * 40)])
def test_what_is_not_a_heic_photo_is_refused(name, data):
    with pytest.raises(ValidationFailed) as refused:
        check_upload(Upload(name, data))
    assert refused.value.fields == {"files": ["content"]}


def test_a_heic_document_on_a_claim_is_recorded_as_jpeg_with_its_original(
        app, db_session, create_order, create_discussion, buyer, seller):
    from claims import services
    from claims.states import ClaimType
    from tests.claims.helpers import IBAN

    order = create_order(buyer=buyer, seller=seller)
    create_discussion(order, age_hours=25)
    original = heic()
    with app.test_request_context():
        claim = services.file_claim(
            order, buyer, claim_type=ClaimType.NOT_AS_DESCRIBED,
            description="The lamp is a different model.", payout_account=IBAN,
            documents=[Upload("IMG_0001.HEIC", original)])
    document = db.session.scalar(select(ClaimDocument).where(ClaimDocument.claim_id == claim.id))
    assert (document.filename, document.content_type) == ("IMG_0001.jpg", "image/jpeg")
    assert document.original_sha256 == hashlib.sha256(original).hexdigest()
    assert document.sha256 != document.original_sha256
