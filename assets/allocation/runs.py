"""Run one entity-month's allocation against the warehouse: read, compute, check, diff, append.

Runs are append-only: each writes its rows under its own run id and never touches
another run's; the "current" allocation of an entity-month is its latest written run
(`allocation.runs`). A dry run computes, checks and diffs, and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from assets.allocation.diff import allocation_diff, diff_markdown
from assets.allocation.engine import INPUT_COLUMNS, AllocationOutcome, compute_allocation
from assets.allocation.invariants import reproducible
from checks.allocation_schemas import AllocationSlices, JournalDrafts, PoolLines, Profitability
from resources.allocation_config import AllocationInputs
from resources.warehouse import Warehouse, append, record_checks

ASSET_NAME = "allocation/cost_allocations"
# Only the columns allocation reads: a million-line month in a fraction of the memory of SELECT *.
LINE_COLUMNS = ", ".join(INPUT_COLUMNS)

CURRENT_RUN_SQL = """
SELECT run_id FROM allocation.runs WHERE entity = ? AND period = ?
ORDER BY created_at DESC, run_id DESC LIMIT 1
"""


class AllocationInvariantError(Exception):
    """An allocation broke a money invariant; nothing of it was written."""


@dataclass(frozen=True)
class AllocationRun:
    """What one entity-month's (re)allocation produced."""

    entity: str
    period: str
    run_id: str
    previous_run_id: str | None
    outcome: AllocationOutcome
    diff: pl.DataFrame
    diff_markdown: str
    written: bool


def current_run_id(warehouse: Warehouse, entity: str, period: str) -> str | None:
    """The latest written allocation run of an entity-month, if any."""
    found = warehouse.query(entity, CURRENT_RUN_SQL, [entity, period])
    return str(found["run_id"][0]) if found.height else None


def current_slices(warehouse: Warehouse, entity: str, period: str) -> pl.DataFrame:
    """The slices of the entity-month's current allocation (empty when never allocated)."""
    run = current_run_id(warehouse, entity, period)
    return warehouse.query(
        entity,
        "SELECT * FROM allocation.slices WHERE entity = ? AND period = ? AND run_id = ?",
        [entity, period, run or ""],
    )


def _with_run(frame: pl.DataFrame, entity: str, period: str, run_id: str, version: str) -> pl.DataFrame:
    return frame.with_columns(
        pl.lit(entity).alias("entity"),
        pl.lit(period).alias("period"),
        pl.lit(version).alias("rule_set_version"),
        pl.lit(run_id).alias("run_id"),
    )


def reallocate_month(
    warehouse: Warehouse,
    inputs: AllocationInputs,
    entity: str,
    currency: str,
    month: date,
    run_id: str,
    *,
    dry_run: bool = False,
) -> AllocationRun:
    """Allocate one entity-month with `inputs`; raise AllocationInvariantError (writing nothing) on a broken invariant."""
    period = month.strftime("%Y-%m")
    lines = warehouse.query(
        entity,
        f"SELECT {LINE_COLUMNS} FROM normalized.billable_lines "
        "WHERE entity = ? AND day BETWEEN ? AND last_day(?::DATE) ORDER BY line_id",
        [entity, month, month],
    )
    invoice_lines = warehouse.query(
        entity,
        """
        SELECT l.project_id, l.line_amount, d.currency_rate
        FROM billing.invoice_draft_lines l JOIN billing.invoice_drafts d USING (invoice_number)
        WHERE l.entity = ? AND l.period = ? ORDER BY l.invoice_number, l.line_no
        """,
        [entity, period],
    )
    outcome = compute_allocation(lines, invoice_lines, inputs, entity, currency, month)
    again = compute_allocation(lines, invoice_lines, inputs, entity, currency, month)
    earlier = warehouse.query(
        entity,
        "SELECT run_id, result_hash FROM allocation.runs WHERE entity = ? AND period = ? "
        "AND rule_set_version = ? AND inputs_hash = ?",
        [entity, period, inputs.version, outcome.inputs_hash],
    )
    checks = {
        **outcome.checks,
        "allocation_reproducible": reproducible(
            outcome.result_hash, again.result_hash, dict(earlier.iter_rows())
        ),
    }
    previous_id = current_run_id(warehouse, entity, period)
    previous = current_slices(warehouse, entity, period)
    diff = allocation_diff(previous, outcome.slices)
    markdown = diff_markdown(diff, currency)
    failed = {name: detail for name, (ok, detail) in checks.items() if not ok}
    label = f"{entity}|{period}"
    if failed:
        if not dry_run:
            with warehouse.transaction(entity) as con:
                record_checks(
                    con, entity=entity, asset=ASSET_NAME, partition=label, outcomes=checks, run_id=run_id
                )
        raise AllocationInvariantError(f"{label}: allocation breaks {failed}; nothing written")
    result = AllocationRun(
        entity, period, run_id, previous_id, _checked(outcome, checks), diff, markdown, not dry_run
    )
    if dry_run:
        return result
    # The write gate: every frame has the declared exact types before anything is stored.
    for model, frame in (
        (AllocationSlices, outcome.slices),
        (PoolLines, outcome.pool_frame),
        (JournalDrafts, outcome.journals),
        (Profitability, outcome.profitability),
    ):
        model.validate(frame, lazy=True)
    version = inputs.version
    with warehouse.transaction(entity) as con:
        append(con, "allocation.pool_lines", _with_run(outcome.pool_frame, entity, period, run_id, version))
        append(
            con, "allocation.pool_line_sources", _with_run(outcome.sources, entity, period, run_id, version)
        )
        append(con, "allocation.slices", _with_run(outcome.slices, entity, period, run_id, version))
        append(con, "allocation.unallocated", _with_run(outcome.unallocated, entity, period, run_id, version))
        append(
            con,
            "allocation.depreciation_schedule",
            _with_run(outcome.schedule, entity, period, run_id, version),
        )
        append(con, "allocation.journal_drafts", _with_run(outcome.journals, entity, period, run_id, version))
        append(
            con, "allocation.profitability", _with_run(outcome.profitability, entity, period, run_id, version)
        )
        con.execute(
            "INSERT INTO allocation.runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
            [
                run_id,
                entity,
                period,
                version,
                inputs.source_path,
                outcome.inputs_hash,
                outcome.result_hash,
                previous_id,
                outcome.slices["amount"].sum() if outcome.slices.height else 0,
                outcome.unallocated["amount"].sum() if outcome.unallocated.height else 0,
            ],
        )
        record_checks(con, entity=entity, asset=ASSET_NAME, partition=label, outcomes=checks, run_id=run_id)
    return result


def _checked(outcome: AllocationOutcome, checks: dict[str, tuple[bool, str]]) -> AllocationOutcome:
    from dataclasses import replace

    return replace(outcome, checks=checks)
