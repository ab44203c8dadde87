"""Migration 0019: the second-factor tables, and the staff tokens issued without one."""

from sqlalchemy import inspect, text

from accounts import services as accounts
from accounts.models import User
from accounts.roles import Role
from arbiter.extensions import db
from tests.arbiter.test_migrations import _migrate, empty_app  # noqa: F401 (a fixture)
from tests.factories import PASSWORD, enrol


def _revoked() -> dict[str, bool]:
    rows = db.session.execute(text("SELECT name, revoked_at FROM api_tokens")).all()
    db.session.remove()
    return {name: revoked is not None for name, revoked in rows}


def test_0019_revokes_the_staff_tokens_and_comes_back_down(empty_app):  # noqa: F811
    from integrations import tokens

    _migrate(empty_app, "0018")
    staff = accounts.create_user("staff@example.test", "Staff", PASSWORD, roles=[Role.ADMIN])
    buyer = accounts.create_user("buyer@example.test", "Buyer", PASSWORD)
    db.session.flush()
    tokens.issue_user_token(staff, "staff-token")
    tokens.issue_user_token(buyer, "buyer-token")
    tokens.create_integration_token("marketplace")
    db.session.commit()
    staff_id = staff.id
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
