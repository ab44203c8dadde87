import sys

import click
from flask.cli import AppGroup

from accounts import services
from accounts.roles import Role
from arbiter.errors import ValidationFailed
from arbiter.extensions import db

users_cli = AppGroup("users", help="Manage accounts.")


@users_cli.command("create")
@click.argument("email")
@click.option("--name", default=None, help="Display name (default: the part before @).")
@click.option("--staff", is_flag=True,
              help="Make the account the platform's first administrator (all staff roles; "
                   "invite the rest of the staff from the staff page).")
@click.option("--role", "roles", multiple=True, type=click.Choice([r.value for r in Role]),
              help="A staff role to grant (repeatable).")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (never from the command line).")
def create_command(email: str, name: str | None, staff: bool, roles: tuple[str, ...],
                   password_stdin: bool) -> None:
    """Create an account with EMAIL."""
    password = sys.stdin.readline().rstrip("\r\n")
    granted = set(roles) | ({role.value for role in Role} if staff else set())
    try:
        user = services.create_user(email, name or email.split("@")[0], password,
                                    roles=granted)
    except ValidationFailed as error:
        raise click.ClickException(error.message) from error
    db.session.commit()
    held = f" (staff: {', '.join(sorted(granted))})" if granted else ""
    click.echo(f"created user {user.id} {user.email}{held}")


@users_cli.command("reset-second-factor")
@click.argument("email")
def reset_second_factor_command(email: str) -> None:
    """Turn off EMAIL's authenticator app and recovery codes (a lost phone and no codes) and
    end their sessions: a staff member sets up a new app at their next login."""
    from sqlalchemy import select

    from accounts import second_factor
    from accounts.models import User

    user = db.session.scalar(select(User).where(User.email == services.normalise_email(email),
                                                User.deleted_at.is_(None)))
    if user is None:
        raise click.ClickException(f"no account {email}")
    if not second_factor.reset(user):
        raise click.ClickException(f"{user.email} has no second factor")
    db.session.commit()
    click.echo(f"second factor of {user.email} reset; they set up a new one at their next login")
