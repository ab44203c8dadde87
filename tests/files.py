"""Evidence files for tests: real PNG, JPEG and PDF files, and builders of hostile ones.

Uploads are opened with Pillow and parsed with pypdf, so a test file must be a file those
can read. Everything is generated here; there are no binary fixtures.
"""

import io
import struct
import zlib

from PIL import Image
from pypdf import PdfWriter


def png(width: int = 2, height: int = 2, *, extra_chunks: bytes = b"") -> bytes:
    """A PNG that declares ``width`` x ``height``, with a small IDAT and IEND: enough for
    Pillow to open and verify it (only the chunks and checksums), not to decode it."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\xcc\x33\x33" * width for _ in range(height)) \
        if width * height <= 4096 else b"\x00" * 64
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + extra_chunks
            + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b""))


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def jpeg(width: int, height: int, *, junk: bytes = b"") -> bytes:
    """A JPEG header declaring ``width`` x ``height`` (no scan data). ``junk`` goes between
    the APP0 segment and the frame header: decoders skip it, the old parser gave up."""
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 1) + b"\x01\x11\x00"
    return (b"\xff\xd8" + app0 + junk + sof + b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00"
            + b"\xff\xd9")


def photo(kind: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    """A real image Pillow wrote (``kind`` is "PNG" or "JPEG")."""
    buffer = io.BytesIO()
    Image.new("RGB", size, (200, 60, 60)).save(buffer, kind)
    return buffer.getvalue()


def blank_pdf() -> bytes:
    """A real one-page PDF, as pypdf writes it."""
    writer = PdfWriter()
    writer.add_blank_page(width=595, height=842)
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def raw_pdf(*bodies: bytes, catalog: bytes = b"", page: bytes = b"", after_eof: bytes = b"",
            trailer: bytes = b"") -> bytes:
    """A one-page PDF written byte by byte, with a correct cross-reference table.

    Objects 1-3 are the catalog (plus ``catalog``), the page tree and the page (plus
    ``page``); ``bodies`` become objects 4, 5, ... Names are written as given, so a test
    can spell them with ``#xx`` escapes that the old byte-level check never saw.
    """
    objects = [b"<< /Type /Catalog /Pages 2 0 R " + catalog + b" >>",
               b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] " + page + b" >>",
               *bodies]
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, trailer, xref)
    return bytes(out) + after_eof


def stream(data: bytes, entries: bytes = b"") -> bytes:
    return b"<< /Length %d %s >>\nstream\n%s\nendstream" % (len(data), entries, data)


def pdf_with_object_stream(catalog: bytes, *hidden: bytes) -> bytes:
    """A PDF 1.5 file whose catalog (object 1, plus ``catalog``) and ``hidden`` objects
    (4, 5, ...) sit compressed in an object stream, listed by a cross-reference stream:
    none of their names appear in the file's bytes."""
    inner = [b"<< /Type /Catalog /Pages 2 0 R " + catalog + b" >>", *hidden]
    numbers = [1, *range(4, 4 + len(hidden))]
    header, body = b"", b""
    for number, obj in zip(numbers, inner, strict=True):
        header += b"%d %d " % (number, len(body))
        body += obj + b"\n"
    packed = zlib.compress(header + body)
    container = 4 + len(hidden)
    xref_number = container + 1
    plain = {2: b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
             3: b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
             container: b"<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode "
                        b"/Length %d >>\nstream\n%s\nendstream" % (len(inner), len(header),
                                                                  len(packed), packed)}
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    entries = {0: (0, 0, 65535)}
    for number, obj in plain.items():
        entries[number] = (1, len(out), 0)
        out += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    for index, number in enumerate(numbers):
        entries[number] = (2, container, index)
    entries[xref_number] = (1, len(out), 0)
    rows = b"".join(struct.pack(">BII", *entries[number]) for number in range(xref_number + 1))
    out += b"%d 0 obj\n" % xref_number + stream(
        rows, b"/Type /XRef /Size %d /W [1 4 4] /Root 1 0 R" % (xref_number + 1)) + b"\nendobj\n"
    out += b"startxref\n%d\n%%%%EOF\n" % entries[xref_number][1]
    return bytes(out)


PNG = photo("PNG", (2, 2))
JPEG = photo("JPEG", (2, 2))
PDF = blank_pdf()



def heic(width: int = 64, height: int = 48) -> bytes:
    """A HEIC photo, as an iPhone takes them (encoded with pillow-heif's libheif)."""
    import pillow_heif

    out = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (width, height), (200, 30, 30))).save(out)
    return out.getvalue()
