"""The trace layer's table (docs/decisions/0036): every run that wrote an entity's file, with its trace id
and who started it, so any row's `run_id` leads to the PM change and the person behind it."""

from __future__ import annotations

from rules.schemas.registry import TIMESTAMPTZ, VARCHAR, TableSchema, col

TRACE_TABLES: tuple[TableSchema, ...] = (
    TableSchema(
        "trace.runs",
        "1.0.0",
        (
            col("run_id", VARCHAR),
            col("trace_id", VARCHAR),
            col("entity", VARCHAR),
            col("job", VARCHAR),
            col("partition", VARCHAR),
            col("source", VARCHAR),
            col("started_by", VARCHAR),
            col("events", VARCHAR),
            col("recorded_at", TIMESTAMPTZ),
        ),
        primary_key=("run_id",),
        description="One row per run that wrote this file: its trace id, job, partition and who started it.",
    ),
)
