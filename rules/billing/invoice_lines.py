"""Normalized lines -> the work lines of an invoice, and the order lines take on it (pure polars).

One time line per client, currency, project, task and unit price (hours summed, then rounded by the
line's `per_line` time rounding rule, rules/time_rounding.py), one expense line per expense; each
described by the mapping document's template.
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from rules.billing.retainers import RETAINER_APPLIED, RETAINER_TOP_UP
from rules.mapping_document import FieldMapping
from rules.money import ROUNDING_LINE
from rules.rule_sets import TimeRounding
from rules.time_rounding import invoice_line_units

# Lines of an invoice in this order: work, then discounts, then the rounding line, then the retainer
# (top-up, then its draw). The rounding line closes the pricing of the work, so a bookkeeper reads the
# configured subtotal right above the retainer movements, which are about the balance, not the price;
# and the retainer draws on the invoice as rounded.
KIND_ORDER = {
    "time": 0,
    "expense": 1,
    "discount": 2,
    ROUNDING_LINE: 3,
    RETAINER_TOP_UP: 4,
    RETAINER_APPLIED: 5,
}
# What an invoice line keeps of the normalized lines it bills.
_LINE_FIELDS = ["project_name", "project_code", "task_name", "client_name", "contact_name", "category_name"]
_GROUP_KEYS = ["client_id", "txn_currency", "project_id", "task_id", "unit_price", "rate_source"]


def invoice_lines(
    lines: pl.DataFrame, fields: FieldMapping, time_rounding: Sequence[TimeRounding]
) -> pl.DataFrame:
    """One time line per client, currency, project, task and unit price (hours summed, then rounded
    by the line's `per_line` rule), one expense line per expense; each described by its template."""
    time_lines = (
        lines.filter(pl.col("source_kind") == "time")
        .group_by(_GROUP_KEYS)
        .agg(pl.col("quantity").sum(), pl.col("line_id").sort().alias("line_ids"), pl.first(*_LINE_FIELDS))
        .pipe(invoice_line_units, time_rounding)
    )
    expense_lines = lines.filter(pl.col("source_kind") == "expense").select(
        *_GROUP_KEYS, "quantity", pl.concat_list("line_id").alias("line_ids"), *_LINE_FIELDS
    )
    return pl.concat(
        [
            time_lines.with_columns(
                describe(fields.time_line_description).alias("description"),
                pl.lit("time").alias("source_kind"),
            ),
            expense_lines.with_columns(
                describe(fields.expense_line_description).alias("description"),
                pl.lit("expense").alias("source_kind"),
            ),
        ],
        how="vertical_relaxed",
    )


def describe(template: str) -> pl.Expr:
    """The line text of `template`, its {placeholders} filled from the line's columns."""
    # Template placeholders were validated at load; fill them from columns.
    fields = {
        "project_name": pl.col("project_name"),
        "project_code": pl.col("project_code").fill_null(""),
        "task_name": pl.col("task_name").fill_null(""),
        "client_name": pl.col("client_name"),
        "unit_price": pl.col("unit_price").cast(pl.String),
        "category_name": pl.col("category_name").fill_null(""),
    }
    parts: list[pl.Expr] = []
    rest = template
    while "{" in rest:
        before, _, after = rest.partition("{")
        name, _, rest = after.partition("}")
        parts += [pl.lit(before), fields[name]]
    parts.append(pl.lit(rest))
    return pl.concat_str(parts)


def in_invoice_order(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` sorted as its lines appear on their invoices (KIND_ORDER within client and currency)."""
    # A total order: each source line belongs to exactly one invoice line, so the first source
    # line id breaks every tie and reruns number (and allocate to) the lines identically.
    return frame.sort(
        pl.col("client_id"),
        pl.col("txn_currency"),
        pl.col("source_kind").replace_strict(KIND_ORDER, return_dtype=pl.Int8),
        "project_id",
        "task_id",
        "unit_price",
        pl.col("line_ids").list.first(),
        "description",
        nulls_last=False,
    )
