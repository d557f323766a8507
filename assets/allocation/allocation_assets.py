"""The allocation assets, per entity-month: slices, project profitability and Capex journal drafts.

Materializing a partition allocates it with the shipped rule set (config/allocation_rules.yaml)
and appends a new allocation run; the `reallocate` job does the same for a chosen scope
with a chosen (or draft) rule set. The invariants are blocking asset checks on
`allocation/cost_allocations`, evaluated for every entity-month in scope before any of it
is written: one broken invariant and nothing of the scope (slices, profitability, journal
drafts) is written, and the run fails naming the check
(docs/decisions/0013-allocation-checks-and-journal-posting.md).
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl

from assets.allocation.runs import AllocationRun, keeps_current, plan_month, write_run
from assets.gate import CheckGate, blocking_checks
from assets.partitions import Partitions, days_to_month, month_slices
from assets.reporting import money_totals, preview
from resources.allocation_config import load_allocation_inputs
from resources.configuration import Settings
from resources.warehouse import Warehouse
from rules.allocation.rule_set import AllocationInputs

COST_ALLOCATIONS = dg.AssetKey(["allocation", "cost_allocations"])
PROFITABILITY = dg.AssetKey(["allocation", "project_profitability"])
JOURNAL_DRAFTS = dg.AssetKey(["allocation", "capex_journal_drafts"])
CHECKS = {
    "allocation_sums_to_pool": "Each pool line's slices sum to it to the cent (largest remainder, recorded).",
    "no_forbidden_negative_share": "No target receives a negative share unless its rule allows it.",
    "every_slice_traceable": "Every slice names a pool line that is the exact sum of named source costs.",
    "allocation_reproducible": "Same inputs and rule set reproduce the same result hash, byte for byte.",
    "capex_depreciation_balances": "Depreciation sums to each capitalized cost; every journal draft balances.",
}


CHECK_SPECS = blocking_checks(COST_ALLOCATIONS, CHECKS)


SPECS = [
    dg.AssetSpec(
        COST_ALLOCATIONS,
        deps=[
            dg.AssetDep(["normalized", "billable_lines"], partition_mapping=days_to_month),
            dg.AssetDep(["billing", "invoice_drafts"]),
        ],
        description="Shared cost pools spread over projects, clients or cost centres by documented drivers.",
        kinds={"polars", "duckdb"},
        group_name="allocation",
        owners=["team:data"],
    ),
    dg.AssetSpec(
        PROFITABILITY,
        deps=[COST_ALLOCATIONS],
        description="Per project: invoiced revenue, direct cost, allocated shared cost and margin.",
        kinds={"duckdb"},
        group_name="allocation",
        owners=["team:data"],
    ),
    dg.AssetSpec(
        JOURNAL_DRAFTS,
        deps=[COST_ALLOCATIONS],
        description="ManualJournal drafts: Capex capitalization and its straight-line depreciation.",
        kinds={"duckdb"},
        group_name="allocation",
        owners=["team:data"],
    ),
]


def judge_scope(warehouse: Warehouse, runs: list[AllocationRun], run_id: str, *, record: bool) -> CheckGate:
    """The gate over a planned scope: every entity-month judged before any of it is written.

    With `record`, the broken entity-months' outcomes go to quality.check_results now (the report
    counts them); those that held are recorded when they are written (`write_run`).
    """
    gate = CheckGate(CHECK_SPECS, warehouse, run_id)
    for run in runs:
        if record:
            gate.admit(run, run.outcome.checks)
        else:
            gate.judge(run.label(), run.outcome.checks)
    return gate


def run_metadata(run: AllocationRun) -> dict[str, Any]:
    """The metadata of one entity-month's allocation: totals, unallocated costs and the diff."""
    outcome = run.outcome
    return {
        # A month the close kept is still allocated by its current run, not by this one.
        "allocation_run_id": run.run_id if run.written else run.previous_run_id or "",
        "previous_allocation_run_id": run.previous_run_id or "",
        "result_hash": outcome.result_hash,
        "inputs_hash": outcome.inputs_hash,
        "pool_lines": len(outcome.pool_lines),
        "slices": outcome.slices.height,
        "allocated": str(outcome.slices["amount"].sum()) if outcome.slices.height else "0",
        "remainder_cents_placed": int(outcome.slices["remainder_units"].sum())
        if outcome.slices.height
        else 0,
        "unallocated": dg.MetadataValue.md(
            preview(outcome.unallocated, ["pool_line_id", "amount", "reason"], rows=50)
        ),
        "diff": dg.MetadataValue.md(run.diff_markdown),
        "allocated_by_pool": money_totals(outcome.slices, "pool_id", "amount"),
    }


def _kept_or_written(warehouse: Warehouse, inputs: AllocationInputs, run: AllocationRun) -> AllocationRun:
    """The month's current allocation when it allocated the same inputs, else `run` written."""
    with warehouse.held(run.entity):
        return run if keeps_current(warehouse, run) else write_run(warehouse, inputs, run)


def allocate_months(
    context: dg.AssetExecutionContext, warehouse: Warehouse, settings: Settings
) -> Iterator[dg.MaterializeResult | dg.AssetCheckEvaluation]:
    """Allocate the run's entity-months with the shipped rule set, each as a new allocation run.

    A month whose current allocation already allocated the same inputs keeps it (a close re-run,
    or a reallocation under another rule set, is not superseded until the month's data change).
    """
    inputs = load_allocation_inputs()
    planned = []
    for part in month_slices(context):
        with warehouse.held(part.entity):  # the month's reads share one open of the file
            currency = settings.entity(part.entity).base_currency
            planned.append(
                plan_month(warehouse, inputs, part.entity, currency, part.month, context.run.run_id)
            )
    gate = judge_scope(warehouse, planned, context.run.run_id, record=True)
    if not gate.passed:
        yield from gate.stop()
    runs = [_kept_or_written(warehouse, inputs, run) for run in planned]
    last = runs[-1]
    yield dg.MaterializeResult(
        asset_key=COST_ALLOCATIONS,
        check_results=gate.results(),
        metadata={
            **run_metadata(last),
            "rule_set_version": inputs.version,
            "partitions": len(runs),
            "kept_current_allocations": dg.MetadataValue.int(sum(not r.written for r in runs)),
        },
    )
    yield dg.MaterializeResult(
        asset_key=PROFITABILITY,
        metadata={
            "dagster/row_count": sum(r.outcome.profitability.height for r in runs),
            "left_out_unallocated": dg.MetadataValue.md(
                preview(last.outcome.unallocated, ["pool_line_id", "amount", "reason"], rows=50)
            ),
            "left_out_above_project_level": money_totals(
                last.outcome.slices.filter(pl.col("target_kind") != "projects"), "target_kind", "amount"
            ),
            "preview": dg.MetadataValue.md(
                preview(
                    last.outcome.profitability,
                    [
                        "project_id",
                        "project_name",
                        "revenue",
                        "direct_time_cost",
                        "direct_expense_cost",
                        "allocated_cost",
                        "margin",
                    ],
                    rows=50,
                )
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key=JOURNAL_DRAFTS,
        metadata={
            "dagster/row_count": sum(r.outcome.journals.height for r in runs),
            "manual_journals": sum(r.outcome.journals["journal_ref"].n_unique() for r in runs),
            "posting": "the current run's journals post as manual_journal documents "
            "(rules/allocation/journals.py), superseded posted ones reversed",
            "preview": dg.MetadataValue.md(
                preview(last.outcome.journals, ["journal_ref", "journal_date", "account_code", "line_amount"])
            ),
        },
    )


def build_cost_allocations(partitions: Partitions) -> dg.AssetsDefinition:
    """`allocation/*` over the configuration's entity-months."""
    return dg.multi_asset(
        name="cost_allocations",
        specs=SPECS,
        check_specs=CHECK_SPECS,
        partitions_def=partitions.entity_month,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )(allocate_months)
