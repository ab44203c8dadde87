"""CSV files that people open in a spreadsheet: the one writer every CSV download uses.

Finance opens these files in Excel or LibreOffice, and a text cell that starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return is run there as a formula (CSV injection:
``=HYPERLINK(...)`` in a buyer's name). The file is comma-separated, but Polish Excel
splits on semicolons by default, so ``Jan;=HYPERLINK(...)`` becomes a cell of its own
that starts with ``=``. Every text cell therefore gets a ``'`` (which spreadsheets read as
"this is text" and do not show) before a trigger at its start and before a trigger after
any separator (``,``, ``;``, a line break), spaces between them included. Numbers (ints
and Decimals: ids and amounts) are written as they are, so a spreadsheet still sums them.
"""

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

FORMULA_TRIGGERS = "=+-@\t\r"
_TRIGGER = re.compile(r"(^|[,;\n])( *)(?=[" + re.escape(FORMULA_TRIGGERS) + "])")

Cell = str | int | Decimal | date | None


def neutralise(text: str) -> str:
    """``text`` with a ``'`` before every formula trigger a spreadsheet could run."""
    return _TRIGGER.sub(r"\1\2'", text)


def _cell(value: Cell) -> str | int | Decimal:
    if value is None:
        return ""
    if isinstance(value, bool):  # a bool is an int: say which it is, as text
        return str(value).lower()
    if isinstance(value, int | Decimal):
        return value
    if isinstance(value, date):  # datetimes too: ISO 8601
        return value.isoformat()
    return neutralise(str(value))


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """UTF-8, comma-separated, a header row, CRLF; text neutralised (see the module)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([_cell(name) for name in header])
    for row in rows:
        writer.writerow([_cell(value) for value in row])
    return buffer.getvalue().encode("utf-8")
