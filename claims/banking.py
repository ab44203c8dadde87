"""Payout paperwork: the buyer's account number and the finance CSV (pure functions: plain
values in, plain values out), and the one question about accounts that needs the database:
which buyers share a bank account (:func:`named_accounts`, read by the payout hold and
the abuse signals alike).
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import ColumnElement, and_, case, func, literal, select, union
from stdnum import iban
from stdnum.exceptions import InvalidChecksum, InvalidComponent, ValidationError

from arbiter.money import to_decimal_string
from arbiter.spreadsheets import csv_bytes

_SEPARATORS = re.compile(r"[\s-]+")
DOMESTIC_COUNTRY = "PL"
DOMESTIC_DIGITS = 26  # a Polish NRB: the IBAN without "PL"


class InvalidAccount(ValueError):
    """Not an account number a bank transfer can go to."""


def normalise_account(text: str) -> str:
    """The account as an IBAN without spaces, e.g. ``PL61109010140000071219812874``.

    Accepts the usual ways people write it: spaces or dashes in groups, lower case, and a
    Polish 26-digit number without the ``PL`` prefix. python-stdnum checks it against the
    IBAN registry: a country that has IBANs, that country's length and format, the ISO
    7064 mod-97 check digits, and a national check where stdnum knows one. A mistyped
    digit is caught here and not by a bounced transfer.
    """
    compact = _SEPARATORS.sub("", text or "").upper()
    if compact.isdigit() and len(compact) == DOMESTIC_DIGITS:
        compact = DOMESTIC_COUNTRY + compact
    if not compact.isascii() or not compact.isalnum():
        raise InvalidAccount("not an IBAN")
    try:
        return iban.validate(compact)
    except InvalidChecksum:
        raise InvalidAccount("check digits do not match") from None
    except InvalidComponent:
        raise InvalidAccount("not a country with IBANs") from None
    except ValidationError:  # InvalidFormat, InvalidLength
        raise InvalidAccount("wrong length or format for the country") from None


def account_key(column) -> ColumnElement[str]:
    """An account number as one IBAN string, in SQL on both engines: spaces and dashes
    dropped, upper case, and a 26-digit Polish NRB given the ``PL`` it lacks (what
    :func:`normalise_account` does to what a buyer types): the services store accounts
    compact, but older rows and imports need not be."""
    compact = func.upper(func.replace(func.replace(column, " ", ""), "-", ""))
    domestic = and_(func.length(compact) == 26, func.substr(compact, 1, 1).between("0", "9"))
    return case((domestic, literal("PL") + compact), else_=compact)


def named_accounts():
    """Every (buyer, account) a claim or a payout names, normalised, as a CTE; erased ones
    left out. The one definition of who holds which bank account: the payout hold
    (:func:`account_owners`) and the abuse signals (signals.queries) both read it."""
    from claims.models import Claim, Payout

    claims = select(Claim.buyer_id.label("buyer_id"),
                    account_key(Claim.payout_account).label("account"))
    payouts = select(Payout.buyer_id.label("buyer_id"),
                     account_key(Payout.account).label("account"))
    named = union(claims, payouts).subquery("named_accounts")
    return (select(named.c.buyer_id, named.c.account).where(named.c.account != "")
            .cte("accounts"))


def account_owners(accounts: Iterable[str]) -> dict[str, set[int]]:
    """For each account (normalised IBAN, as :func:`normalise_account` returns it), the
    buyers (user ids) whose claims or payouts name it, whatever their state (a claim under
    review, a payout waiting, exported, paid or returned). One query for a whole page of
    payouts; an erased account (empty) belongs to nobody.

    A payout's account is shared when its set holds anyone but the payout's own buyer.
    """
    from arbiter.extensions import db

    wanted = sorted({account for account in accounts if account})
    owners: dict[str, set[int]] = {account: set() for account in wanted}
    if not wanted:
        return owners
    named = named_accounts()
    rows = db.session.execute(select(named.c.account, named.c.buyer_id).distinct()
                              .where(named.c.account.in_(wanted)))
    for account, buyer_id in rows:
        owners[account].add(buyer_id)
    return owners


def buyers_sharing_account(account: str, *, buyer_id: int | None = None) -> list[int]:
    """The other buyers (user ids, ascending) whose claims or payouts name ``account``
    besides ``buyer_id``: the abuse signal "a bank account shared by several buyers".

    ``account`` may be written as people write it (normalised here; an invalid one is
    shared by nobody). A payout whose account this returns anyone for is held from export
    until a senior releases it (claims.services.release_payout).
    """
    try:
        account = normalise_account(account)
    except InvalidAccount:
        return []
    return sorted(account_owners([account])[account] - {buyer_id})


def grouped(account: str) -> str:
    """``PL61 1090 1014 ...``: how people read an account number."""
    return " ".join(account[i:i + 4] for i in range(0, len(account), 4))


CSV_COLUMNS = (
    "payout_id", "claim_id", "beneficiary_name", "account", "amount", "currency", "title",
    "decision_number",
)


@dataclass(frozen=True, slots=True)
class PayoutLine:
    payout_id: int
    claim_id: int
    beneficiary_name: str
    account: str
    amount_minor: int
    currency: str
    decision_number: str | None = None  # POK/<year>/<n> of the claim's decision


def transfer_title(claim_id: int, decision_number: str | None = None) -> str:
    """The bank transfer title: ``Arbiter POK/2026/000045 claim 42``.

    POK = Program Ochrony Kupujących, the programme's Polish name; the decision number
    is what the buyer's decision document carries. ASCII only: banks differ in which
    letters they keep.
    """
    if decision_number:
        return f"Arbiter {decision_number} claim {claim_id}"
    return f"Arbiter POK claim {claim_id}"


def payout_csv(lines: Iterable[PayoutLine]) -> bytes:
    """The batch file for the finance team: UTF-8, comma-separated, a header row, CRLF.

    Amounts are plain decimal numbers with a dot and two decimals ("1234.56"); names that
    a spreadsheet would run as a formula stay text (:mod:`arbiter.spreadsheets`).
    """
    return csv_bytes(CSV_COLUMNS, ([
        line.payout_id, line.claim_id, line.beneficiary_name, line.account,
        Decimal(to_decimal_string(line.amount_minor)), line.currency,
        transfer_title(line.claim_id, line.decision_number), line.decision_number,
    ] for line in lines))
