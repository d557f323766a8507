"""The trace layer's writes and reads: which run wrote an entity's file, under which trace id, started by whom
(docs/decisions/0036)."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from resources.warehouse import Warehouse, replace_slice
from rules.tracing import RunTrace

RUNS = "trace.runs"


def record_run(warehouse: Warehouse, entity: str, run: RunTrace) -> None:
    """Record (or refresh) the run in the entity's file; every asset of a run may call it."""
    frame = pl.DataFrame(
        [
            {
                "run_id": run.run_id,
                "trace_id": run.trace_id,
                "entity": entity,
                "job": run.job,
                "partition": run.partition,
                "source": run.source,
                "started_by": run.started_by,
                "events": run.events,
                "recorded_at": datetime.now(UTC),
            }
        ]
    )
    with warehouse.transaction(entity) as con:
        replace_slice(con, RUNS, frame, "run_id = ?", [run.run_id])


def recorded_runs(warehouse: Warehouse, entity: str, run_ids: list[str]) -> dict[str, RunTrace]:
    """The recorded runs among `run_ids`, by run id."""
    if not run_ids:
        return {}
    rows = warehouse.query(
        entity,
        f"SELECT run_id, trace_id, job, partition, source, started_by, events FROM {RUNS} "
        "WHERE run_id IN (SELECT unnest(?::VARCHAR[]))",
        [sorted(set(run_ids))],
    )
    return {row["run_id"]: RunTrace(**row) for row in rows.iter_rows(named=True)}
