"""Run one entity-month's allocation against the warehouse: read, compute, check, diff, append.

Runs are append-only: each writes its rows under its own run id and never touches
another run's; the "current" allocation of an entity-month is its latest written run
(`allocation.runs`). A run is planned first (read, compute, check, diff: `plan_month`) and
written only when every invariant holds (`write_run`), so a caller can check a whole scope
before writing any of it. A dry run plans and writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date

import polars as pl

from checks.allocation_schemas import AllocationSlices, JournalDrafts, PoolLines, Profitability
from resources.warehouse import Warehouse, append, record_checks
from rules.allocation.diff import allocation_diff, diff_markdown
from rules.allocation.engine import INPUT_COLUMNS, AllocationOutcome, compute_allocation
from rules.allocation.invariants import reproducible
from rules.allocation.rule_set import AllocationInputs

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

    def label(self) -> str:
        """`entity|period`, as check outcomes name the entity-month."""
        return f"{self.entity}|{self.period}"

    @property
    def failed(self) -> dict[str, str]:
        """The broken invariants: {check name: detail}; empty when every check passed."""
        return {name: detail for name, (ok, detail) in self.outcome.checks.items() if not ok}


def current_run_id(warehouse: Warehouse, entity: str, period: str) -> str | None:
    """The latest written allocation run of an entity-month, if any."""
    found = warehouse.query(entity, CURRENT_RUN_SQL, [entity, period])
    return str(found["run_id"][0]) if found.height else None


def keeps_current(warehouse: Warehouse, run: AllocationRun) -> bool:
    """Whether the entity-month's current allocation already allocated exactly `run`'s inputs.

    The month's close then keeps it rather than appending a copy: a reallocation under another
    rule set stands until the month's data change (docs/decisions/0038-one-close-per-entity-month.md).
    """
    if run.previous_run_id is None:
        return False
    found = warehouse.query(
        run.entity, "SELECT inputs_hash FROM allocation.runs WHERE run_id = ?", [run.previous_run_id]
    )
    return found.height == 1 and found["inputs_hash"][0] == run.outcome.inputs_hash


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


def plan_month(
    warehouse: Warehouse,
    inputs: AllocationInputs,
    entity: str,
    currency: str,
    month: date,
    run_id: str,
) -> AllocationRun:
    """Read, compute, check and diff one entity-month with `inputs`; write nothing.

    The invariants' outcomes are on `outcome.checks` (and the broken ones on `failed`): callers
    check every entity-month of their scope before writing any (see `write_run`).
    """
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
    diff = allocation_diff(current_slices(warehouse, entity, period), outcome.slices)
    return AllocationRun(
        entity,
        period,
        run_id,
        previous_id,
        replace(outcome, checks=checks),
        diff,
        diff_markdown(diff, currency),
        written=False,
    )


def record_outcomes(warehouse: Warehouse, run: AllocationRun) -> None:
    """Store a planned entity-month's check outcomes in quality.check_results (the report reads them)."""
    with warehouse.transaction(run.entity) as con:
        record_checks(
            con, entity=run.entity, asset=ASSET_NAME, partition=run.label(), outcomes=run.outcome.checks,
            run_id=run.run_id,
        )  # fmt: skip


def write_run(warehouse: Warehouse, inputs: AllocationInputs, run: AllocationRun) -> AllocationRun:
    """Append a planned entity-month (every frame, the run row and its check outcomes) in one transaction.

    Refuses (AllocationInvariantError, nothing written) a run with a broken invariant.
    """
    if run.failed:
        raise AllocationInvariantError(f"{run.label()}: allocation breaks {run.failed}; nothing written")
    outcome, entity, period, run_id = run.outcome, run.entity, run.period, run.run_id
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
                run.previous_run_id,
                outcome.slices["amount"].sum() if outcome.slices.height else 0,
                outcome.unallocated["amount"].sum() if outcome.unallocated.height else 0,
            ],
        )
        record_checks(
            con,
            entity=entity,
            asset=ASSET_NAME,
            partition=run.label(),
            outcomes=outcome.checks,
            run_id=run_id,
        )
    return replace(run, written=True)


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
    """Plan and (unless `dry_run`) write one entity-month on its own.

    A broken invariant raises AllocationInvariantError with nothing written (its outcomes are
    recorded in quality.check_results unless `dry_run`).
    """
    run = plan_month(warehouse, inputs, entity, currency, month, run_id)
    if run.failed:
        if not dry_run:
            record_outcomes(warehouse, run)
        raise AllocationInvariantError(f"{run.label()}: allocation breaks {run.failed}; nothing written")
    return run if dry_run else write_run(warehouse, inputs, run)
