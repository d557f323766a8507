"""Discount lines for invoice drafts (pure polars).

A discount is its own negative invoice line ("Discount 10% (RULE): ..."), so the customer
sees it and the ledger books it; its tax follows the line it discounts. Percentages are
rounded to the currency's minor units by the client's money-rounding mode (`money_mode` of the
lines it discounts; DISCOUNT_RULE when the lines carry none), each discount line on its own;
a fixed discount never exceeds what it discounts, so no line or invoice goes below zero.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import polars as pl

from rules.money import MONEY, QUANTITY, WIDE, RoundingRule, exact_product, round_by_mode
from rules.rule_sets import Discount

DISCOUNT_RULE = RoundingRule.HALF_UP
_DISCOUNT_MODE = "half_up"  # DISCOUNT_RULE in the mapping document's words (rules/money.py ROUNDING_MODES)
INVOICE_LEVEL_PROJECT = 0  # project_id of an invoice-level discount line: it belongs to no one project

_RULE_SCHEMA = pl.Schema(
    {
        "discount_id": pl.String(), "discount_client": pl.Int64(), "discount_project": pl.Int64(),
        "discount_kind": pl.String(), "discount_value": QUANTITY, "discount_level": pl.String(),
        "discount_applies_to": pl.String(),
    }
)  # fmt: skip


def _rules(discounts: Sequence[Discount]) -> pl.DataFrame:
    rows = [
        {
            "discount_id": d.id, "discount_client": d.client, "discount_project": d.project,
            "discount_kind": d.kind, "discount_value": d.value, "discount_level": d.level,
            "discount_applies_to": d.applies_to,
        }
        for d in discounts
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=_RULE_SCHEMA)


def _matching(lines: pl.DataFrame, rules: pl.DataFrame) -> pl.DataFrame:
    """Each priced line with the discount that applies to it: the project's, else the client's."""
    by_project = rules.filter(pl.col("discount_project").is_not_null()).drop("discount_client")
    by_client = rules.filter(pl.col("discount_client").is_not_null()).drop("discount_project")
    project = lines.join(by_project, left_on="project_id", right_on="discount_project", how="inner")
    client = lines.join(by_client, left_on="client_id", right_on="discount_client", how="inner").join(
        project.select("row_id"), on="row_id", how="anti"
    )
    matched = pl.concat([project, client], how="diagonal_relaxed")
    applies = pl.col("discount_applies_to")
    return matched.filter((applies == "all") | (applies == pl.col("source_kind")))


def _label(amount_text: pl.Expr) -> pl.Expr:
    return (
        pl.when(pl.col("discount_kind") == "percent")
        .then(pl.format("Discount {}% ({})", pl.col("discount_value").cast(pl.String), pl.col("discount_id")))
        .otherwise(pl.format("Discount {} ({})", amount_text, pl.col("discount_id")))
    )


def discount_lines(priced: pl.DataFrame, discounts: Sequence[Discount]) -> pl.DataFrame:
    """Negative lines for every discount that applies to `priced` (lines with `line_amount`), same columns."""
    if not discounts or priced.height == 0:
        return priced.head(0)
    lines = priced.with_row_index("row_id")
    if "money_mode" not in lines.columns:
        lines = lines.with_columns(pl.lit(_DISCOUNT_MODE).alias("money_mode"))
    matched = _matching(lines, _rules(discounts))
    percent = pl.col("discount_value").cast(WIDE) * pl.lit(Decimal("0.01"), WIDE)

    per_line = matched.filter(pl.col("discount_level") == "line").with_columns(
        pl.when(pl.col("discount_kind") == "percent")
        .then(
            round_by_mode(
                exact_product(pl.col("line_amount"), percent), pl.col("txn_currency"), pl.col("money_mode")
            )
        )
        .otherwise(pl.min_horizontal(pl.col("discount_value"), pl.col("line_amount")).cast(MONEY))
        .alias("discount")
    )
    per_line = per_line.with_columns(
        pl.concat_str(
            _label(pl.col("discount_value").cast(pl.String)), pl.lit(": "), pl.col("description")
        ).alias("description")
    )

    invoice = (
        matched.filter(pl.col("discount_level") == "invoice")
        .group_by("client_id", "txn_currency", "discount_id")
        .agg(
            pl.col("line_amount").sum().alias("eligible"),
            pl.first("discount_kind", "discount_value", "contact_name", "client_name", "money_mode"),
            *[pl.first(c) for c in ("account_code",) if c in matched.columns],
        )
        .with_columns(
            pl.when(pl.col("discount_kind") == "percent")
            .then(
                round_by_mode(
                    exact_product(pl.col("eligible"), percent), pl.col("txn_currency"), pl.col("money_mode")
                )
            )
            .otherwise(pl.min_horizontal(pl.col("discount_value"), pl.col("eligible")).cast(MONEY))
            .alias("discount"),
            pl.lit(INVOICE_LEVEL_PROJECT, pl.Int64).alias("project_id"),
        )
        .with_columns(_label(pl.col("discount_value").cast(pl.String)).alias("description"))
    )
    rows = pl.concat([per_line, invoice], how="diagonal_relaxed").filter(pl.col("discount") > 0)
    overrides = {
        "quantity": pl.lit(Decimal(1)),
        "unit_price": -pl.col("discount"),
        "line_amount": -pl.col("discount"),
        "source_kind": pl.lit("discount"),
        "rate_source": pl.format("discount {}", pl.col("discount_id")),
        "line_ids": pl.lit([], pl.List(pl.String)),
        "rounding_rule": pl.format("line:{}", "money_mode"),  # each discount line is rounded on its own
    }
    columns = []
    for name, dtype in priced.schema.items():
        expr = overrides.get(name, pl.col(name) if name in rows.columns else pl.lit(None))
        columns.append(expr.cast(dtype).alias(name))
    return rows.select(columns)
