"""One entity-month's allocation, computed purely from frames: pools, slices, Capex, profitability.

Everything that identifies a run (run id, timestamps) is added by the caller, so the
same inputs and rule set give the same frames and the same result hash byte for byte.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import polars as pl
from polars._typing import PolarsDataType

from rules.allocation.capex import depreciation_schedule, journal_drafts
from rules.allocation.drivers import project_activity
from rules.allocation.invariants import capex_balances, no_forbidden_negative, sums_to_pool, traceable
from rules.allocation.pools import PoolLine, assign_pool_lines, overhead_sources, shared_line_sources
from rules.allocation.profitability import profitability
from rules.allocation.rule_set import AllocationInputs
from rules.allocation.slices import UNALLOCATED_SCHEMA, allocate
from rules.calendar import month_end
from rules.money import MONEY

POOL_LINE_SCHEMA: dict[str, PolarsDataType] = {
    "pool_line_id": pl.String,
    "pool_id": pl.String,
    "rule_id": pl.String,
    "cost_class": pl.String,
    "amount": MONEY,
    "window_from": pl.Date,
    "window_to": pl.Date,
}

# The normalized columns allocation reads.
INPUT_COLUMNS = [
    "line_id",
    "source_kind",
    "project_id",
    "project_name",
    "client_id",
    "person_id",
    "day",
    "quantity",
    "billable",
    "amount_cost_base",
]


@dataclass(frozen=True)
class AllocationOutcome:
    """Every frame of one entity-month's allocation, the invariant outcomes and the hashes."""

    pool_lines: list[PoolLine]
    pool_frame: pl.DataFrame
    sources: pl.DataFrame
    slices: pl.DataFrame
    unallocated: pl.DataFrame
    schedule: pl.DataFrame
    journals: pl.DataFrame
    profitability: pl.DataFrame
    checks: dict[str, tuple[bool, str]]
    inputs_hash: str
    result_hash: str


def _digest(*frames: pl.DataFrame) -> str:
    hasher = hashlib.sha256()
    for frame in frames:
        hasher.update(frame.write_csv().encode())
    return hasher.hexdigest()


def compute_allocation(
    lines: pl.DataFrame,
    invoice_lines: pl.DataFrame,
    inputs: AllocationInputs,
    entity: str,
    currency: str,
    month: date,
) -> AllocationOutcome:
    """Allocate one entity-month: `lines` are its normalized lines, `invoice_lines` its invoice lines
    (project_id, line_amount, currency_rate)."""
    rules = inputs.rules
    period, last = month.strftime("%Y-%m"), month_end(month)
    overheads = [o for o in inputs.overheads if o.entity == entity and month <= o.date <= last]
    usage = [u for u in inputs.usage if u.entity == entity and u.period == period]
    pm_sources = shared_line_sources(lines, rules)
    overhead_frame, orphans = overhead_sources(overheads, rules)
    sources, pool_lines = assign_pool_lines(
        pl.concat([pm_sources, overhead_frame]), rules, period, month, last
    )
    activity = project_activity(lines, rules)
    allocation = allocate(pool_lines, rules, activity, usage, currency)
    unallocated = pl.concat(
        [
            allocation.unallocated,
            pl.DataFrame(
                [
                    {
                        "pool_line_id": f"overhead:{o.reference}",
                        "pool_id": "",
                        "amount": o.amount,
                        "reason": f"no pool collects overhead category {o.category!r}",
                    }
                    for o in orphans
                ],
                schema=UNALLOCATED_SCHEMA,
                strict=False,
            ),
        ]
    )
    schedule = depreciation_schedule(pool_lines, rules, month, currency)
    journals = journal_drafts(pool_lines, schedule, rules, entity, month, currency)
    profit = profitability(lines, sources["source_ref"], invoice_lines, allocation.slices, rules, currency)
    pool_frame = pl.DataFrame([vars(p) for p in pool_lines], schema=POOL_LINE_SCHEMA, strict=False)
    checks = {
        "allocation_sums_to_pool": sums_to_pool(pool_lines, allocation.slices, allocation.unallocated),
        "no_forbidden_negative_share": no_forbidden_negative(allocation.slices),
        "every_slice_traceable": traceable(pool_lines, sources, allocation.slices),
        "capex_depreciation_balances": capex_balances(pool_lines, schedule, journals),
    }
    # Everything the result depends on: every column read from the lines, the month's
    # overheads (pooled or not) and usage, and the invoice lines behind revenue.
    inputs_hash = _digest(
        lines.select(INPUT_COLUMNS).sort("line_id"),
        pl.DataFrame([o.model_dump() for o in overheads] or None),
        pl.DataFrame([u.model_dump() for u in usage] or None),
        invoice_lines.sort(pl.all()),
    )
    result_hash = _digest(pool_frame, sources, allocation.slices, unallocated, schedule, journals, profit)
    return AllocationOutcome(
        pool_lines,
        pool_frame,
        sources,
        allocation.slices,
        unallocated,
        schedule,
        journals,
        profit,
        checks,
        inputs_hash,
        result_hash,
    )
