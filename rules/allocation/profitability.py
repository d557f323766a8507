"""Project profitability per entity-month: revenue, direct cost, allocated shared cost, margin.

Revenue is the invoice drafts' net line amounts converted to base at each invoice's
rate; direct cost is the project's own time at cost rate and its own expenses; the
allocated cost is the project's slices. Shared cost that reached no project (no rule,
zero driver, or allocated to clients or cost centres) is not in any row: it is listed
beside the table, never spread silently.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl
from polars._typing import PolarsDataType

from rules.allocation.rule_set import RuleSetDocument
from rules.money import FX_CONVERSION_RULE, MONEY, round_decimal

PROFITABILITY_SCHEMA: dict[str, PolarsDataType] = {
    "project_id": pl.Int64,
    "project_name": pl.String,
    "revenue": MONEY,
    "direct_time_cost": MONEY,
    "direct_expense_cost": MONEY,
    "allocated_cost": MONEY,
    "margin": MONEY,
}


def revenue_by_project(invoice_lines: pl.DataFrame, currency: str) -> dict[int, Decimal]:
    """Net invoice line amounts per project in base currency (line amount / invoice rate, rounded per line)."""
    revenue: dict[int, Decimal] = {}
    for project, amount, rate in invoice_lines.select(
        "project_id", "line_amount", "currency_rate"
    ).iter_rows():
        base = round_decimal(Decimal(amount) / Decimal(rate), currency, FX_CONVERSION_RULE)
        revenue[project] = revenue.get(project, Decimal(0)) + base
    return revenue


def profitability(
    lines: pl.DataFrame,
    pooled_line_ids: pl.Series,
    invoice_lines: pl.DataFrame,
    slices: pl.DataFrame,
    rules: RuleSetDocument,
    currency: str,
) -> pl.DataFrame:
    """One row per client project with revenue, direct cost or allocated cost in the month."""
    own = lines.filter(
        ~pl.col("project_id").is_in(rules.internal_projects)
        & ~pl.col("line_id").is_in(pooled_line_ids.implode())
    )
    direct = own.group_by("project_id").agg(
        pl.first("project_name"),
        pl.col("amount_cost_base").filter(pl.col("source_kind") == "time").sum().alias("direct_time_cost"),
        pl.col("amount_cost_base")
        .filter(pl.col("source_kind") == "expense")
        .sum()
        .alias("direct_expense_cost"),
    )
    names = dict(lines.select("project_id", "project_name").unique("project_id").iter_rows())
    costs = {p: (t, e) for p, _, t, e in direct.iter_rows()}
    revenue = revenue_by_project(invoice_lines, currency)
    allocated: dict[int, Decimal] = {}
    for target, amount in (
        slices.filter(pl.col("target_kind") == "projects").select("target_id", "amount").iter_rows()
    ):
        allocated[int(target)] = allocated.get(int(target), Decimal(0)) + amount
    rows = []
    for project in sorted(set(costs) | set(revenue) | set(allocated)):
        time_cost, expense_cost = costs.get(project, (Decimal(0), Decimal(0)))
        rev, alloc = revenue.get(project, Decimal(0)), allocated.get(project, Decimal(0))
        rows.append(
            {
                "project_id": project,
                "project_name": names.get(project, f"project {project}"),
                "revenue": rev,
                "direct_time_cost": time_cost,
                "direct_expense_cost": expense_cost,
                "allocated_cost": alloc,
                "margin": rev - time_cost - expense_cost - alloc,
            }
        )
    return pl.DataFrame(rows, schema=PROFITABILITY_SCHEMA, strict=False)
