"""Evidence and document storage behind one small interface.

Files live outside the web root under random names; the database keeps their original
name, type, size and SHA-256. Today: the filesystem. Object storage later implements the
same three methods.
"""

import hashlib
import os
import secrets
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Protocol

from flask import Response, current_app, send_file


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
        key = secrets.token_hex(20)
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
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
