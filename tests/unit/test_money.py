"""Rounding rules with ties, minor units, and exact products (expected values written by hand)."""

from decimal import Decimal as D

import polars as pl
import pytest

from rules.money import MONEY, RoundingRule, exact_product, minor_units, round_decimal, round_to_minor_units


def _round(values: list[str], currencies: list[str], rule: RoundingRule) -> list[D]:
    frame = pl.DataFrame(
        {"a": [D(v) for v in values], "c": currencies}, schema={"a": pl.Decimal(18, 4), "c": pl.String}
    )
    return frame.select(round_to_minor_units(pl.col("a"), pl.col("c"), rule))["a"].to_list()


def test_half_up_rounds_ties_away_from_zero() -> None:
    assert _round(["0.125", "-0.125", "2.675", "0.0049"], ["USD"] * 4, RoundingRule.HALF_UP) == [
        D("0.13"),
        D("-0.13"),
        D("2.68"),
        D("0.00"),
    ]


def test_half_even_rounds_ties_to_even() -> None:
    assert _round(["0.125", "0.135", "-0.125"], ["USD"] * 3, RoundingRule.HALF_EVEN) == [
        D("0.12"),
        D("0.14"),
        D("-0.12"),
    ]


def test_minor_units_per_currency() -> None:
    assert _round(["1234.5", "1.0005", "19.995"], ["JPY", "KWD", "EUR"], RoundingRule.HALF_UP) == [
        D("1235"),
        D("1.001"),
        D("20.00"),
    ]
    assert (minor_units("JPY"), minor_units("KWD"), minor_units("GBP")) == (0, 3, 2)


def test_product_is_exact_before_rounding() -> None:
    # polars alone would keep scale 4 and give 234.4766; the exact product is 234.47655.
    frame = pl.DataFrame({"h": [D("2.3450")], "r": [D("99.9900")]}, schema={"h": MONEY, "r": MONEY})
    product = frame.select(exact_product(pl.col("h"), pl.col("r")).alias("p"))["p"][0]
    assert product == D("234.47655")
    rounded = frame.select(
        round_to_minor_units(
            exact_product(pl.col("h"), pl.col("r")), pl.lit("USD"), RoundingRule.HALF_UP
        ).alias("x")
    )["x"][0]
    assert rounded == D("234.48")


@pytest.mark.parametrize(
    ("value", "currency", "rule", "expected"),
    [
        ("10.005", "USD", RoundingRule.HALF_UP, "10.01"),
        ("10.005", "USD", RoundingRule.HALF_EVEN, "10.00"),
        ("10.5", "JPY", RoundingRule.HALF_EVEN, "10"),
        ("0.0125", "KWD", RoundingRule.HALF_UP, "0.013"),
    ],
)
def test_round_decimal(value: str, currency: str, rule: RoundingRule, expected: str) -> None:
    assert round_decimal(D(value), currency, rule) == D(expected)
