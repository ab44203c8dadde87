import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from arbiter.extensions import db

audit_cli = AppGroup("audit", help="The audit log and its transparency log.")


@audit_cli.command("verify")
@click.option("--full", is_flag=True,
              help="Check the whole log from its first entry, not only what was added "
                   "since the last verification.")
def verify_command(full: bool) -> None:
    """Check the chains, the Merkle tree and every checkpoint added since the last run
    (kept in AUDIT_VERIFIED_FILE), or all of it with --full; print OK or the first thing
    that does not hold."""
    from arbiter import transparency_log as log

    verified_file = Path(current_app.config["AUDIT_VERIFIED_FILE"])
    last = log.Verified.load(verified_file)
    report = log.verify(last, full=full, vkey=log.verifier_key())
    if report.problem:
        _broken(report.problem)
    report.verified.save(verified_file)
    click.echo(f"OK: {report.entries} entries checked, tree of {report.verified.tree_size} "
               f"leaves, {report.checkpoints} new checkpoints verified")


def _broken(problem) -> None:
    click.echo(f"BROKEN at {problem}", err=True)
    sys.exit(1)


@audit_cli.command("sequence")
def sequence_command() -> None:
    """Add the committed entries to the Merkle tree now and sign a checkpoint (what the
    background task does every AUDIT_SEQUENCE_INTERVAL_SECONDS)."""
    from arbiter import transparency_log as log

    added = log.sequence()
    click.echo(f"{added} entries added; the tree has {log.tree_size()} leaves")


@audit_cli.command("keygen")
@click.option("--force", is_flag=True, help="Replace an existing key (old checkpoints then "
              "verify only with the old public key: keep it).")
def keygen_command(force: bool) -> None:
    """Make the checkpoint signing key in AUDIT_SIGNING_KEY_FILE (readable by its owner
    only) and print the public key to publish."""
    from arbiter import tlog
    from arbiter import transparency_log as log

    path = Path(current_app.config["AUDIT_SIGNING_KEY_FILE"])
    if path.exists() and not force:
        click.echo(f"{path} exists; its public key: {tlog.verifier_key(path.read_text().strip())}")
        return
    private = tlog.generate_signing_key(log.origin())
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.touch(mode=0o600)
    partial.write_text(private + "\n")
    partial.replace(path)
    click.echo(f"Signing key written to {path}; public key: {tlog.verifier_key(private)}")


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
