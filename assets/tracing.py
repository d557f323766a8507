"""Each step of a run is recorded under its trace id and measured as an OpenTelemetry span
(docs/decisions/0036): the assets that extract, price, draft and post call `traced_step` per partition."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from opentelemetry.trace import Span

from assets.partitions import DaySlice, MonthSlice
from resources.run_traces import record_run
from resources.telemetry import AttributeValue, span
from resources.warehouse import Warehouse
from rules.settings import BillbridgeConfig
from rules.tracing import RunTrace


def run_trace(context: dg.AssetExecutionContext) -> RunTrace:
    """The running run as the trace records it (trace id, job, partition, who started it)."""
    run = context.run
    return RunTrace.of(run.run_id, run.job_name, run.tags)


@contextmanager
def traced_step(
    context: dg.AssetExecutionContext,
    warehouse: Warehouse,
    settings: BillbridgeConfig,
    name: str,
    part: DaySlice | MonthSlice,
    attributes: dict[str, AttributeValue] | None = None,
) -> Iterator[Span]:
    """Record the run in the partition's entity file, then run the step inside the span `name`."""
    run = run_trace(context)
    record_run(warehouse, part.entity, run)
    described: dict[str, AttributeValue] = {
        "dagster.run_id": run.run_id,
        "dagster.job": run.job,
        "billbridge.entity": part.entity,
        "billbridge.partition": part.label(),
        "billbridge.started_by": run.started_by,
        **(attributes or {}),
    }
    with span(name, run.trace_id, settings.telemetry, described) as current:
        yield current
