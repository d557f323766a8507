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

from assets.allocation.runs import AllocationRun, plan_month, record_outcomes, write_run
from assets.partitions import days_to_month, entity_month_partitions, month_slices
from assets.reporting import money_totals, preview
from resources.allocation_config import load_allocation_inputs
from resources.configuration import current_config
from resources.warehouse import Warehouse

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


def check_outcomes(runs: list[AllocationRun]) -> dict[str, tuple[bool, dict[str, Any]]]:
    """Each invariant over the runs' entity-months: (held in every one, metadata with each one's detail)."""
    outcomes: dict[str, tuple[bool, dict[str, Any]]] = {}
    for name in CHECKS:
        results = [(run.label, *run.outcome.checks[name]) for run in runs]
        broken = [label for label, ok, _ in results if not ok]
        table = ["| entity-month | passed | detail |", "|---|---|---|"]
        table += [f"| {label} | {ok} | {detail} |" for label, ok, detail in results]
        outcomes[name] = (
            not broken,
            {
                "entity_months": len(results),
                "broken_in": ", ".join(broken) or "none",
                "detail": dg.MetadataValue.md("\n".join(table)),
            },
        )
    return outcomes


def check_evaluations(runs: list[AllocationRun]) -> list[dg.AssetCheckEvaluation]:
    """The invariants as blocking check evaluations of `allocation/cost_allocations`, for an op job.

    One evaluation per check and run (not per entity-month): the checks are not partitioned,
    and Dagster keeps one execution per check, run and partition.
    """
    return [
        dg.AssetCheckEvaluation(
            asset_key=COST_ALLOCATIONS,
            check_name=name,
            passed=passed,
            metadata=metadata,
            blocking=True,
            description=CHECKS[name],
        )
        for name, (passed, metadata) in check_outcomes(runs).items()
    ]


def stop_if_broken(warehouse: Warehouse, runs: list[AllocationRun], *, record: bool) -> None:
    """Raise a dg.Failure naming every broken check and entity-month; nothing of the scope is written.

    With `record`, the broken entity-months' outcomes go to quality.check_results (the report
    counts them); entity-months that held are left as they were, since nothing of them changed.
    """
    broken = [(run, name, detail) for run in runs for name, detail in run.failed.items()]
    if not broken:
        return
    if record:
        for run in runs:
            if run.failed:
                record_outcomes(warehouse, run)
    names = sorted({name for _, name, _ in broken})
    raise dg.Failure(
        description=f"blocking check(s) {', '.join(names)} failed, nothing of the scope written: "
        + "; ".join(f"{name} on {run.label}: {detail}" for run, name, detail in broken),
        metadata={"failed_checks": ", ".join(names), "entity_months": len(runs)},
    )


def run_metadata(run: AllocationRun) -> dict[str, Any]:
    """The metadata of one entity-month's allocation: totals, unallocated costs and the diff."""
    outcome = run.outcome
    return {
        "allocation_run_id": run.run_id,
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


@dg.multi_asset(
    specs=[
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
    ],
    check_specs=[
        dg.AssetCheckSpec(name, asset=COST_ALLOCATIONS, blocking=True, description=text)
        for name, text in CHECKS.items()
    ],
    partitions_def=entity_month_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def cost_allocations(context: dg.AssetExecutionContext, warehouse: Warehouse) -> Iterator[object]:
    """Allocate the run's entity-months with the shipped rule set, each as a new allocation run."""
    config = current_config()
    inputs = load_allocation_inputs()
    planned = [
        plan_month(
            warehouse,
            inputs,
            part.entity,
            config.entity(part.entity).base_currency,
            part.month,
            context.run.run_id,
        )
        for part in month_slices(context)
    ]
    for name, (passed, metadata) in check_outcomes(planned).items():
        yield dg.AssetCheckResult(
            check_name=name, asset_key=COST_ALLOCATIONS, passed=passed, metadata=metadata
        )
    stop_if_broken(warehouse, planned, record=True)
    runs = [write_run(warehouse, inputs, run) for run in planned]
    last = runs[-1]
    yield dg.MaterializeResult(
        asset_key=COST_ALLOCATIONS,
        metadata={**run_metadata(last), "rule_set_version": inputs.version, "partitions": len(runs)},
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
