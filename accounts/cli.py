import sys

import click
from flask.cli import AppGroup

from accounts import services
from arbiter.errors import ValidationFailed
from arbiter.extensions import db

users_cli = AppGroup("users", help="Manage accounts.")


@users_cli.command("create")
@click.argument("email")
@click.option("--name", default=None, help="Display name (default: the part before @).")
@click.option("--staff", is_flag=True, help="Make the account a platform advisor.")
@click.option("--password-stdin", is_flag=True, required=True,
              help="Read the password from standard input (never from the command line).")
def create_command(email: str, name: str | None, staff: bool, password_stdin: bool) -> None:
    """Create an account with EMAIL."""
    password = sys.stdin.readline().rstrip("\r\n")
    try:
        user = services.create_user(email, name or email.split("@")[0], password,
                                    is_staff=staff)
    except ValidationFailed as error:
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"created user {user.id} {user.email}{' (staff)' if staff else ''}")
