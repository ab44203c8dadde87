"""Amounts typed into forms: the Polish decimal comma as well as the point, nothing looser."""

import pytest

from arbiter.errors import ValidationFailed
from arbiter.validation import form_amount


@pytest.mark.parametrize(("typed", "grosze"), [
    ("50,00", 5_000), ("50.00", 5_000), ("50,5", 5_050), (" 120,50 ", 12_050), ("7", 700)])
def test_either_decimal_mark_is_read(typed, grosze):
    assert form_amount(typed, "amount") == grosze


@pytest.mark.parametrize("typed", [
    "1,000.00", "1.000,00", "1 000,00", "50,005", "50,", ",5", "1e3", "-5,00", "0,00", "NaN",
    "50,00,00"])
def test_anything_looser_is_refused_naming_the_field(typed):
    with pytest.raises(ValidationFailed) as refused:
        form_amount(typed, "amount")
    assert list(refused.value.fields) == ["amount"]


def test_an_empty_box_is_no_amount():
    assert form_amount("", "amount") is None and form_amount(None, "amount") is None
