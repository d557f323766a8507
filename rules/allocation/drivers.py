"""Driver values per cost object: hours, headcount (people active) and usage, over a rule's window.

Drivers are measured on the projects' own work: time lines of non-internal projects.
Headcount counts distinct people at the target's level (a person on two projects of
one client counts once for that client), so it is computed after mapping to targets.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import polars as pl

from rules.allocation.rule_set import AllocationRule, RuleSetDocument, UsageRow
from rules.money import QUANTITY


def _target_column(targets: str, rules: RuleSetDocument) -> pl.Expr:
    if targets == "projects":
        return pl.col("project_id").cast(pl.String)
    if targets == "clients":
        return pl.col("client_id").cast(pl.String)
    centre_of = {p: c.id for c in rules.cost_centres for p in c.projects}
    return pl.col("project_id").replace_strict(centre_of, default=None, return_dtype=pl.String)


def project_activity(lines: pl.DataFrame, rules: RuleSetDocument) -> pl.DataFrame:
    """Time lines of client (non-internal) projects: the base every hours/headcount driver reads."""
    return lines.filter(
        (pl.col("source_kind") == "time") & ~pl.col("project_id").is_in(rules.internal_projects)
    ).select("day", "project_id", "client_id", "person_id", "quantity")


def driver_values(
    rule: AllocationRule,
    rules: RuleSetDocument,
    activity: pl.DataFrame,
    usage: list[UsageRow],
    window_from: date,
    window_to: date,
) -> list[tuple[str, Decimal]]:
    """[(target id, driver value)] sorted by target id, for `rule` over [window_from, window_to].

    Targets are those with activity (or usage rows) in the window, plus every listed
    `target_ids` (zero when inactive); with `target_ids` set, only those are targets.
    """
    target = _target_column(rule.targets, rules)
    values: dict[str, Decimal] = {}
    if rule.driver in ("hours", "headcount"):
        window = activity.filter(pl.col("day").is_between(window_from, window_to)).with_columns(
            target.alias("target_id")
        )
        window = window.filter(pl.col("target_id").is_not_null())
        measure = (
            pl.col("quantity").sum()
            if rule.driver == "hours"
            else pl.col("person_id").drop_nulls().n_unique().cast(QUANTITY)
        )
        grouped = window.group_by("target_id").agg(measure.alias("value"))
        values = {t: Decimal(v) for t, v in grouped.iter_rows()}
    else:
        client_of = dict(activity.select("project_id", "client_id").unique().iter_rows())
        centre_of = {p: c.id for c in rules.cost_centres for p in c.projects}
        for row in usage:
            if row.metric != rule.usage_metric:
                continue
            if rule.targets == "projects":
                key: str | None = str(row.project_id)
            elif rule.targets == "clients":
                client = client_of.get(row.project_id)
                key = None if client is None else str(client)
            else:
                key = centre_of.get(row.project_id)
            if key is not None:
                values[key] = values.get(key, Decimal(0)) + row.quantity
    if rule.target_ids:
        values = {t: values.get(t, Decimal(0)) for t in rule.target_ids}
    return sorted(values.items())
