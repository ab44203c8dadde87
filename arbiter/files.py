"""Evidence upload rules: PDF, PNG and JPEG only, by magic bytes that match the extension.

Every file of a request is checked before anything is stored. Stored blobs are recorded
on the session, and removed again if the transaction rolls back, so a refused or failed
request leaves nothing behind.
"""

import re
import struct
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import event
from sqlalchemy.orm import Session

from arbiter.errors import DomainError, ValidationFailed
from arbiter.extensions import db
from arbiter.storage import StoredBlob, storage

MAX_FILE_BYTES = 10 * 1024 * 1024
SIGNATURES = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}
MAX_IMAGE_PIXELS = 50_000_000  # decompression bombs: a small file declaring a huge image
# PDF features that run code or carry other files, and markup a browser would render as a
# page (polyglots): evidence needs none of them. Names in PDFs are case-sensitive.
ACTIVE_PDF_NAMES = re.compile(rb"/(?:JavaScript|JS|EmbeddedFiles?|Launch|OpenAction)\b")
MARKUP = re.compile(rb"<(?:!doctype\s+html|html|script|svg|iframe|object|embed)\b",
                    re.IGNORECASE)
JPEG_SOF_MARKERS = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                    0xCF}
EXTENSIONS = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg",
              "jpeg": "image/jpeg"}


class FileTooLarge(DomainError):
    status = 413
    code = "file_too_large"


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True)
class CheckedUpload:
    filename: str
    content_type: str
    data: bytes


def clean_filename(filename: str) -> str:
    """The name shown to people: no directories, no control characters, bounded length."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable() and ch not in '<>:"|?*').strip(". ")
    return name[-120:] or "file"


def check_upload(upload: Upload) -> CheckedUpload:
    name = clean_filename(upload.filename)
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    declared = EXTENSIONS.get(extension)
    if declared is None:
        raise ValidationFailed(
            _("%(name)s: only PDF, PNG and JPEG files are accepted.", name=name),
            code="file_type_not_allowed", fields={"files": ["type"]})
    if len(upload.data) > MAX_FILE_BYTES:
        raise FileTooLarge(_("%(name)s is larger than 10 MB.", name=name),
                           fields={"files": ["size"]})
    if not upload.data:
        raise ValidationFailed(_("%(name)s is empty.", name=name), code="file_empty",
                               fields={"files": ["empty"]})
    if not upload.data.startswith(SIGNATURES[declared]):
        raise ValidationFailed(
            _("%(name)s is not really a %(kind)s file.", name=name,
              kind=extension.upper()),
            code="file_content_mismatch", fields={"files": ["content"]})
    if MARKUP.search(upload.data) or (declared == "application/pdf"
                                       and ACTIVE_PDF_NAMES.search(upload.data)):
        raise ValidationFailed(
            _("%(name)s contains scripts, embedded files or web page code and is not "
              "accepted.", name=name),
            code="file_active_content", fields={"files": ["content"]})
    size = image_size(declared, upload.data)
    if size is not None and size[0] * size[1] > MAX_IMAGE_PIXELS:
        raise ValidationFailed(
            _("%(name)s is too large an image (at most 50 megapixels).", name=name),
            code="image_too_large", fields={"files": ["pixels"]})
    return CheckedUpload(name, declared, upload.data)


def image_size(content_type: str, data: bytes) -> tuple[int, int] | None:
    """(width, height) as a PNG's IHDR or a JPEG's SOF declares it; None if not found."""
    if content_type == "image/png":
        if data[12:16] == b"IHDR" and len(data) >= 24:
            return struct.unpack(">II", data[16:24])
        return None
    if content_type == "image/jpeg":
        i = 2
        while i + 4 <= len(data):
            if data[i] != 0xFF:
                return None
            marker = data[i + 1]
            if marker == 0xFF:  # fill byte
                i += 1
                continue
            if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:
                i += 2
                continue
            if marker in (0xD9, 0xDA):  # end of image, start of scan: no frame header
                return None
            (length,) = struct.unpack(">H", data[i + 2:i + 4])
            if marker in JPEG_SOF_MARKERS and i + 9 <= len(data):
                height, width = struct.unpack(">HH", data[i + 5:i + 9])
                return width, height
            i += 2 + length
    return None


def check_uploads(uploads: list[Upload], *, max_count: int, room_left: int) -> list[CheckedUpload]:
    if len(uploads) > max_count:
        raise ValidationFailed(
            _("At most %(count)d files at a time.", count=max_count),
            code="too_many_files", fields={"files": ["count"]})
    if len(uploads) > room_left:
        raise ValidationFailed(
            _("This case already holds the most files allowed (%(left)d more possible).",
              left=max(room_left, 0)),
            code="too_many_files", fields={"files": ["count"]})
    return [check_upload(upload) for upload in uploads]


def store(checked: CheckedUpload) -> StoredBlob:
    return store_blob(checked.data)


def store_blob(data: bytes) -> StoredBlob:
    """Store bytes; they are removed again if the current transaction rolls back."""
    blob = storage().put(data)
    db.session.info.setdefault("stored_blobs", []).append(blob.key)
    return blob


def delete_blob_after_commit(key: str) -> None:
    """Delete a stored file once the current transaction has committed (never if it rolls
    back): the row that pointed to it and the file go together."""
    db.session.info.setdefault("doomed_blobs", []).append(key)


@event.listens_for(Session, "after_rollback")
def _remove_blobs_of_rolled_back_work(session: Session) -> None:
    session.info.pop("doomed_blobs", None)
    keys = session.info.pop("stored_blobs", None)
    if not keys:
        return
    backend = storage()
    for key in keys:
        backend.delete(key)


@event.listens_for(Session, "after_commit")
def _keep_blobs_of_committed_work(session: Session) -> None:
    session.info.pop("stored_blobs", None)
    doomed = session.info.pop("doomed_blobs", None)
    if doomed:
        backend = storage()
        for key in doomed:
            backend.delete(key)
