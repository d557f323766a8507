"""Exact money arithmetic on polars Decimal columns, and the named rounding rules.

Every amount is a Decimal; nothing here ever touches a float. polars keeps the larger
scale when multiplying two decimals (silently rounding the product), so products are
taken at a wide scale first and rounded exactly once, by a named rule.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from enum import Enum

import polars as pl

# Stored precision of money and quantities. Amounts are rounded to the currency's
# minor units but stored at scale 4 so that KWD (3 decimals) fits the same column.
MONEY = pl.Decimal(18, 4)
QUANTITY = pl.Decimal(18, 4)
FX_RATE = pl.Decimal(18, 8)
WIDE = pl.Decimal(38, 8)

# ISO 4217 minor units that differ from 2 (the rest use 2).
_MINOR_UNITS = {
    "BIF": 0,
    "CLP": 0,
    "DJF": 0,
    "GNF": 0,
    "ISK": 0,
    "JPY": 0,
    "KMF": 0,
    "KRW": 0,
    "PYG": 0,
    "RWF": 0,
    "UGX": 0,
    "UYI": 0,
    "VND": 0,
    "VUV": 0,
    "XAF": 0,
    "XOF": 0,
    "XPF": 0,
    "BHD": 3,
    "IQD": 3,
    "JOD": 3,
    "KWD": 3,
    "LYD": 3,
    "OMR": 3,
    "TND": 3,
}


class RoundingRule(Enum):
    """A named way to round money; each rounding in the pipeline cites one."""

    HALF_UP = "half_away_from_zero"
    HALF_EVEN = "half_to_even"

    @property
    def decimal_mode(self) -> str:
        """The equivalent `decimal` module rounding constant."""
        return ROUND_HALF_UP if self is RoundingRule.HALF_UP else ROUND_HALF_EVEN


# The accounting system computes LineAmount = Quantity x UnitAmount rounded half-up to
# the currency's minor units, and tax per line the same way; drafts round as it books.
LINE_AMOUNT_RULE = RoundingRule.HALF_UP
LINE_TAX_RULE = RoundingRule.HALF_UP
# Conversion to base currency: each line's amount x rate, half-up to minor units.
FX_CONVERSION_RULE = RoundingRule.HALF_UP


def minor_units(currency: str) -> int:
    """Number of decimal places of `currency` (ISO 4217), 2 unless listed otherwise."""
    return _MINOR_UNITS.get(currency, 2)


def round_to_minor_units(amount: pl.Expr, currency: pl.Expr, rule: RoundingRule) -> pl.Expr:
    """Round a decimal expression to each row's currency minor units by `rule`, stored at MONEY scale."""
    wide = amount.cast(WIDE)
    units = currency.replace_strict(_MINOR_UNITS, default=2, return_dtype=pl.Int8)
    rounded = (
        pl.when(units == 0)
        .then(wide.round(0, mode=rule.value))
        .when(units == 3)
        .then(wide.round(3, mode=rule.value))
        .otherwise(wide.round(2, mode=rule.value))
    )
    return rounded.cast(MONEY)


def exact_product(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """a x b at scale 8, before any rounding (exact for scale-4 operands)."""
    return a.cast(WIDE) * b.cast(WIDE)


def round_decimal(value: Decimal, currency: str, rule: RoundingRule) -> Decimal:
    """Round one Python Decimal to `currency`'s minor units by `rule` (for payloads and reports)."""
    quantum = Decimal(1).scaleb(-minor_units(currency))
    return value.quantize(quantum, rounding=rule.decimal_mode)
