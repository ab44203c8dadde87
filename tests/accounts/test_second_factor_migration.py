"""Migration 0019: the second-factor tables, and the staff tokens issued without one."""

from sqlalchemy import inspect, text

from accounts.models import User
from arbiter import clock
from arbiter.extensions import db
from tests.arbiter.test_migrations import _migrate, empty_app  # noqa: F401 (a fixture)
from tests.factories import enrol


def _revoked() -> dict[str, bool]:
    rows = db.session.execute(text("SELECT name, revoked_at FROM api_tokens")).all()
    db.session.remove()
    return {name: revoked is not None for name, revoked in rows}


def test_0019_revokes_the_staff_tokens_and_comes_back_down(empty_app):  # noqa: F811
    _migrate(empty_app, "0018")
    # Raw SQL: today's models know columns later migrations add (users.deactivated_at).
    now = clock.now()
    for email in ("staff@example.test", "buyer@example.test"):
        db.session.execute(text(
            "INSERT INTO users (email, name, password_hash, created_at, updated_at) "
            "VALUES (:email, 'Someone', '!', :now, :now)"), {"email": email, "now": now})
    staff_id, buyer_id = db.session.execute(text("SELECT id FROM users ORDER BY id")).scalars()
    db.session.execute(text("INSERT INTO staff_roles (user_id, role, granted_at) "
                            "VALUES (:id, 'admin', :now)"), {"id": staff_id, "now": now})
    for name, kind, user_id in (("staff-token", "user", staff_id),
                                ("buyer-token", "user", buyer_id),
                                ("marketplace", "integration", None)):
        db.session.execute(text(
            "INSERT INTO api_tokens (kind, name, token_hash, user_id, created_at) "
            "VALUES (:kind, :name, :hash, :user_id, :now)"),
            {"kind": kind, "name": name, "hash": name.ljust(64, "0"), "user_id": user_id,
             "now": now})
    db.session.commit()
    db.session.remove()

    _migrate(empty_app, "head")
    # issued without a second factor: staff ask for a new one with a code from their app
    assert _revoked() == {"staff-token": True, "buyer-token": False, "marketplace": False}

    enrol(db.session.get(User, staff_id))
    db.session.commit()
    db.session.remove()
    _migrate(empty_app, "0018", down=True)
    tables = set(inspect(db.engine).get_table_names())
    assert not tables & {"second_factors", "recovery_codes"}
    assert "second_factor_at" not in {c["name"] for c in
                                      inspect(db.engine).get_columns("user_sessions")}
    assert _revoked() == {"staff-token": True, "buyer-token": False, "marketplace": False}

    _migrate(empty_app, "head")
    assert db.session.execute(text("SELECT count(*) FROM second_factors")).scalar() == 0
    assert _revoked() == {"staff-token": True, "buyer-token": False, "marketplace": False}
