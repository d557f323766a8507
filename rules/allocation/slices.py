"""Allocation slices: each opex pool line split over its rule's targets by largest remainder.

A pool line with no rule in force, or whose driver is zero for every target, is not
spread: it is returned as unallocated with the reason, and left out of every project.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import polars as pl
from polars._typing import PolarsDataType

from rules.allocation.drivers import driver_values
from rules.allocation.largest_remainder import split
from rules.allocation.pools import CAPEX, NO_RULE, PoolLine
from rules.allocation.rule_set import RuleSetDocument, UsageRow
from rules.money import MONEY, QUANTITY, WIDE

SLICE_SCHEMA: dict[str, PolarsDataType] = {
    "pool_line_id": pl.String,
    "pool_id": pl.String,
    "pool_amount": MONEY,
    "rule_id": pl.String,
    "rule_hash": pl.String,
    "allow_negative": pl.Boolean,
    "target_kind": pl.String,
    "target_id": pl.String,
    "driver": pl.String,
    "driver_value": QUANTITY,
    "driver_total": QUANTITY,
    "share": WIDE,
    "exact_amount": WIDE,
    "amount": MONEY,
    "remainder_units": pl.Int64,
}
UNALLOCATED_SCHEMA: dict[str, PolarsDataType] = {
    "pool_line_id": pl.String,
    "pool_id": pl.String,
    "amount": MONEY,
    "reason": pl.String,
}


@dataclass(frozen=True)
class Allocation:
    """The slices of an entity-month and the pool lines left unallocated (with why)."""

    slices: pl.DataFrame
    unallocated: pl.DataFrame


def allocate(
    pool_lines: list[PoolLine],
    rules: RuleSetDocument,
    activity: pl.DataFrame,
    usage: list[UsageRow],
    currency: str,
) -> Allocation:
    """Split every opex pool line by its rule's driver; capex pool lines are left to capitalization."""
    slices: list[dict[str, object]] = []
    unallocated: list[dict[str, object]] = []
    for line in pool_lines:
        if line.rule_id == CAPEX:
            continue
        if line.rule_id == NO_RULE:
            unallocated.append(
                {
                    "pool_line_id": line.pool_line_id,
                    "pool_id": line.pool_id,
                    "amount": line.amount,
                    "reason": "no allocation rule in force on the cost's date",
                }
            )
            continue
        rule = rules.rule(line.rule_id)
        values = driver_values(rule, rules, activity, usage, line.window_from, line.window_to)
        total = sum((v for _, v in values), Decimal(0))
        if total == 0:
            unallocated.append(
                {
                    "pool_line_id": line.pool_line_id,
                    "pool_id": line.pool_id,
                    "amount": line.amount,
                    "reason": f"driver {rule.driver} is zero for every {rule.targets} target "
                    f"{line.window_from}..{line.window_to}",
                }
            )
            continue
        parts = split(line.amount, [v for _, v in values], currency)
        for (target_id, value), part in zip(values, parts, strict=True):
            slices.append(
                {
                    "pool_line_id": line.pool_line_id,
                    "pool_id": line.pool_id,
                    "pool_amount": line.amount,
                    "rule_id": rule.id,
                    "rule_hash": rule.content_hash(),
                    "allow_negative": rule.allow_negative,
                    "target_kind": rule.targets,
                    "target_id": target_id,
                    "driver": rule.driver if rule.driver != "usage" else f"usage:{rule.usage_metric}",
                    "driver_value": value,
                    "driver_total": total,
                    "share": part.share,
                    "exact_amount": part.exact,
                    "amount": part.amount,
                    "remainder_units": part.remainder_units,
                }
            )
    return Allocation(
        slices=pl.DataFrame(slices, schema=SLICE_SCHEMA, strict=False),
        unallocated=pl.DataFrame(unallocated, schema=UNALLOCATED_SCHEMA, strict=False),
    )
