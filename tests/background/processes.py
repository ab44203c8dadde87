"""Helpers for tests that run Arbiter's own processes (a Celery worker, the CLI)."""

import os
import sys
import time

import pytest

from arbiter.extensions import db

BIN = os.path.dirname(sys.executable)


def process_environment(database_url: str, **extra) -> dict:
    """What a production process of Arbiter is given: its settings in ``ARBITER_*``."""
    return {**os.environ, "ARBITER_DATABASE_URL": database_url, "ARBITER_SECRET_KEY": "t",
            "FLASK_APP": "wsgi.py", **extra}


def wait_for(condition, log_path, *, seconds: float = 60):
    """Poll ``condition()`` (it reads the database) until it is true, else fail with the
    worker's log."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        db.session.rollback()  # see what the worker committed since
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"the worker did not do it within {seconds} s; its log:\n"
                f"{log_path.read_text()}")
