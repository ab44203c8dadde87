"""The recoveries CSV: what the sellers owe the platform for the claims it paid, as the
marketplace (``GET /api/v1/recoveries.csv``) and finance (the payouts page) download it.

A pure function of plain values: no database, no Flask.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from arbiter.money import to_decimal_string
from arbiter.spreadsheets import csv_bytes

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
    UTC; text that a spreadsheet would run as a formula is kept as text
    (:mod:`arbiter.spreadsheets`)."""
    return csv_bytes(CSV_COLUMNS, ([
        line.settlement_id, line.order_external_id, line.seller_email, line.seller_name,
        line.claim_id, Decimal(to_decimal_string(line.amount_minor)), line.currency,
        line.created_at, line.due_at, line.state, line.settled_at,
    ] for line in lines))


def line_for(row) -> RecoveryLine:
    """A recovery row of the ledger (with its order and seller loaded) as a CSV line."""
    return RecoveryLine(
        settlement_id=row.id, order_external_id=row.order.external_id,
        seller_email=row.order.seller.email, seller_name=row.order.seller.name,
        claim_id=row.claim_id, amount_minor=row.amount, currency=row.currency,
        created_at=row.created_at, due_at=row.due_at, state=row.state.value,
        settled_at=row.settled_at)
