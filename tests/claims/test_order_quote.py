"""The order page tells the buyer what buyer protection pays, before anything goes wrong."""

import re
from datetime import UTC, datetime

import pytest

from orders.states import PaymentMethod

PAID = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
NOW = datetime(2026, 3, 3, 10, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now(time_machine):
    time_machine.move_to(NOW, tick=False)


def _protection(client, order) -> str:
    response = client.get(f"/orders/{order.id}")
    assert response.status_code == 200
    page = response.text.replace("\xa0", " ").replace("\u202f", " ")
    if "data-protection" not in page:
        return ""
    start = page.index("data-protection")
    return page[start:page.index("</section>", start)]


def _row(section: str, claim_type: str) -> dict:
    row = re.search(rf'data-claim-type="{claim_type}">(.*?)</tr>', section, re.S).group(1)
    cells = dict(re.findall(r"data-(item|shipping|total)(?: [^>]*)?>(.*?)<", row))
    cells["cap"] = re.search(r'data-cap="(yes|no)"', row).group(1)
    return {key: value.replace("up to ", "").strip() for key, value in cells.items()}


def test_platform_payments_shipping_capped_at_100_and_total_at_10000(
        client, auth, buyer, seller, create_order):
    order = create_order(buyer=buyer, seller=seller, item_price=995_000, shipping_cost=15_000,
                         paid_at=PAID)
    auth.login(buyer.email)
    section = _protection(client, order)
    assert 'data-covered="yes"' in section
    for claim_type in ("not_received", "not_as_described", "other"):
        assert _row(section, claim_type) == {
            "item": "PLN 9,950.00", "shipping": "PLN 100.00", "total": "PLN 10,000.00",
            "cap": "yes"}
    assert "Rules version 2017-08." in section
    # 90 days of 24 h after 1 March 10:00 UTC: 30 May 12:00 in Warsaw (CEST)
    assert "A claim can be filed until 30 May 2026, 12:00 (Warsaw time)." in section


def test_bank_transfer_is_covered_without_shipping(client, auth, buyer, seller, create_order):
    order = create_order(buyer=buyer, seller=seller, item_price=12_345, shipping_cost=1_500,
                         payment_method=PaymentMethod.BANK_TRANSFER, paid_at=PAID)
    auth.login(buyer.email)
    section = _protection(client, order)
    assert 'data-covered="yes"' in section
    assert _row(section, "not_received") == {"item": "PLN 123.45", "shipping": "PLN 0.00",
                                             "total": "PLN 123.45", "cap": "no"}


def test_an_uncovered_payment_method_says_so_and_shows_no_amounts(
        client, auth, buyer, seller, create_order):
    order = create_order(buyer=buyer, seller=seller,
                         payment_method=PaymentMethod.CASH_ON_DELIVERY, paid_at=PAID)
    auth.login(buyer.email)
    section = _protection(client, order)
    assert 'data-covered="no"' in section
    assert "does not cover orders paid with “Cash on delivery”" in section
    assert "data-order-quote" not in section


def test_an_expired_filing_window_is_named(client, auth, buyer, seller, create_order,
                                          time_machine):
    order = create_order(buyer=buyer, seller=seller, paid_at=PAID)
    time_machine.move_to(datetime(2026, 6, 1, 10, 0, tzinfo=UTC), tick=False)
    auth.login(buyer.email)
    assert "The time for filing a claim on this order ended on 30 May 2026, 12:00." in \
        _protection(client, order)


def test_in_polish(client, auth, buyer, seller, create_order):
    order = create_order(buyer=buyer, seller=seller, item_price=995_000, shipping_cost=15_000,
                         paid_at=PAID)
    auth.login(buyer.email)
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "pl"
    section = _protection(client, order)
    assert "10 000,00 zł" in section and "100,00 zł" in section
    assert "Zasady w wersji 2017-08." in section


def test_only_the_buyer_and_staff_see_the_quote(client, auth, buyer, seller, staff,
                                               create_order):
    order = create_order(buyer=buyer, seller=seller, paid_at=PAID)
    auth.login(seller.email)
    assert _protection(client, order) == ""
    auth.logout()
    auth.login(staff.email)
    section = _protection(client, order)
    assert "data-order-quote" in section
    assert "File a protection claim" not in section
