"""The allocation diff: per cost object, the previous run's allocation against this run's, and why.

Reasons, per pool reaching the object: "rule change" (a different rule, or the rule's
content changed), "driver change" (the object's driver value or the pool's driver total
moved), "input change" (the pool's amount moved). "new" / "removed" when only one side
has the object.
"""

from __future__ import annotations

from decimal import Decimal

import polars as pl
from polars._typing import PolarsDataType

from rules.money import MONEY, RoundingRule, round_decimal

KEY = ["target_kind", "target_id", "pool_id"]


def _reason(old: dict[str, object] | None, new: dict[str, object] | None) -> str:
    if old is None:
        return "new"
    if new is None:
        return "removed"
    reasons = []
    if old["rule_hash"] != new["rule_hash"]:
        reasons.append("rule change")
    if old["driver_value"] != new["driver_value"] or old["driver_total"] != new["driver_total"]:
        reasons.append("driver change")
    if old["pool_amount"] != new["pool_amount"]:
        reasons.append("input change")
    return ", ".join(reasons)


def _by_object(slices: pl.DataFrame) -> dict[tuple[str, str, str], dict[str, object]]:
    grouped = slices.group_by(KEY).agg(
        pl.col("amount").sum(),
        pl.col("rule_hash").unique().sort().str.join("+"),
        pl.col("driver_value").sum(),
        pl.col("driver_total").sum(),
        pl.col("pool_amount").sum(),
    )
    return {(r["target_kind"], r["target_id"], r["pool_id"]): r for r in grouped.to_dicts()}


def allocation_diff(previous: pl.DataFrame, current: pl.DataFrame) -> pl.DataFrame:
    """Per cost object: old amount, new amount, change and the reasons (sorted by object)."""
    old, new = _by_object(previous), _by_object(current)
    per_object: dict[tuple[str, str], dict[str, object]] = {}
    for key in sorted(set(old) | set(new)):
        o, n = old.get(key), new.get(key)
        entry = per_object.setdefault(key[:2], {"old": Decimal(0), "new": Decimal(0), "reasons": set()})
        entry["old"] += o["amount"] if o else Decimal(0)  # type: ignore[operator]
        entry["new"] += n["amount"] if n else Decimal(0)  # type: ignore[operator]
        reason = _reason(o, n)
        if reason:
            entry["reasons"].update(reason.split(", "))  # type: ignore[attr-defined]
    rows = [
        {
            "target_kind": kind,
            "target_id": target,
            "old_amount": e["old"],
            "new_amount": e["new"],
            "change": e["new"] - e["old"],  # type: ignore[operator]
            "reason": ", ".join(sorted(e["reasons"])) or "unchanged",  # type: ignore[call-overload]
        }
        for (kind, target), e in sorted(per_object.items())
    ]
    schema: dict[str, PolarsDataType] = {
        "target_kind": pl.String,
        "target_id": pl.String,
        "old_amount": MONEY,
        "new_amount": MONEY,
        "change": MONEY,
        "reason": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, strict=False)


def diff_markdown(diff: pl.DataFrame, currency: str) -> str:
    """The diff as a markdown table in `currency` minor units (every cost object, changed ones first)."""
    if diff.height == 0:
        return "_no allocations before or after_"
    ordered = diff.with_columns((pl.col("reason") == "unchanged").alias("_same")).sort(
        "_same", "target_kind", "target_id"
    )
    lines = ["| cost object | old | new | change | reason |", "|---|---|---|---|---|"]
    names = {"projects": "project", "clients": "client", "cost_centres": "cost centre"}

    def money(value: Decimal) -> str:  # already in minor units: quantizing only trims the storage scale
        return str(round_decimal(value, currency, RoundingRule.HALF_UP))

    for kind, target, old, new, change, reason, _ in ordered.iter_rows():
        lines.append(f"| {names[kind]} {target} | {money(old)} | {money(new)} | {money(change)} | {reason} |")
    return "\n".join(lines)
