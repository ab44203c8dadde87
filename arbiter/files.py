"""Evidence upload rules: PDF, PNG and JPEG only, by magic bytes that match the extension;
HEIC/HEIF photos are converted to JPEG first (the original's SHA-256 is kept).

Every file of a request is checked before anything is stored. Stored blobs are recorded
on the session, and removed again if the transaction rolls back, so a refused or failed
request leaves nothing behind.

Images are opened with Pillow (its own decompression-bomb check, then ours: at most 50
megapixels) and PDFs parsed with pypdf, whose every object is looked at (object streams
included, names with their ``#xx`` escapes decoded): evidence needs no script, action,
form, embedded file or link, so a PDF with any of them is refused, and so is one that
pypdf cannot read or that is encrypted.
"""

import dataclasses
import hashlib
import io
import logging
import re
import tempfile
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Self

import pillow_heif
from flask import Request, Response
from flask_babel import gettext as _
from PIL import Image, ImageOps
from pypdf import PdfReader, apply_configuration
from pypdf.generic import (
    ArrayObject,
    DictionaryObject,
    IndirectObject,
    StreamObject,
    read_object,
)
from sqlalchemy import ForeignKey, String, event
from sqlalchemy.orm import Mapped, Session, declared_attr, mapped_column, relationship

from arbiter import clock
from arbiter.errors import ValidationFailed
from arbiter.extensions import db
from arbiter.storage import StoredBlob, send_stored, storage

log = logging.getLogger(__name__)

MAX_FILE_BYTES = 10 * 1024 * 1024
# HEIC/HEIF photos (what an iPhone takes by default) are accepted and converted to JPEG on
# upload (pillow-heif): the parties and staff can open a JPEG anywhere, a HEIC file not.
HEIF = "image/heif"
# An ISO base media file: "ftyp" at byte 4, then the major brand of a HEIF still image.
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1")
SIGNATURES = {
    "application/pdf": (b"%PDF-",),
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
}
PILLOW_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG"}
MAX_IMAGE_PIXELS = 50_000_000  # decompression bombs: a small file declaring a huge image
# Markup a browser would render as a page (polyglots: an image or a PDF that is also a web
# page), wherever it sits in the file. A tag name must end at white space, "/" or ">" (as
# in ``<svg/onload=...>``), so that the compressed bytes of a genuine photo rarely match by
# chance: about 1 in 500 files of 10 MB of random bytes.
MARKUP = re.compile(
    rb"<(?:!doctype\s+html|html|head|body|script|svg|iframe|frame|frameset|object|embed|"
    rb"applet|meta|base|link|style|title|form|input|button|img|image|video|audio|math|"
    rb"template|div)[\s/>]|<a\s+href\s*=",
    re.IGNORECASE)
EXTENSIONS = {"pdf": "application/pdf", "png": "image/png", "jpg": "image/jpeg",
              "jpeg": "image/jpeg", "heic": HEIF, "heif": HEIF}


class _FirstBytesOnly:
    """Where werkzeug writes an uploaded file while reading the request: it keeps the first
    MAX_FILE_BYTES + 1 bytes (enough for check_upload to say "larger than 10 MB") and drops
    the rest, so that a request with a file too large is still read to the end, its text
    fields with it, and the form can be shown again with what was typed."""

    def __init__(self):
        self._file = tempfile.SpooledTemporaryFile(max_size=512 * 1024, mode="rb+")  # noqa: SIM115 - closed with the request (FileStorage)
        self._room = MAX_FILE_BYTES + 1

    def write(self, data: bytes) -> int:
        kept = data[:max(self._room, 0)]
        self._room -= len(kept)
        self._file.write(kept)
        return len(data)

    def __getattr__(self, name: str):
        return getattr(self._file, name)


class UploadRequest(Request):
    """The application's request: uploaded files are kept up to the per-file limit only
    (see _FirstBytesOnly); MAX_CONTENT_LENGTH still bounds the whole body (413)."""

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None):
        return _FirstBytesOnly()


class FileTooLarge(ValidationFailed):
    """A file over the size limit: 413, and a form error next to the file field like any
    other refused file (every view that shows ValidationFailed on its form shows it)."""

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
    # A HEIC/HEIF photo is stored as the JPEG it was converted to: the SHA-256 of the
    # bytes the person actually uploaded, for the record.
    original_sha256: str | None = None


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
            _("%(name)s: only PDF, PNG, JPEG and HEIC files are accepted.", name=name),
            code="file_type_not_allowed", fields={"files": ["type"]})
    if len(upload.data) > MAX_FILE_BYTES:
        raise FileTooLarge(_("%(name)s is larger than 10 MB.", name=name),
                           fields={"files": ["size"]})
    if not upload.data:
        raise ValidationFailed(_("%(name)s is empty.", name=name), code="file_empty",
                               fields={"files": ["empty"]})
    kind = extension.upper()
    if declared == HEIF:
        return _converted_heif(name, kind, upload.data)
    if not upload.data.startswith(SIGNATURES[declared]):
        raise ValidationFailed(
            _("%(name)s is not really a %(kind)s file.", name=name, kind=kind),
            code="file_content_mismatch", fields={"files": ["content"]})
    if MARKUP.search(upload.data):
        raise ValidationFailed(
            _("%(name)s contains scripts, embedded files or web page code and is not "
              "accepted.", name=name),
            code="file_active_content", fields={"files": ["content"]})
    try:
        if declared == "application/pdf":
            _check_pdf(name, upload.data)
        else:
            _check_image(name, declared, upload.data)
    except UnreadableFile:
        raise ValidationFailed(
            _("%(name)s could not be read as a %(kind)s file.", name=name, kind=kind),
            code="file_unreadable", fields={"files": ["content"]}) from None
    return CheckedUpload(name, declared, upload.data)


def _converted_heif(name: str, kind: str, data: bytes) -> CheckedUpload:
    """The HEIC/HEIF photo as a JPEG (turned upright, without its metadata: a phone's photo
    carries where it was taken), checked like any uploaded JPEG, with the SHA-256 of the
    original."""
    if data[4:8] != b"ftyp" or data[8:12] not in HEIF_BRANDS:
        raise ValidationFailed(
            _("%(name)s is not really a %(kind)s file.", name=name, kind=kind),
            code="file_content_mismatch", fields={"files": ["content"]})
    try:
        heif = pillow_heif.open_heif(data, convert_hdr_to_8bit=True)
        width, height = heif.size
        if width * height > MAX_IMAGE_PIXELS:
            raise TooManyPixels(f"{width}x{height}")
        image = ImageOps.exif_transpose(heif.to_pillow()).convert("RGB")
        jpeg = io.BytesIO()
        image.save(jpeg, format="JPEG", quality=90)
    except TooManyPixels:
        raise ValidationFailed(
            _("%(name)s is too large an image (at most 50 megapixels).", name=name),
            code="image_too_large", fields={"files": ["pixels"]}) from None
    except Exception:  # libheif's errors on a damaged or hostile file
        raise ValidationFailed(
            _("%(name)s could not be read as a %(kind)s file.", name=name, kind=kind),
            code="file_unreadable", fields={"files": ["content"]}) from None
    converted = check_upload(Upload(name.rsplit(".", 1)[0] + ".jpg", jpeg.getvalue()))
    return dataclasses.replace(converted,
                               original_sha256=hashlib.sha256(data).hexdigest())


class UnreadableFile(ValueError):
    """The parser (Pillow or pypdf) cannot read the file, or it is built to exhaust one."""


# --- images -------------------------------------------------------------------------------


class TooManyPixels(ValueError):
    """More than MAX_IMAGE_PIXELS, or more than Pillow's own decompression-bomb limits."""


def _check_image(name: str, content_type: str, data: bytes) -> None:
    try:
        image_size(content_type, data)
    except TooManyPixels:
        raise ValidationFailed(
            _("%(name)s is too large an image (at most 50 megapixels).", name=name),
            code="image_too_large", fields={"files": ["pixels"]}) from None


def image_size(content_type: str, data: bytes) -> tuple[int, int]:
    """(width, height) as Pillow reads them, once ``verify()`` passed (for a PNG: every
    chunk and its checksum, up to the end).

    Raises TooManyPixels above MAX_IMAGE_PIXELS, also when Pillow's own decompression-bomb
    check fires first (its error, or its warning where warnings are errors), and
    UnreadableFile for anything Pillow cannot read (a truncated or lying header included).
    """
    try:
        with Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[content_type]]) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                raise TooManyPixels(f"{width}x{height}")
            image.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        raise TooManyPixels(str(error)) from error
    except TooManyPixels:
        raise
    except Exception as error:  # Pillow raises OSError, SyntaxError, ValueError, struct.error...
        raise UnreadableFile(str(error)) from error
    if width < 1 or height < 1:
        raise UnreadableFile("an image without pixels")
    return width, height


# --- PDFs ---------------------------------------------------------------------------------


class EncryptedPdf(ValueError):
    """Encrypted: its objects cannot be looked at without the password."""


# Action types (ISO 32000-2, 12.6.4) other than /GoTo, a jump to a page of the same file.
PDF_ACTIONS = frozenset({
    "/GoToR", "/GoToE", "/GoToDp", "/Launch", "/Thread", "/URI", "/Sound", "/Movie", "/Hide",
    "/Named", "/SubmitForm", "/ResetForm", "/ImportData", "/SetOCGState", "/Rendition",
    "/Trans", "/GoTo3DView", "/JavaScript", "/RichMediaExecute",
})
# Keys that hold scripts, embedded files, XFA forms or web addresses wherever they appear.
PDF_ACTIVE_KEYS = frozenset({
    "/JS", "/JavaScript", "/EmbeddedFiles", "/EF", "/XFA", "/URI", "/RichMediaContent",
})
# Values of /Type or /Subtype: embedded files, file attachments and media players.
PDF_ACTIVE_TYPES = frozenset({
    "/EmbeddedFile", "/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D",
})
# The work one PDF may cause. pypdf parses about 200,000 tokens a second (pure Python), and
# a few kilobytes of compressed object stream can inflate to millions: the object streams
# may hold PDF_MAX_STREAM_TOKENS tokens in all, each inflates to PDF_MAX_INFLATED_BYTES at
# most (a damaged one is not repaired), and the walk stops after PDF_MAX_OBJECTS objects,
# PDF_MAX_VALUES dictionary entries and array elements, or PDF_MAX_SECONDS (pypdf searches
# the whole file for an object the cross-reference table misplaces: 60 ms for 10 MB).
PDF_MAX_OBJECTS = 100_000
PDF_MAX_VALUES = 2_000_000
PDF_MAX_STREAM_TOKENS = 500_000
PDF_MAX_INFLATED_BYTES = 8 * 1024 * 1024
PDF_MAX_SECONDS = 2.0
# "12 0 obj": where an object's body starts, found in the bytes themselves.
PDF_OBJECT_HEADER = re.compile(rb"(?<![0-9])([0-9]{1,10})[\0\t\n\f\r ]+([0-9]{1,5})"
                               rb"[\0\t\n\f\r ]+obj(?![A-Za-z0-9])")
PDF_SPACE = re.compile(rb"[\0\t\n\f\r ]*")


class _ParserRepairs(logging.Handler):
    """What pypdf's object parser repaired while this context checks a PDF: a dictionary
    with a key twice (pypdf keeps the first, a viewer may keep the last), a dictionary or
    array cut short at a syntax error (a viewer may read on). Either could hide an action
    from the walk, so such a PDF is refused as unreadable."""

    seen: ContextVar[list[str] | None] = ContextVar("pdf_parser_repairs", default=None)

    def emit(self, record: logging.LogRecord) -> None:
        seen = self.seen.get()
        if seen is not None:
            seen.append(record.getMessage())


# The logger of pypdf's dictionary and array parser (not the one for numbers or names,
# whose repairs hide nothing); a test notices if pypdf renames it. Its level is set here so
# that the check sees the repairs whatever the logging set-up.
_PDF_PARSER_LOG = logging.getLogger("pypdf.generic._data_structures")
_PDF_PARSER_LOG.setLevel(logging.WARNING)
_PDF_PARSER_LOG.addHandler(_ParserRepairs(logging.WARNING))


def _skip_space(data: bytes, position: int) -> int:
    return PDF_SPACE.match(data, position).end()


def _check_pdf(name: str, data: bytes) -> None:
    try:
        found = pdf_active_content(data)
    except EncryptedPdf:
        raise ValidationFailed(
            _("%(name)s is protected with a password. Upload a copy without one.", name=name),
            code="file_encrypted", fields={"files": ["encrypted"]}) from None
    if found is not None:
        log.info("PDF refused: %s", found)
        raise ValidationFailed(
            _("%(name)s contains links, forms, scripts or embedded files, which evidence may "
              "not contain. Upload a scan or a screenshot of the document instead.",
              name=name),
            code="file_active_content", fields={"files": ["content"]})


def pdf_active_content(data: bytes) -> str | None:
    """What makes the PDF active ("/JavaScript action in object 4 0"), or None.

    Every object pypdf's reader knows is looked at (cross-reference tables and streams,
    objects inside compressed object streams, the trailer), and so is every object body
    in the file that the tables do not point at (an earlier revision, or bytes after the
    end that a viewer repairing the file might read). Dictionaries and arrays are walked;
    stream data is never decoded, except object streams, which hold objects.

    Refused: actions other than a jump within the file (JavaScript, URI, Launch,
    SubmitForm, ImportData, GoToR...), /OpenAction and /AA holding actions, form fields
    (a signature field is not a form), XFA, embedded files and file attachments, media.

    Raises EncryptedPdf, and UnreadableFile when pypdf cannot read it, it has no catalog,
    its cross-reference table is damaged, pypdf's parser had to repair a dictionary (a key
    given twice...), or reading it would take more than the PDF_MAX_* bounds allow.
    """
    repairs: list[str] = []
    token = _ParserRepairs.seen.set(repairs)
    try:
        with apply_configuration(zlib_maximum_output_length=PDF_MAX_INFLATED_BYTES,
                                 zlib_maximum_recovery_input_length=0,
                                 lzw_maximum_output_length=PDF_MAX_INFLATED_BYTES,
                                 run_length_maximum_output_length=PDF_MAX_INFLATED_BYTES,
                                 brotli_maximum_output_length=PDF_MAX_INFLATED_BYTES,
                                 jbig2dec_binary=None):  # no program runs on upload bytes
            reader = _Reader(io.BytesIO(data), strict=False)
            if reader.table_damaged:
                raise UnreadableFile("a damaged cross-reference table")
            if reader.is_encrypted:
                raise EncryptedPdf("encrypted")
            found = _PdfWalk(reader, data).run()
    except (EncryptedPdf, UnreadableFile):
        raise
    except Exception as error:  # pypdf's errors, and whatever a hostile file makes it raise
        raise UnreadableFile(f"{type(error).__name__}: {error}") from error
    finally:
        _ParserRepairs.seen.reset(token)
    if found is None and repairs:
        raise UnreadableFile(f"pypdf repaired it: {repairs[0]}")
    return found


class _Reader(PdfReader):
    """pypdf's reader, except that it does not rebuild a damaged cross-reference table by
    parsing every object in the file (seconds that nothing can interrupt, for a 10 MB file;
    and viewers may each repair such a file differently): such a PDF is refused."""

    table_damaged = False

    def _rebuild_xref_table(self, stream) -> None:
        self.table_damaged = True


class _PdfWalk:
    def __init__(self, reader: PdfReader, data: bytes):
        self.reader = reader
        self.data = data
        self.values_left = PDF_MAX_VALUES
        self.deadline = time.monotonic() + PDF_MAX_SECONDS

    def run(self) -> str | None:
        reader = self.reader
        references = [(number, generation) for generation, numbers in reader.xref.items()
                      for number in numbers]
        references += [(number, 0) for number in reader.xref_objStm]
        if len(references) > PDF_MAX_OBJECTS:
            raise UnreadableFile(f"more than {PDF_MAX_OBJECTS} objects")
        self.count_object_stream_tokens()
        catalog = self.resolve(reader.trailer.get("/Root"))
        if not isinstance(catalog, DictionaryObject) or "/Pages" not in catalog:
            raise UnreadableFile("no document catalog")
        found = self.walk(reader.trailer, "the trailer")
        for number, generation in references:
            if found is not None:
                return found
            self.spend(1)
            where = f"object {number} {generation}"
            body = reader.get_object(IndirectObject(number, generation, reader))
            found = self.walk(body, where)
            if found is None and self.is_object_stream(body):
                found = self.walk_object_stream(body, where, number)
        return found or self.walk_unlisted_objects()

    def count_object_stream_tokens(self) -> None:
        """Refuse what pypdf would spend seconds parsing in one go: it reads every object of
        an object stream as soon as one of them is asked for."""
        tokens = 0
        for number in {container for container, _index in self.reader.xref_objStm.values()}:
            self.spend(1)
            # The stream's dictionary and bytes only, not the objects in it:
            container = self.resolve(IndirectObject(number, 0, self.reader))
            if self.is_object_stream(container):
                tokens += len(container.get_data().split())
                if tokens > PDF_MAX_STREAM_TOKENS:
                    raise UnreadableFile(f"more than {PDF_MAX_STREAM_TOKENS} tokens")

    def walk_unlisted_objects(self) -> str | None:
        """Object bodies in the file that the cross-reference table does not point at: an
        earlier revision of an object, or one a viewer rebuilding the table would find."""
        data = self.data
        listed = {_skip_space(data, offset) for offsets in self.reader.xref.values()
                  for offset in offsets.values() if isinstance(offset, int)}
        stream = io.BytesIO(data)
        for header in PDF_OBJECT_HEADER.finditer(data):
            if header.start() in listed:
                continue
            self.spend(1)
            where = f"unlisted object {int(header[1])} {int(header[2])}"
            stream.seek(_skip_space(data, header.end()))
            body = read_object(stream, self.reader)
            found = self.walk(body, where)
            if found is None and self.is_object_stream(body):
                found = self.walk_object_stream(body, where)
            if found is not None:
                return found
        return None

    def walk_object_stream(self, container: StreamObject, where: str,
                           number: int | None = None) -> str | None:
        """The objects of an object stream that the reader does not list as living there
        (all of them when the stream itself is unlisted)."""
        contents = container.get_data()
        first = int(container["/First"])
        index = contents[:first].split()
        stream = io.BytesIO(contents)
        for inner, offset in zip(index[0::2], index[1::2], strict=False):
            if number is not None and self.reader.xref_objStm.get(int(inner), (None,))[0] == number:
                continue
            self.spend(1)
            stream.seek(_skip_space(contents, first + int(offset)))
            found = self.walk(read_object(stream, self.reader), f"object {int(inner)} in {where}")
            if found is not None:
                return found
        return None

    def walk(self, root, where: str) -> str | None:
        stack = [root]
        while stack:
            item = stack.pop()
            if isinstance(item, DictionaryObject):  # a stream's dictionary; never its data
                self.spend(len(item))
                for key, value in dict.items(item):
                    found = self.active_entry(key, value)
                    if found is not None:
                        return f"{found} in {where}"
                    if isinstance(value, DictionaryObject | ArrayObject):
                        stack.append(value)
            elif isinstance(item, ArrayObject):
                self.spend(len(item))
                stack.extend(value for value in item
                             if isinstance(value, DictionaryObject | ArrayObject))
        return None

    def active_entry(self, key: str, value) -> str | None:
        if key in PDF_ACTIVE_KEYS:
            return key
        if key not in ("/S", "/Type", "/Subtype", "/FT", "/OpenAction", "/AA"):
            return None
        value = self.resolve(value)
        if key == "/S" and value in PDF_ACTIONS:
            return f"{value} action"
        if key in ("/Type", "/Subtype") and value in PDF_ACTIVE_TYPES:
            return str(value)
        if key == "/FT" and value != "/Sig":
            return f"{value} form field"
        if key in ("/OpenAction", "/AA") and isinstance(value, DictionaryObject) and value:
            return key
        return None

    def is_object_stream(self, body) -> bool:
        return isinstance(body, StreamObject) and self.resolve(body.get("/Type")) == "/ObjStm"

    def resolve(self, value):
        """The object a reference points to, if the reader lists it (never a search of the
        whole file for one it does not list)."""
        if not isinstance(value, IndirectObject):
            return value
        reader = self.reader
        listed = (value.idnum in reader.xref.get(value.generation, {})
                  or (value.generation == 0 and value.idnum in reader.xref_objStm))
        return reader.get_object(value) if listed else None

    def spend(self, values: int) -> None:
        self.values_left -= values
        if self.values_left < 0:
            raise UnreadableFile(f"more than {PDF_MAX_VALUES} values")
        if time.monotonic() > self.deadline:
            raise UnreadableFile(f"more than {PDF_MAX_SECONDS} s to read")


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


class EvidenceFile:
    """The record of a stored evidence file, shared by every kind of evidence (a message's
    attachment, a claim's document): the name shown, type, size and SHA-256, where the
    bytes are stored, who uploaded it and when. Mixed into each owner's model."""

    filename: Mapped[str] = mapped_column(String(120), comment="as shown (sanitised)")
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    original_sha256: Mapped[str | None] = mapped_column(
        String(64), comment="SHA-256 of the uploaded original when it was converted "
                            "(a HEIC photo stored as JPEG); NULL when stored as uploaded")
    storage_key: Mapped[str] = mapped_column(String(64), unique=True)
    uploaded_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column()

    @declared_attr
    def uploaded_by(cls) -> Mapped["User"]:  # noqa: F821 - accounts.models.User, by name
        return relationship("User")

    @classmethod
    def stored(cls, upload: CheckedUpload, uploader, **owner) -> Self:
        """Store a checked upload's bytes (removed again if the transaction rolls back)
        and add its record, with ``owner``'s columns (which discussion, claim, ...)."""
        blob = store(upload)
        row = cls(uploaded_by_id=uploader.id, filename=upload.filename,
                  content_type=upload.content_type, size=blob.size, sha256=blob.sha256,
                  original_sha256=upload.original_sha256, storage_key=blob.key,
                  created_at=clock.now(), **owner)
        db.session.add(row)
        return row

    def download(self) -> Response:
        """The file as a download for someone allowed to see it (see send_stored)."""
        return send_stored(self.storage_key, filename=self.filename,
                           mimetype=self.content_type)
