"""Import orders from CSV or JSON Lines: valid rows are upserted, bad rows reported.

Every row is validated by the same schema the API uses, then upserted inside its own
savepoint, so one bad row never takes good rows down with it.
"""

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from marshmallow import ValidationError

from arbiter.errors import DomainError
from arbiter.extensions import db
from orders.schemas import OrderInSchema
from orders.services import UpsertOutcome, upsert_order

_schema = OrderInSchema()


@dataclass
class RowError:
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.message}"


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def failed_rows(self) -> int:
        return len({error.line for error in self.errors})


def detect_format(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    raise ValueError(f"unknown file type {suffix!r}: use .csv or .jsonl")


def count_rows(handle: IO[str], fmt: str) -> int:
    """How many rows :func:`read_rows` will yield (for the progress bar): CSV records, not
    lines (a quoted field may span lines), without the header; non-blank JSON lines."""
    if fmt == "csv":
        return max(sum(1 for record in csv.reader(handle) if record) - 1, 0)
    return sum(1 for line in handle if line.strip())


def read_rows(handle: IO[str], fmt: str) -> Iterator[tuple[int, dict | None, str | None]]:
    """Yield (line number, raw row or None, parse error or None)."""
    if fmt == "csv":
        reader = csv.DictReader(handle)
        for row in reader:
            clean = {k: (v if v != "" else None) for k, v in row.items() if k is not None}
            yield reader.line_num, {k: v for k, v in clean.items() if v is not None}, None
        return
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            yield number, None, f"not valid JSON ({error.msg})"
            continue
        if not isinstance(row, dict):
            yield number, None, "each line must be a JSON object"
            continue
        yield number, row, None


def import_rows(
    rows: Iterator[tuple[int, dict | None, str | None]],
    *,
    actor=None,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    report = ImportReport()
    for line, raw, parse_error in rows:
        if progress:
            progress(1)
        if parse_error is not None:
            report.errors.append(RowError(line, "-", parse_error))
            continue
        try:
            data = _schema.load(raw)
        except ValidationError as error:
            for name, messages in sorted(error.normalized_messages().items()):
                text = "; ".join(messages) if isinstance(messages, list) else str(messages)
                report.errors.append(RowError(line, name, text))
            continue
        try:
            with db.session.begin_nested():
                result = upsert_order(data, actor=actor)
        except DomainError as error:  # bad data, or parties that can no longer change
            for name in error.fields or {"-": None}:
                report.errors.append(RowError(line, name, error.message))
            continue
        if result.outcome is UpsertOutcome.CREATED:
            report.created += 1
        elif result.outcome is UpsertOutcome.UPDATED:
            report.updated += 1
        else:
            report.unchanged += 1
    return report
