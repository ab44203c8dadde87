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


# --- the pages' format: what the site shows in a language can be typed back -------------

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from arbiter.money import MAX_MINOR, amount_example  # noqa: E402

amounts = st.integers(min_value=0, max_value=MAX_MINOR)


@given(amounts, st.sampled_from(["pl", "en"]))
def test_what_the_site_shows_parses_back(minor, locale):
    assert parse_amount(format_money(minor, "PLN", locale), locale=locale) == minor


@given(amounts, st.sampled_from(["pl", "en"]))
def test_the_hint_format_and_the_wire_format_parse_back_in_either_language(minor, locale):
    assert parse_amount(amount_example(locale, minor), locale=locale) == minor
    assert parse_amount(to_decimal_string(minor), locale=locale) == minor


@given(amounts, st.sampled_from([" ", "\u00a0", "\u202f"]))
def test_polish_groups_with_any_kind_of_space(minor, space):
    typed = amount_example("pl", minor).replace("\u00a0", space)
    assert parse_amount(typed, locale="pl") == minor


@pytest.mark.parametrize(("typed", "locale", "grosze"), [
    ("1 500,50", "pl", 150_050), ("1\u00a0500,50", "pl", 150_050),
    ("1\u202f500,50", "pl", 150_050), ("1500,50", "pl", 150_050), ("1500.50", "pl", 150_050),
    ("1 500", "pl", 150_000), ("10 000,00 zł", "pl", 1_000_000),
    ("1,500.50", "en", 150_050), ("1500.50", "en", 150_050), ("120,50", "en", 12_050),
    ("1,500", "en", 150_000), ("PLN 1,500.50", "en", 150_050)])
def test_the_pages_read_the_locales_format(typed, locale, grosze):
    assert parse_amount(typed, locale=locale) == grosze


@pytest.mark.parametrize(("typed", "locale"), [
    ("1.500,50", "pl"), ("1,500.50", "pl"), ("1,500", "pl"), ("1 500.50", "pl"),
    ("1 50,00", "pl"), ("1 5000,00", "pl"), ("1\u00a0500 000,00", "pl"), ("1 500,", "pl"),
    ("1e3", "pl"), ("1 500,505", "pl"), ("-1 500,50", "pl"), ("1 500,50 zł zł", "pl"),
    ("1 500,50", "en"), ("1.500,50", "en"), ("1,500.505", "en"), ("1,50.00", "en"),
    ("1e3", "en"), ("NaN", "en"), ("1,5000", "en")])
def test_the_pages_stay_strict(typed, locale):
    with pytest.raises(InvalidAmount):
        parse_amount(typed, locale=locale)


@pytest.mark.parametrize("typed", ["1 500,50", "1,500.50", "1500,50", "1500.50 zł"])
def test_the_api_reads_its_documented_format_only(typed):
    with pytest.raises(InvalidAmount):
        parse_amount(typed)


def test_the_example_is_in_the_locales_format():
    assert amount_example("pl").replace("\u00a0", " ") == "1 500,50"
    assert amount_example("en") == "1,500.50"
    assert amount_example(None) == "1500.50"
