"""Exact money arithmetic on polars Decimal columns, and the named rounding rules.

Every amount is a Decimal; nothing here ever touches a float. polars keeps the larger
scale when multiplying two decimals (silently rounding the product), so products are
taken at a wide scale first and rounded exactly once, by a named rule.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_FLOOR, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
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
# Group consolidation (docs/decisions/0011): a month's average rate is the mean of its daily
# cross rates, half-up to 8 decimal places; each ledger row is translated to the reporting
# currency by amount x rate, half-up to its minor units; an invoice's base total is split into
# revenue and tax in proportion to its transaction amounts, half-up, the revenue taking the rest.
AVERAGE_RATE_RULE = RoundingRule.HALF_UP
TRANSLATION_RULE = RoundingRule.HALF_UP
BASE_SPLIT_RULE = RoundingRule.HALF_UP
# Reconciliation (docs/decisions/0024): a percentage limit (amount tolerance, write-off) is the amount
# x percent / 100, half-up to minor units; an amount due in another currency is converted to the bank's
# by FX_CONVERSION_RULE, and the realised FX difference is the received amount less that conversion.
PERCENT_LIMIT_RULE = RoundingRule.HALF_UP


def minor_units(currency: str) -> int:
    """Number of decimal places of `currency` (ISO 4217), 2 unless listed otherwise."""
    return _MINOR_UNITS.get(currency, 2)


def money_text(amount: Decimal, currency: str) -> str:
    """An amount already exact to `currency`'s minor units, written with exactly that many places
    (`1.50`, not the stored `1.5000`) for reasons and messages people read."""
    return str(amount.quantize(Decimal(1).scaleb(-minor_units(currency))))


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


# --------------------------------------------------------------------------------------------------
# Configurable rounding (docs/decisions/0009): a mode per entity or client, at line or invoice level.
# --------------------------------------------------------------------------------------------------

# The mapping document names modes in bookkeeping words; each maps to one RoundingRule.
ROUNDING_MODES = {"half_up": RoundingRule.HALF_UP, "half_even": RoundingRule.HALF_EVEN}
# How an invoice-level rounding difference is spread over lines: each line takes its exact amount
# rounded down to minor units, and the minor units still missing from the rounded invoice total go,
# one each, to the lines with the largest dropped remainders (ties: the earlier line). Every line
# then ends within one minor unit of its exact amount, and the lines sum to the total exactly.
LARGEST_REMAINDER = "largest_remainder"
# The defaults reproduce what the accounting system books (half-up, per line).
DEFAULT_MODE = "half_up"
DEFAULT_LEVEL = "line"
# LINE_AMOUNT_RULE in the mapping document's words: how the ledger prices every line.
LEDGER_MODE = "half_up"
# The explicit rounding line: every invoice line is priced as the ledger prices it (LINE_AMOUNT_RULE,
# per line), and the configured money rounding decides the invoice total only. When the two differ,
# one untaxed line of quantity 1 carries the difference (a few minor units, of either sign), so the
# ledger books every line as sent and the invoice still totals what the configured rule gives.
ROUNDING_LINE = "rounding"


def round_by_mode(amount: pl.Expr, currency: pl.Expr, mode: pl.Expr) -> pl.Expr:
    """Round to minor units by each row's configured mode (`half_up` or `half_even`, see ROUNDING_MODES)."""
    return (
        pl.when(mode == "half_even")
        .then(round_to_minor_units(amount, currency, RoundingRule.HALF_EVEN))
        .otherwise(round_to_minor_units(amount, currency, RoundingRule.HALF_UP))
    )


def rounding_label(level: str, mode: str) -> str:
    """The rule recorded on a line: `line:half_up`, or `invoice:half_even+largest_remainder`."""
    return f"{level}:{mode}" if level == "line" else f"{level}:{mode}+{LARGEST_REMAINDER}"


def rounding_line_description(level: str, mode: str) -> str:
    """What the customer reads on the rounding line: `Rounding (invoice:half_up)`."""
    return f"Rounding ({level}:{mode})"


def allocate_largest_remainder(exact: Sequence[Decimal], total: Decimal, currency: str) -> list[Decimal]:
    """Split `total` (already rounded to `currency`'s minor units) over lines by LARGEST_REMAINDER.

    `exact` are the lines' unrounded amounts, and `total` must lie between the sum of their
    floors and the sum of their ceilings (true for any rounding of their sum); anything else is
    a programming error and raises ValueError rather than moving money between lines.
    """
    quantum = Decimal(1).scaleb(-minor_units(currency))
    floors = [value.quantize(quantum, rounding=ROUND_FLOOR) for value in exact]
    missing = (total - sum(floors, Decimal(0))) / quantum
    if missing != missing.to_integral_value() or not 0 <= missing <= len(exact):
        raise ValueError(f"total {total} cannot be allocated over lines summing to {sum(exact, Decimal(0))}")
    # Largest remainder first; the earlier line wins a tie, so reruns allocate identically.
    order = sorted(range(len(exact)), key=lambda i: (-(exact[i] - floors[i]), i))
    winners = set(order[: int(missing)])
    return [floors[i] + quantum if i in winners else floors[i] for i in range(len(exact))]


def round_total_and_allocate(exact: Sequence[Decimal], currency: str, mode: str) -> list[Decimal]:
    """Invoice-level rounding: round the sum of `exact` once by `mode`, then allocate it to the lines."""
    total = round_decimal(sum(exact, Decimal(0)), currency, ROUNDING_MODES[mode])
    return allocate_largest_remainder(exact, total, currency)
