"""Evidence and document storage behind one small interface.

Files live outside the web root under random names; the database keeps their original
name, type, size and SHA-256. Today: the filesystem. Object storage later implements the
same three methods.
"""

import errno
import hashlib
import os
import secrets
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Protocol

from flask import Response, current_app, send_file
from flask_babel import lazy_gettext as _l

from arbiter.errors import DomainError


class StorageFull(DomainError):
    """The disk (or quota) of the file storage is full: nothing was stored or saved."""

    status = 507
    code = "storage_full"

    def __init__(self):
        super().__init__(str(_l("Files cannot be stored at the moment: the storage is full. "
                                "Nothing was saved. Please try again later; the operators "
                                "have been alerted.")))


@dataclass(frozen=True)
class StoredBlob:
    key: str
    sha256: str
    size: int


class Storage(Protocol):
    def put(self, data: bytes) -> StoredBlob: ...
    def get(self, key: str) -> bytes: ...
    def delete(self, key: str) -> None: ...


class FilesystemStorage:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        if not key.isalnum():  # keys are ours (hex); refuse anything path-like
            raise ValueError("invalid storage key")
        return self.root / key[:2] / key

    def put(self, data: bytes) -> StoredBlob:
        """Write under a temporary name, flush to disk, then rename: a file under its key
        is always whole. A failed write (a full disk) leaves nothing behind."""
        key = secrets.token_hex(20)
        path = self._path(key)
        partial = path.with_name(f"{key}.part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.rename(partial, path)
        except OSError as error:
            partial.unlink(missing_ok=True)
            if error.errno in (errno.ENOSPC, errno.EDQUOT):
                current_app.logger.error("storage full at %s: %s (%d bytes refused)",
                                         self.root, error.strerror, len(data))
                raise StorageFull() from error
            raise
        return StoredBlob(key, hashlib.sha256(data).hexdigest(), len(data))

    def get(self, key: str) -> bytes:
        return self._path(key).read_bytes()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)


def storage() -> Storage:
    return FilesystemStorage(current_app.config["STORAGE_DIR"])


def send_download(data: bytes, *, filename: str, mimetype: str) -> Response:
    """A file as a download, never shown inline (evidence may be anything a person
    uploaded): ``nosniff``, and kept by no cache (it holds personal data)."""
    response = send_file(BytesIO(data), mimetype=mimetype, as_attachment=True,
                         download_name=filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store"
    return response


def send_stored(key: str, *, filename: str, mimetype: str) -> Response:
    """The stored blob ``key`` as a download (see :func:`send_download`)."""
    return send_download(storage().get(key), filename=filename, mimetype=mimetype)
