import sys

import click
from flask.cli import AppGroup

from arbiter import audit
from arbiter.extensions import db

audit_cli = AppGroup("audit", help="The hash-chained audit log.")


@audit_cli.command("verify")
def verify_command() -> None:
    """Check every link of the audit chain; print OK or the first broken row."""
    broken = audit.verify()
    if broken is None:
        click.echo(f"OK: {audit.count()} entries, chain intact")
        return
    click.echo(f"BROKEN at entry {broken.entry_id}: {broken.reason}", err=True)
    sys.exit(1)


@click.command("seed")
def seed_command() -> None:
    """Load demo data when the database is empty; print the demo logins either way."""
    from arbiter.seed import DEMO_PASSWORD, demo_logins, seed_demo_data

    created = seed_demo_data()
    db.session.commit()
    click.echo("Demo data created." if created else "Database not empty: demo data left alone.")
    click.echo(f"Demo logins (password for all: {DEMO_PASSWORD}):")
    for role, email in demo_logins():
        click.echo(f"  {role:<8} {email}")
