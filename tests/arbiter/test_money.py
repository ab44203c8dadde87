import pytest

from arbiter.money import InvalidAmount, Money, format_money, parse_amount, to_decimal_string


@pytest.mark.parametrize(
    ("text", "grosze"),
    [("9950.00", 995_000), ("0", 0), ("0.01", 1), ("12.5", 1_250), ("10000", 1_000_000)],
)
def test_plain_decimal_strings_become_grosze(text, grosze):
    assert parse_amount(text) == grosze


@pytest.mark.parametrize(
    "text", ["12.345", "1e3", "NaN", "Infinity", "-1", "-0.01", "abc", "", "1.", ".5", "01",
             "1,50", "+1", "0x10", "1 000", "99999999999"],
)
def test_ambiguous_or_malformed_amounts_are_refused(text):
    with pytest.raises(InvalidAmount):
        parse_amount(text)


def test_zero_can_be_refused_where_a_positive_amount_is_required():
    with pytest.raises(InvalidAmount, match="greater than zero"):
        parse_amount("0.00", allow_zero=False)


def test_floats_are_refused():
    with pytest.raises(InvalidAmount):
        parse_amount(12.5)  # type: ignore[arg-type]


def test_wire_format_has_two_decimals():
    assert to_decimal_string(1_000_000) == "10000.00"
    assert to_decimal_string(5) == "0.05"


def test_polish_and_english_formatting():
    assert format_money(1_000_000, "PLN", "pl").replace("\xa0", " ") == "10 000,00 zł"
    assert format_money(1_000_000, "PLN", "en").replace("\xa0", " ") == "PLN 10,000.00"


def test_money_value_object_round_trips():
    assert str(Money.parse("99.90")) == "99.90 PLN"
    assert Money(12_345).format("pl").replace("\xa0", " ") == "123,45 zł"
