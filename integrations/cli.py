import click
from flask.cli import AppGroup

from arbiter.errors import DomainError
from arbiter.extensions import db
from integrations import tokens

integrations_cli = AppGroup("integrations", help="API tokens of the marketplace integration.")


@integrations_cli.command("create")
@click.argument("name")
def create_command(name: str) -> None:
    """Create an integration token called NAME and print it (only this once)."""
    try:
        issued = tokens.create_integration_token(name)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"Integration {issued.row.name!r} created. Its token (shown only now):",
               err=True)
    click.echo(issued.token)


@integrations_cli.command("revoke")
@click.argument("name")
def revoke_command(name: str) -> None:
    """Revoke the live token of the integration NAME."""
    try:
        tokens.revoke_integration(name)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"Integration {name!r}: token revoked.")
