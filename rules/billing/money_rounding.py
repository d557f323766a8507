"""The configured money rounding of invoice drafts (mapping `money_rounding`; docs/decisions/0009).

Every line is priced as the ledger prices it (LINE_AMOUNT_RULE); the client's (else the entity's)
rule decides the money total only: per line (default: half-up, the same as the ledger), the lines
each rounded by the mode; per invoice, the exact sum rounded once by the mode and spread over the
lines by LARGEST_REMAINDER. When that total differs from the sum of the ledger-priced lines, one
explicit ROUNDING_LINE carries the difference, so the invoice totals what the rule gives.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import polars as pl

from rules.billing.discounts import INVOICE_LEVEL_PROJECT
from rules.money import (
    DEFAULT_LEVEL,
    DEFAULT_MODE,
    MONEY,
    QUANTITY,
    ROUNDING_LINE,
    exact_product,
    round_by_mode,
    round_total_and_allocate,
    rounding_label,
    rounding_line_description,
)
from rules.rounding_rules import MoneyRounding
from rules.settings import EntityConfig


def money_rounding_for(
    entity_id: str, rules: Sequence[MoneyRounding], day: date
) -> tuple[str, str, pl.DataFrame]:
    """The entity's default money rounding (mode, level) in force on `day`, and each overriding client's."""
    live = [r for r in rules if r.in_force(day)]
    mode, level = next(
        ((r.mode, r.level) for r in live if r.entity == entity_id), (DEFAULT_MODE, DEFAULT_LEVEL)
    )
    clients = pl.DataFrame(
        [{"client_id": r.client, "money_mode": r.mode, "money_level": r.level} for r in live if r.client],
        schema={"client_id": pl.Int64, "money_mode": pl.String, "money_level": pl.String},
    )
    return mode, level, clients


def spread_per_invoice(
    keys: Sequence[tuple[object, ...]], exact: Sequence[Decimal], modes: Sequence[str]
) -> list[Decimal]:
    """Invoice-level rounding of rows grouped by (client, currency, ...): each group's exact sum is
    rounded once by its mode and spread back by LARGEST_REMAINDER (rules/money.py), in row order."""
    groups: dict[tuple[object, ...], list[int]] = {}
    for index, key in enumerate(keys):
        groups.setdefault(key, []).append(index)
    result = [Decimal(0)] * len(exact)
    for rows in groups.values():
        currency = str(keys[rows[0]][1])
        for index, amount in zip(
            rows, round_total_and_allocate([exact[i] for i in rows], currency, modes[rows[0]]), strict=True
        ):
            result[index] = amount
    return result


def configured_line_amounts(ordered: pl.DataFrame) -> pl.Expr:
    """Line amounts by each row's configured money rounding: per line by its mode, or per invoice
    (spread). They sum to the configured total, and are what the discounts are a percentage of."""
    per_line = round_by_mode(
        exact_product(pl.col("quantity"), pl.col("unit_price")), pl.col("txn_currency"), pl.col("money_mode")
    )
    invoice_rows = ordered.with_row_index("row").filter(pl.col("money_level") == "invoice")
    if invoice_rows.height == 0:
        return per_line.alias("line_amount")
    exact = invoice_rows.select(exact_product(pl.col("quantity"), pl.col("unit_price")).alias("x"))[
        "x"
    ].to_list()
    spread = spread_per_invoice(
        list(zip(invoice_rows["client_id"], invoice_rows["txn_currency"], strict=True)),
        exact,
        invoice_rows["money_mode"].to_list(),
    )
    by_row = dict(zip(invoice_rows["row"].to_list(), spread, strict=True))
    full = pl.Series([by_row.get(i) for i in range(ordered.height)], dtype=MONEY)
    return (
        pl.when(pl.col("money_level") == "invoice")
        .then(pl.lit(full))
        .otherwise(per_line)
        .cast(MONEY)
        .alias("line_amount")
    )


def rounding_lines(configured: pl.DataFrame, ledger: pl.DataFrame, entity: EntityConfig) -> pl.DataFrame:
    """One ROUNDING_LINE per invoice whose configured total differs from the sum of its ledger-priced
    lines, for the difference (same columns as `ledger`; none when they agree, as with the defaults)."""
    keys = ["client_id", "txn_currency"]
    totals = (
        configured.group_by(keys)
        .agg(
            pl.col("line_amount").sum().alias("configured"),
            pl.first("money_mode", "money_level", "contact_name", "client_name"),
        )
        .join(ledger.group_by(keys).agg(pl.col("line_amount").sum().alias("ledger")), on=keys)
        .with_columns((pl.col("configured") - pl.col("ledger")).cast(MONEY).alias("difference"))
        .filter(pl.col("difference") != 0)
        .sort(keys)
    )
    levels, modes = totals["money_level"].to_list(), totals["money_mode"].to_list()
    rows = totals.with_columns(
        pl.Series("description", [rounding_line_description(lv, m) for lv, m in zip(levels, modes, strict=True)],
                  dtype=pl.String),
        pl.Series("rounding_rule", [rounding_label(lv, m) for lv, m in zip(levels, modes, strict=True)],
                  dtype=pl.String),
    )  # fmt: skip
    values = {
        "quantity": pl.lit(Decimal(1), QUANTITY),
        "unit_price": pl.col("difference"),  # may be negative: the ledger refuses only a negative quantity
        "line_amount": pl.col("difference"),
        "source_kind": pl.lit(ROUNDING_LINE),
        "rate_source": pl.format("rounding {}", "rounding_rule"),
        "line_ids": pl.lit([], pl.List(pl.String)),
        "project_id": pl.lit(INVOICE_LEVEL_PROJECT, pl.Int64),  # it belongs to no one project
        "account_code": pl.lit(entity.rounding_account_code),
    }
    return rows.select(
        values.get(name, pl.col(name) if name in rows.columns else pl.lit(None)).cast(dtype).alias(name)
        for name, dtype in ledger.schema.items()
    )
