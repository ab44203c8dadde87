import sys
from pathlib import Path

import click
from flask.cli import AppGroup

from arbiter.extensions import db
from orders.importer import count_rows, detect_format, import_rows, read_rows

orders_cli = AppGroup("orders", help="Orders from the marketplace.")


@orders_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Upsert orders from a .csv or .jsonl FILE by external_id; report bad rows."""
    try:
        fmt = detect_format(file)
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="FILE") from error
    with file.open(encoding="utf-8", newline="") as handle:
        total = count_rows(handle, fmt)
    # On a terminal: a bar with rows done / total, percent and time left, on stderr so the
    # summary on stdout stays clean; elsewhere (a pipe, cron) click prints the label once.
    with file.open(encoding="utf-8", newline="") as handle, click.progressbar(
        length=total, label=f"Importing {file.name}", file=sys.stderr, show_pos=True,
        show_percent=True,
    ) as bar:
        report = import_rows(read_rows(handle, fmt), progress=bar.update)
    db.session.commit()
    for error in report.errors:
        click.echo(str(error), err=True)
    click.echo(
        f"{report.created} created, {report.updated} updated, {report.unchanged} unchanged, "
        f"{report.failed_rows} failed ({total} rows read)"
    )
    if report.errors:
        sys.exit(1)
