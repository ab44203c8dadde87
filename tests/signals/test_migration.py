"""Migration 0023 (account notes) goes down and up on both engines, its notes append-only
in the database each time."""

import pytest
from sqlalchemy import inspect, text

from arbiter.extensions import db
from tests.arbiter.test_migrations import _migrate, empty_app  # noqa: F401 - the fixture

REVISION = "0023"  # the account notes (renumber here if the migration is renumbered)


def _before(app) -> str:
    from alembic.script import ScriptDirectory

    config = app.extensions["migrate"].migrate.get_config()
    return ScriptDirectory.from_config(config).get_revision(REVISION).down_revision


def _people() -> tuple[int, int]:
    for email in ("staff@example.test", "buyer@example.test"):
        db.session.execute(text(
            "INSERT INTO users (email, name, password_hash, created_at, updated_at) "
            "VALUES (:email, 'Someone', '!', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
            {"email": email})
    rows = db.session.execute(text("SELECT id FROM users ORDER BY id")).scalars().all()
    return rows[0], rows[1]


def _note(author: int, subject: int) -> None:
    db.session.execute(text(
        "INSERT INTO account_notes (user_id, author_id, body, created_at) "
        "VALUES (:subject, :author, 'Checked.', CURRENT_TIMESTAMP)"),
        {"subject": subject, "author": author})
    db.session.commit()


def _refused(sql: str) -> None:
    with pytest.raises(Exception, match="append-only"):
        db.session.execute(text(sql))
    db.session.rollback()


def test_0023_goes_down_and_up(empty_app):  # noqa: F811 - the imported fixture
    _migrate(empty_app, REVISION)
    author, subject = _people()
    _note(author, subject)
    _refused("UPDATE account_notes SET body = 'Changed.'")
    _refused("DELETE FROM account_notes")
    db.session.remove()

    _migrate(empty_app, _before(empty_app), down=True)
    assert "account_notes" not in inspect(db.engine).get_table_names()
    assert db.session.execute(text("SELECT count(*) FROM users")).scalar() == 2
    db.session.remove()

    _migrate(empty_app, REVISION)  # the trigger's function went with the table
    _note(author, subject)
    _refused("DELETE FROM account_notes")
    db.session.remove()
