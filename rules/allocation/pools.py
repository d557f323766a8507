"""Cost pools: which costs of an entity-month are shared, grouped by pool and by the rule in force.

A source cost (an internal time entry at cost rate, a non-billable internal expense, an
overhead row) goes to the first pool of the rule set whose source and filters match it.
Costs of one pool are then grouped by the allocation rule in force on their date, so a
rule change mid-month splits the pool into one pool line per rule. Capex pools are not
allocated: they become one capitalized pool line per month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import polars as pl
from polars._typing import PolarsDataType

from rules.allocation.rule_set import OverheadRow, Pool, RuleSetDocument
from rules.money import MONEY

NO_RULE = "none"
CAPEX = "capex"

SOURCE_SCHEMA: dict[str, PolarsDataType] = {
    "pool_line_id": pl.String,
    "pool_id": pl.String,
    "source_kind": pl.String,
    "source_ref": pl.String,
    "source_date": pl.Date,
    "amount": MONEY,
}


@dataclass(frozen=True)
class PoolLine:
    """The costs of one pool in one entity-month that one rule allocates (or that are capitalized)."""

    pool_line_id: str
    pool_id: str
    rule_id: str  # NO_RULE when no rule is in force, CAPEX for a capitalized pool
    cost_class: str
    amount: Decimal
    window_from: date
    window_to: date


def _matches(pool: Pool, source: str, project_id: int, internal: set[int]) -> bool:
    if pool.source != source:
        return False
    if pool.project_ids:
        return project_id in pool.project_ids
    return project_id in internal or (source == "nonbillable_expenses" and pool.include_client_projects)


def shared_line_sources(lines: pl.DataFrame, rules: RuleSetDocument) -> pl.DataFrame:
    """Normalized time and expense lines that belong to a pool, one row each, with the pool id.

    Lines that no pool claims are the projects' direct costs and are not returned.
    """
    internal = set(rules.internal_projects)
    candidates = lines.filter(
        ((pl.col("source_kind") == "time") & pl.col("project_id").is_in(list(internal)))
        | ((pl.col("source_kind") == "expense") & ~pl.col("billable"))
    ).select("line_id", "source_kind", "project_id", "day", "amount_cost_base")
    if candidates.height == 0:
        return pl.DataFrame(schema=SOURCE_SCHEMA)
    # Few distinct (kind, project) pairs even at a million lines: match pools per pair.
    pairs = candidates.select("source_kind", "project_id").unique()
    owner = []
    for kind, project in pairs.iter_rows():
        source = "internal_time" if kind == "time" else "nonbillable_expenses"
        pool = next((p.id for p in rules.pools if _matches(p, source, project, internal)), None)
        owner.append({"source_kind": kind, "project_id": project, "pool_id": pool})
    owners = pl.DataFrame(
        owner, schema={"source_kind": pl.String, "project_id": pl.Int64, "pool_id": pl.String}
    )
    return (
        candidates.join(owners, on=["source_kind", "project_id"], how="inner")
        .filter(pl.col("pool_id").is_not_null())
        .select(
            pl.lit("").alias("pool_line_id"),
            "pool_id",
            pl.col("source_kind"),
            pl.col("line_id").alias("source_ref"),
            pl.col("day").alias("source_date"),
            pl.col("amount_cost_base").cast(MONEY).alias("amount"),
        )
    )


def overhead_sources(
    overheads: list[OverheadRow], rules: RuleSetDocument
) -> tuple[pl.DataFrame, list[OverheadRow]]:
    """Overhead rows with their pool, and the rows whose category no pool collects (listed, never spread)."""
    rows, orphans = [], []
    for row in overheads:
        pool = next(
            (p.id for p in rules.pools if p.source == "overhead" and p.category == row.category), None
        )
        if pool is None:
            orphans.append(row)
            continue
        rows.append(
            {
                "pool_line_id": "",
                "pool_id": pool,
                "source_kind": "overhead",
                "source_ref": row.reference,
                "source_date": row.date,
                "amount": row.amount,
            }
        )
    return pl.DataFrame(rows, schema=SOURCE_SCHEMA), orphans


def assign_pool_lines(
    sources: pl.DataFrame, rules: RuleSetDocument, period: str, month: date, month_end: date
) -> tuple[pl.DataFrame, list[PoolLine]]:
    """Group pooled sources by (pool, rule in force on their date): each group is one pool line.

    Returns the sources with their pool_line_id filled in, and the pool lines sorted by id.
    """
    pools = {p.id: p for p in rules.pools}
    # A handful of distinct (pool, date) pairs per month: resolve rules per pair, not per row.
    keys = sources.select("pool_id", "source_date").unique()
    resolved: dict[tuple[str, date], str] = {}
    for pool_id, day in keys.iter_rows():
        if pools[pool_id].cost_class == "capex":
            resolved[(pool_id, day)] = CAPEX
            continue
        rule = next((r for r in rules.rules if r.pool == pool_id and r.in_force(day)), None)
        resolved[(pool_id, day)] = rule.id if rule else NO_RULE
    mapping = pl.DataFrame(
        [{"pool_id": p, "source_date": d, "rule_id": r} for (p, d), r in resolved.items()],
        schema={"pool_id": pl.String, "source_date": pl.Date, "rule_id": pl.String},
    )
    tagged = sources.drop("pool_line_id").join(mapping, on=["pool_id", "source_date"], how="left")
    tagged = tagged.with_columns(
        pl.concat_str(pl.col("pool_id"), pl.lit(f"|{period}|"), pl.col("rule_id")).alias("pool_line_id")
    )
    grouped = (
        tagged.group_by("pool_line_id", "pool_id", "rule_id").agg(pl.col("amount").sum()).sort("pool_line_id")
    )
    lines = []
    for line_id, pool_id, rule_id, amount in grouped.iter_rows():
        window_from, window_to = month, month_end
        if rule_id not in (NO_RULE, CAPEX):
            rule = rules.rule(rule_id)
            window_from = max(month, rule.effective_from)
            window_to = min(month_end, rule.effective_to or month_end)
        lines.append(
            PoolLine(
                line_id, pool_id, rule_id, pools[pool_id].cost_class, Decimal(amount), window_from, window_to
            )
        )
    ordered = tagged.select(list(SOURCE_SCHEMA)).sort("pool_line_id", "source_ref")
    return ordered, lines
