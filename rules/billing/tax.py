"""Tax on invoice lines: which code and rate each line takes, and how it is rounded (pure polars).

- the code: a client's tax override (mapping `tax_overrides`), else the entity's default code;
- per line (the default, LINE_TAX_RULE, half-up: the accounting system computes tax per line and
  sums it), or per invoice by the entity's `tax_rounding` rule: the unrounded line taxes summed and
  rounded once, then spread over the lines by LARGEST_REMAINDER (rules/money.py); the line
  TaxAmounts are sent as overrides, each within one minor unit of the ledger's own per-line figure;
- Exclusive prices carry tax on top (amount x rate); Inclusive ones hold it inside
  (amount x rate / (1 + rate)).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import polars as pl

from rules.billing.money_rounding import spread_per_invoice
from rules.money import (
    DEFAULT_LEVEL,
    DEFAULT_MODE,
    LINE_TAX_RULE,
    MONEY,
    ROUNDING_MODES,
    WIDE,
    RoundingRule,
    exact_product,
    round_decimal,
    round_to_minor_units,
)
from rules.rounding_rules import TaxRounding
from rules.rule_sets import TaxOverride
from rules.settings import EntityConfig


def tax_codes(entity: EntityConfig, overrides: Sequence[TaxOverride]) -> pl.DataFrame:
    """Per client of this entity: the tax code and rate (as a fraction) its overrides name."""
    rates = entity.tax_rates()
    rows = [
        {"client_id": o.client, "tax_type": o.tax_type, "tax_fraction": rates[o.tax_type] / 100}
        for o in overrides
        if o.tax_type in rates
    ]
    return pl.DataFrame(rows, schema={"client_id": pl.Int64, "tax_type": pl.String, "tax_fraction": WIDE})


def exact_tax(amount: Decimal, fraction: Decimal, line_amount_types: str) -> Decimal:
    """The unrounded tax of one line: amount x rate (Exclusive), or the tax inside it, amount x rate / (1 + rate)."""
    return amount * fraction if line_amount_types == "Exclusive" else amount * fraction / (1 + fraction)


def line_tax(
    amount: pl.Expr,
    fraction: pl.Expr,
    currency: pl.Expr,
    line_amount_types: str,
    rule: RoundingRule = LINE_TAX_RULE,
) -> pl.Expr:
    """Tax of each line rounded by `rule` (LINE_TAX_RULE: as the accounting system books it, per line).

    Exclusive: amount x rate. Inclusive: the tax inside the amount, amount x rate / (1 + rate),
    computed with Python's Decimal (a division polars would truncate) on the few invoice lines.
    """
    if line_amount_types == "Exclusive":
        return round_to_minor_units(exact_product(amount, fraction), currency, rule).alias("tax_amount")

    def inclusive(row: dict[str, Decimal | str]) -> Decimal:
        value = exact_tax(Decimal(row["a"]), Decimal(row["f"]), line_amount_types)
        return round_decimal(value, str(row["c"]), rule)

    return (
        pl.struct(a=amount, f=fraction, c=currency)
        .map_elements(inclusive, return_dtype=MONEY)
        .alias("tax_amount")
    )


def tax_rounding_for(entity_id: str, rules: Sequence[TaxRounding], day: date) -> tuple[str, str]:
    """The entity's tax rounding (mode, level) in force on `day`; per line, half-up when none is set."""
    return next(
        ((r.mode, r.level) for r in rules if r.entity == entity_id and r.in_force(day)),
        (DEFAULT_MODE, DEFAULT_LEVEL),
    )


def with_tax(priced: pl.DataFrame, line_amount_types: str, mode: str, level: str) -> pl.DataFrame:
    """`tax_amount` of each line: per line by `mode`, or per invoice (round the sum of the unrounded
    line taxes once, spread it over the lines by LARGEST_REMAINDER)."""
    if level == "line":
        return priced.with_columns(
            line_tax(pl.col("line_amount"), pl.col("tax_fraction"), pl.col("txn_currency"), line_amount_types,
                     ROUNDING_MODES[mode])
        )  # fmt: skip
    exact = [
        exact_tax(Decimal(a), Decimal(f), line_amount_types)
        for a, f in zip(priced["line_amount"], priced["tax_fraction"], strict=True)
    ]
    keys = list(zip(priced["client_id"], priced["txn_currency"], strict=True))
    taxes = spread_per_invoice(keys, exact, [mode] * priced.height)
    return priced.with_columns(pl.Series("tax_amount", taxes, dtype=MONEY))
