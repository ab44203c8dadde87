"""The recoveries CSV: what the sellers owe the platform for the claims it paid, as the
marketplace (``GET /api/v1/recoveries.csv``) and finance (the payouts page) download it.

A pure function of plain values: no database, no Flask.
"""

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from arbiter.money import to_decimal_string
from claims.banking import _cell as spreadsheet_text

CSV_COLUMNS = (
    "settlement_id", "order_external_id", "seller_email", "seller_name", "claim_id",
    "amount", "currency", "created_at", "due_at", "state", "settled_at",
)


@dataclass(frozen=True, slots=True)
class RecoveryLine:
    settlement_id: int
    order_external_id: str
    seller_email: str
    seller_name: str
    claim_id: int | None
    amount_minor: int
    currency: str
    created_at: datetime
    due_at: datetime
    state: str
    settled_at: datetime | None


def recoveries_csv(lines: Iterable[RecoveryLine]) -> bytes:
    """UTF-8, comma-separated, a header row, CRLF; amounts as "1234.56", times ISO 8601 in
    UTC; text that a spreadsheet would run as a formula is kept as text."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for line in lines:
        writer.writerow([
            line.settlement_id, spreadsheet_text(line.order_external_id),
            spreadsheet_text(line.seller_email), spreadsheet_text(line.seller_name),
            line.claim_id or "", to_decimal_string(line.amount_minor), line.currency,
            line.created_at.isoformat(), line.due_at.isoformat(), line.state,
            line.settled_at.isoformat() if line.settled_at else "",
        ])
    return buffer.getvalue().encode("utf-8")


def line_for(row) -> RecoveryLine:
    """A recovery row of the ledger (with its order and seller loaded) as a CSV line."""
    return RecoveryLine(
        settlement_id=row.id, order_external_id=row.order.external_id,
        seller_email=row.order.seller.email, seller_name=row.order.seller.name,
        claim_id=row.claim_id, amount_minor=row.amount, currency=row.currency,
        created_at=row.created_at, due_at=row.due_at, state=row.state.value,
        settled_at=row.settled_at)
