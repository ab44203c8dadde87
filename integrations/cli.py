import click
from flask.cli import AppGroup

from arbiter.errors import DomainError
from arbiter.extensions import db
from integrations import tokens
from integrations.models import Scope

integrations_cli = AppGroup("integrations", help="API tokens of the marketplace integration.")


@integrations_cli.command("create")
@click.argument("name")
@click.option("--scope", "scopes", multiple=True, required=True,
              type=click.Choice([scope.value for scope in Scope]),
              help="what the token may do; repeat for several (at least one)")
def create_command(name: str, scopes: tuple[str, ...]) -> None:
    """Create an integration token called NAME with the given scopes and print it (only
    this once)."""
    try:
        issued = tokens.create_integration_token(name, scopes=scopes)
    except DomainError as error:
        raise click.ClickException(error.message) from error
    db.session.commit()
    click.echo(f"Integration {issued.row.name!r} created with the scopes {issued.row.scopes}. "
               "Its token (shown only now):", err=True)
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
