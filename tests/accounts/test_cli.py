from sqlalchemy import select

from accounts.models import User
from arbiter.extensions import db


def test_users_create_reads_the_password_from_stdin(app, db_session):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "Advisor@Example.test", "--staff", "--password-stdin"],
        input="a long advisor password\n",
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(select(User).where(User.email == "advisor@example.test"))
    assert user.is_staff


def test_users_create_refuses_a_short_password(app, db_session):
    result = app.test_cli_runner().invoke(
        args=["users", "create", "x@example.test", "--password-stdin"], input="short\n"
    )
    assert result.exit_code != 0
    assert "10" in result.output  # "at least 10 characters", in the default language
    assert db.session.scalar(select(User).where(User.email == "x@example.test")) is None
