"""Invoiceable units: the mapping document's `time_rounding` rules, in one place (pure polars).

A rule rounds hours *up* to a whole number of increments, after raising them to a minimum.
The project's rule beats the client's. Its `apply` names the number it governs, and that number's
owner applies it (docs/decisions/0019):

- `per_entry`: each time entry's billed hours, a number of the normalized line
  (rules/normalizing.py calls `entry_units`);
- `per_line`: an invoice line's total hours, a number of the draft
  (rules/billing/drafting.py calls `invoice_line_units`).

Each step finds the rule itself from the rule set by the client and project it already has, so no
step stores columns to instruct another, and no hours are rounded twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import polars as pl

from rules.money import QUANTITY, WIDE
from rules.pricing import attach_scoped
from rules.rule_sets import TimeRounding

PER_ENTRY = "per_entry"
PER_LINE = "per_line"
_PREFIX = "rounding"
_COLUMNS: dict[str, pl.DataType] = {
    "increment_minutes": pl.Int64(),
    "apply": pl.String(),
    "minimum_minutes": pl.Int64(),
}
_SCALE = 10_000  # hours are stored at scale 4: work in whole ten-thousandths of an hour


def with_time_rounding(frame: pl.DataFrame, rules: Sequence[TimeRounding]) -> pl.DataFrame:
    """`frame` (with client_id and project_id) plus the rule in force for each row: `rounding_id`,
    `rounding_increment_minutes`, `rounding_apply`, `rounding_minimum_minutes` (null where none)."""
    return attach_scoped(frame, list(rules), _COLUMNS, _PREFIX)


def without_time_rounding(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` without the columns `with_time_rounding` attached."""
    return frame.drop(f"{_PREFIX}_{name}" for name in ["id", *_COLUMNS])


def round_up_to_increment(hours: pl.Expr, increment_minutes: pl.Expr, minimum_minutes: pl.Expr) -> pl.Expr:
    """Hours raised to the minimum, then rounded up to a whole number of increments (0: unchanged).

    Done in whole ten-thousandths of an hour so every step is exact integer arithmetic.
    """
    units = (hours.cast(WIDE) * _SCALE).cast(pl.Int64)
    minimum = minimum_minutes.cast(pl.Int64) * _SCALE // 60
    raised = pl.max_horizontal(units, minimum)
    step = increment_minutes.cast(pl.Int64) * _SCALE // 60
    rounded = pl.when(step > 0).then((raised + step - 1) // step * step).otherwise(raised)
    return (rounded.cast(WIDE) * pl.lit(Decimal("0.0001"), WIDE)).cast(QUANTITY)


def _units(hours: pl.Expr, grain: str, only: pl.Expr | None = None) -> pl.Expr:
    """`hours` rounded by the row's rule when that rule governs `grain` (and `only` holds), else unchanged."""
    rounded = round_up_to_increment(
        hours, pl.col(f"{_PREFIX}_increment_minutes"), pl.col(f"{_PREFIX}_minimum_minutes")
    )
    governed = pl.col(f"{_PREFIX}_apply") == grain
    return pl.when(governed if only is None else only & governed).then(rounded).otherwise(hours)


def entry_units(hours: pl.Expr, only: pl.Expr) -> pl.Expr:
    """A time entry's invoiceable units: `hours` rounded by its `per_entry` rule (rows of
    `with_time_rounding`) on the rows where `only` holds (the time entries; an expense is never
    rounded); hours under a `per_line` rule or none are left for the invoice line."""
    return _units(hours, PER_ENTRY, only)


def invoice_line_units(lines: pl.DataFrame, rules: Sequence[TimeRounding]) -> pl.DataFrame:
    """Invoice time lines (client_id, project_id, quantity) with `quantity` rounded once by the
    line's `per_line` rule: the line's total hours, never each entry's."""
    if not rules:
        return lines
    return (
        with_time_rounding(lines, rules)
        .with_columns(_units(pl.col("quantity"), PER_LINE).alias("quantity"))
        .pipe(without_time_rounding)
    )
