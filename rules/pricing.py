"""Apply the mapping document's pricing rules to typed lines (pure polars).

- rate rules, most specific wins (see rules/rule_sets.py), each line recording
  the rule id; a line no rule prices keeps the PM system's own billable rate;
- a rule's share bills part of the hours (QUANTITY_SHARE_RULE rounds the product);
- the client's or project's scoped rules (`attach_scoped`: time rounding, rules/time_rounding.py,
  and expense markups);
- re-billable expenses at cost plus the configured markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal

import polars as pl

from rules.money import QUANTITY, WIDE, RoundingRule, exact_product, round_to_minor_units
from rules.rule_sets import LEVEL_NAMES, ExpenseMarkup, RateRule, TimeRounding

# A share of hours is rounded half-up to 4 decimals (a hundredth of a minute and less).
QUANTITY_SHARE_RULE = RoundingRule.HALF_UP
# Markups are priced like any line amount: half-up to the currency's minor units.
MARKUP_RULE = RoundingRule.HALF_UP

_LEVEL_KEYS: dict[int, list[str]] = {
    5: ["project_id", "task_id", "person_id"],
    4: ["project_id", "task_id"],
    3: ["project_id", "person_id"],
    2: ["project_id"],
    1: ["client_id"],
    0: [],
}
RULE_COLUMNS = pl.Schema(
    {
        "rate_rule_id": pl.String(),
        "rate_rule_level": pl.Int8(),
        "rule_rate": QUANTITY,
        "rule_currency": pl.String(),
        "rule_share": QUANTITY,
    }
)


def rate_rules_frame(rules: list[RateRule], entity: str) -> pl.DataFrame:
    """The rules that can apply to `entity` (its own and entity-less ones), one row each."""
    rows = [
        {
            "rate_rule_id": r.id, "rate_rule_level": r.level, "client_id": r.client, "project_id": r.project,
            "task_id": r.task, "person_id": r.person, "rule_rate": r.rate, "rule_currency": r.currency,
            "rule_share": r.share_percent / 100, "effective_from": r.effective_from,
            "effective_to": r.effective_to or date(9999, 12, 31),
        }
        for r in rules
        if r.entity in (None, entity)
    ]  # fmt: skip
    schema = pl.Schema(
        {
            **{k: v for k, v in RULE_COLUMNS.items()},
            "client_id": pl.Int64(), "project_id": pl.Int64(), "task_id": pl.Int64(), "person_id": pl.Int64(),
            "effective_from": pl.Date(), "effective_to": pl.Date(),
        }
    )  # fmt: skip
    return pl.DataFrame(rows, schema=schema)


def resolve_rates(lines: pl.DataFrame, rules: pl.DataFrame) -> pl.DataFrame:
    """`lines` plus the most specific rule in force on each line's day (RULE_COLUMNS; null where none)."""
    keys = lines.select("line_id", "day", "client_id", "project_id", "task_id", "person_id")
    matches = []
    for level, columns in _LEVEL_KEYS.items():
        candidates = rules.filter(pl.col("rate_rule_level") == level)
        if candidates.height == 0:
            continue
        joined = (
            keys.join(
                candidates.drop([c for c in _LEVEL_KEYS[5] + ["client_id"] if c not in columns]),
                on=columns,
                how="inner",
            )
            if columns
            else keys.join(candidates.drop(_LEVEL_KEYS[5] + ["client_id"]), how="cross")
        )
        joined = joined.filter(pl.col("day").is_between(pl.col("effective_from"), pl.col("effective_to")))
        matches.append(joined.select("line_id", *RULE_COLUMNS.names()))
    if not matches:
        return lines.with_columns(pl.lit(None, dtype).alias(name) for name, dtype in RULE_COLUMNS.items())
    best = pl.concat(matches).sort("rate_rule_level", descending=True).unique("line_id", keep="first")
    return lines.join(best, on="line_id", how="left")


def rate_source(level: pl.Expr, rule_id: pl.Expr) -> pl.Expr:
    """Human-readable origin of a line's rate, e.g. "rule R-7 (task on project)"."""
    name = level.replace_strict(LEVEL_NAMES, default="?", return_dtype=pl.String)
    return pl.format("rule {} ({})", rule_id, name)


def share_of_hours(hours: pl.Expr, share: pl.Expr) -> pl.Expr:
    """hours x share, rounded by QUANTITY_SHARE_RULE to the stored scale."""
    return exact_product(hours, share).round(4, mode=QUANTITY_SHARE_RULE.value).cast(QUANTITY)


def _scoped_frame(
    rules: Sequence[TimeRounding] | Sequence[ExpenseMarkup], columns: dict[str, pl.DataType]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    rows = [r.model_dump() for r in rules]
    frame = pl.DataFrame(
        rows, schema=pl.Schema({"id": pl.String(), "client": pl.Int64(), "project": pl.Int64(), **columns})
    )
    return frame.filter(pl.col("project").is_not_null()), frame.filter(pl.col("client").is_not_null())


def attach_scoped(
    lines: pl.DataFrame,
    rules: Sequence[TimeRounding] | Sequence[ExpenseMarkup],
    columns: dict[str, pl.DataType],
    prefix: str,
) -> pl.DataFrame:
    """Attach the project's rule, else the client's (project rules are more specific), as `<prefix>_*` columns."""
    by_project, by_client = _scoped_frame(rules, columns)
    names = ["id", *columns]
    project = by_project.select(
        pl.col("project").alias("project_id"), *[pl.col(n).alias(f"{prefix}_p_{n}") for n in names]
    )
    client = by_client.select(
        pl.col("client").alias("client_id"), *[pl.col(n).alias(f"{prefix}_c_{n}") for n in names]
    )
    joined = lines.join(project, on="project_id", how="left").join(client, on="client_id", how="left")
    return joined.with_columns(
        pl.coalesce(f"{prefix}_p_{n}", f"{prefix}_c_{n}").alias(f"{prefix}_{n}") for n in names
    ).drop([f"{prefix}_{s}_{n}" for s in ("p", "c") for n in names])


def markup_columns() -> dict[str, pl.DataType]:
    """The columns an ExpenseMarkup rule contributes."""
    return {"markup_percent": QUANTITY}


def marked_up(amount: pl.Expr, markup_percent: pl.Expr, currency: pl.Expr) -> pl.Expr:
    """amount x (1 + markup/100), rounded by MARKUP_RULE to the currency's minor units."""
    factor = pl.lit(Decimal(1), WIDE) + markup_percent.fill_null(0).cast(WIDE) * pl.lit(Decimal("0.01"), WIDE)
    return round_to_minor_units(exact_product(amount, factor), currency, MARKUP_RULE)
