"""A full disk (issue 26.9): an upload that does not fit answers 507 with a message that
says the storage is full, saves nothing (no message, no half-written or empty file) and
logs an error for the operators. The storage is a real 64 KiB tmpfs where the machine
allows mounting one (CI runs as root); elsewhere the kernel's answer is reproduced."""

import errno
import io
import os
import random
import shutil
import subprocess

import pytest
from PIL import Image
from sqlalchemy import func, select

from arbiter.extensions import db
from disputes.models import Attachment, Entry
from tests.files import PNG


def _noise_png(size: int = 180) -> bytes:
    """A valid PNG that does not compress: about 100 KB, more than the tiny disk holds."""
    rng = random.Random(26)
    image = Image.frombytes("RGB", (size, size), bytes(rng.getrandbits(8)
                                                       for _ in range(size * size * 3)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def tiny_storage(app, tmp_path, monkeypatch):
    root = tmp_path / "tiny"
    root.mkdir()
    mount, umount = shutil.which("mount"), shutil.which("umount")
    mounted = bool(mount and umount) and subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(root)],
        capture_output=True).returncode == 0
    if not mounted:  # no privilege to mount: the kernel's answer to a full disk
        def full(fd):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        monkeypatch.setattr("arbiter.storage.os.fsync", full)
    monkeypatch.setitem(app.config, "STORAGE_DIR", str(root))
    yield root
    if mounted:
        subprocess.run([umount, str(root)], check=True)


def _files_in(root) -> list[str]:
    return [name for _, _, names in os.walk(root) for name in names]


def test_an_upload_to_a_full_disk_answers_507_and_leaves_nothing(
        app, auth, client, buyer, create_discussion, tiny_storage, caplog):
    discussion = create_discussion(buyer=buyer)
    auth.login(buyer.email)
    entries = db.session.scalar(select(func.count()).select_from(Entry))

    response = client.post(f"/discussions/{discussion.id}/messages",
                           data={"body": "Photos of the damage",
                                 "files": [(io.BytesIO(_noise_png()), "damage.png")]},
                           content_type="multipart/form-data")

    assert response.status_code == 507
    assert "the storage is full" in response.text
    assert "Nothing was saved" in response.text
    assert db.session.scalar(select(func.count()).select_from(Entry)) == entries
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    assert _files_in(tiny_storage) == []
    assert any("storage full" in record.getMessage() for record in caplog.records)


def test_a_small_file_still_fits_and_is_stored_whole(app, auth, client, buyer,
                                                     create_discussion, tiny_storage):
    discussion = create_discussion(buyer=buyer)
    auth.login(buyer.email)
    response = client.post(f"/discussions/{discussion.id}/messages",
                           data={"body": "A small photo", "files": [(io.BytesIO(PNG), "a.png")]},
                           content_type="multipart/form-data")
    if not os.path.ismount(tiny_storage):
        assert response.status_code == 507  # every write "fails" without a real tmpfs
        return
    assert response.status_code == 302
    stored = _files_in(tiny_storage)
    assert len(stored) == 1 and not stored[0].endswith(".part")
