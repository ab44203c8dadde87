"""Amounts typed into forms: the page language's own format as well as the plain one,
nothing looser."""

import pytest

from arbiter.errors import ValidationFailed
from arbiter.validation import form_amount


@pytest.mark.parametrize(("typed", "grosze"), [
    ("50,00", 5_000), ("50.00", 5_000), ("50,5", 5_050), (" 120,50 ", 12_050), ("7", 700)])
@pytest.mark.parametrize("locale", ["pl", "en"])
def test_either_decimal_mark_is_read(typed, grosze, locale):
    assert form_amount(typed, "amount", locale) == grosze


def test_the_sites_own_polish_format_is_read():
    """What a Polish page shows ("1 500,50 zł", no-break spaces) can be typed back."""
    assert form_amount("1 500,50", "amount", "pl") == 150_050
    assert form_amount("1\u00a0500,50", "amount", "pl") == 150_050
    assert form_amount("1,500.50", "amount", "en") == 150_050


@pytest.mark.parametrize("typed", [
    "1,000.00", "1.000,00", "50,005", "50,", ",5", "1e3", "-5,00", "0,00", "NaN",
    "50,00,00", "1 00,00"])
def test_anything_looser_is_refused_naming_the_field(typed):
    with pytest.raises(ValidationFailed) as refused:
        form_amount(typed, "amount", "pl")
    assert list(refused.value.fields) == ["amount"]
    assert "1 500,50" in refused.value.message.replace("\u00a0", " ")


def test_an_empty_box_is_no_amount():
    assert form_amount("", "amount") is None and form_amount(None, "amount") is None
