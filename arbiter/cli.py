import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from arbiter import audit
from arbiter.extensions import db

audit_cli = AppGroup("audit", help="The hash-chained audit log.")


@audit_cli.command("verify")
def verify_command() -> None:
    """Check every link of the audit chain, and that the newest entry of the last run is
    still there (the anchor file); print OK or the first broken row."""
    anchor_file = Path(current_app.config["AUDIT_ANCHOR_FILE"])
    anchor = audit.read_anchor(anchor_file)
    broken = audit.verify() or (anchor and audit.check_anchor(anchor))
    if broken:
        click.echo(f"BROKEN at entry {broken.entry_id}: {broken.reason}", err=True)
        sys.exit(1)
    newest = audit.latest_anchor()
    if newest is not None:
        audit.write_anchor(anchor_file, newest)
    click.echo(f"OK: {audit.count()} entries, chain intact")


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


@click.command("sweep")
@click.option("--batch-size", default=100, show_default=True)
def sweep_command(batch_size: int) -> None:
    """Run the deadline sweeper once (what the scheduler does every minute)."""
    from arbiter.sweeper import run_sweep

    for job, done in run_sweep(batch_size=batch_size).items():
        click.echo(f"{job}: {done}")


@click.command("deliver-mail")
def deliver_mail_command() -> None:
    """Send the due e-mails of the outbox once."""
    from arbiter.mail import deliver_due

    counts = deliver_due()
    click.echo(", ".join(f"{count} {name}" for name, count in counts.items()))


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
def serve_command(host: str, port: int) -> None:
    """Serve the app with the background jobs running in this process (development)."""
    import logging

    from flask import current_app
    from werkzeug.serving import run_simple

    from arbiter.config import development_base_url
    from arbiter.tasks import start_embedded_scheduler

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    app = current_app._get_current_object()
    if not app.config["BASE_URL_CONFIGURED"]:  # development: production requires it
        # Links in e-mails and documents (rendered in this process's background jobs too)
        # point to where this server listens, not to a default address.
        app.config["BASE_URL"] = development_base_url(host, port)
    click.echo(f"Links in e-mails and documents point to {app.config['BASE_URL']}/")
    scheduler = None
    if app.config.get("REDIS_URL"):
        click.echo("ARBITER_REDIS_URL is set: run `make worker` and `make beat` for jobs.")
    elif app.config["EMBEDDED_SCHEDULER"]:
        scheduler = start_embedded_scheduler(app)
    click.echo(f"Arbiter is serving on http://{host}:{port}/")
    try:
        run_simple(host, port, app, threaded=True, use_reloader=False)
    finally:
        if scheduler is not None:
            scheduler.shutdown(wait=False)
