from sqlalchemy import select

from accounts.models import User
from accounts.roles import Role
from arbiter.extensions import db


def test_users_create_reads_the_password_from_stdin(app, db_session):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "Advisor@Example.test", "--staff", "--password-stdin"],
        input="a long advisor password\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "advisor@example.test"))
    assert user.roles == set(Role)  # the first administrator, who invites the others


def test_users_create_grants_the_roles_asked_for(app, db_session):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "money@example.test", "--role", "finance", "--password-stdin"],
        input="a long finance password\n",
    )
    assert result.exit_code == 0, result.output
    assert "(staff: finance)" in result.output
    user = db.session.scalar(select(User).where(User.email == "money@example.test"))
    assert user.roles == {Role.FINANCE}
    refused = app.test_cli_runner().invoke(
        args=["users", "create", "boss@example.test", "--role", "boss", "--password-stdin"],
        input="a long finance password\n",
    )
    assert refused.exit_code != 0
    assert db.session.scalar(select(User).where(User.email == "boss@example.test")) is None


def test_users_create_refuses_a_short_password(app, db_session):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "x@example.test", "--password-stdin"], input="short\n"
    )
    assert result.exit_code != 0
    assert "12" in result.output  # "at least 12 characters", in the default language
    assert db.session.scalar(select(User).where(User.email == "x@example.test")) is None
