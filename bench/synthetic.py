"""Vectorized generation of raw PM frames at benchmark scale (millions of time entries in seconds)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import polars as pl

from rules.pm_payloads import RAW_COLUMNS

BENCH_START = date(2026, 8, 1)
BENCH_DAYS = 92


def raw_time_entries(entries: int, projects: int = 1000, seed: int = 11, entity: str = "us") -> pl.DataFrame:
    """`entries` Harvest-shaped time entries as raw rows, spread over 92 days and `projects` projects."""
    rng = np.random.default_rng(seed)
    project = rng.integers(0, projects, entries)
    client = 5001 + project % 3  # the demo's three US clients
    hours = rng.integers(1, 17, entries) * 0.25
    rate = (100 + (project % 12) * 12.5).astype(float)
    day_offset = rng.integers(0, BENCH_DAYS, entries)
    days = [BENCH_START + timedelta(days=int(i)) for i in range(BENCH_DAYS)]
    frame = pl.DataFrame(
        {
            "id": np.arange(1, entries + 1, dtype=np.int64),
            "spent_date": pl.Series([d.isoformat() for d in days])[day_offset],
            "hours": hours,
            "billable": np.ones(entries, dtype=bool),
            "billable_rate": rate,
            "is_closed": np.ones(entries, dtype=bool),
            "client_id": client,
            "project_id": 60000 + project,
            "task_id": 7001 + project % 4,
        }
    )
    payload = pl.struct(
        "id",
        "spent_date",
        "hours",
        "billable",
        "billable_rate",
        "is_closed",
        pl.struct(
            pl.col("client_id").alias("id"), pl.lit("Client").alias("name"), pl.lit("USD").alias("currency")
        ).alias("client"),
        pl.struct(
            pl.col("project_id").alias("id"),
            pl.format("Project {}", "project_id").alias("name"),
            pl.format("P-{}", "project_id").alias("code"),
        ).alias("project"),
        pl.struct(pl.col("task_id").alias("id"), pl.lit("Development").alias("name")).alias("task"),
        pl.struct(pl.lit(8001).alias("id"), pl.lit("Ada").alias("name")).alias("user"),
    ).struct.json_encode()
    return frame.select(
        pl.lit(entity).alias("entity"),
        pl.col("spent_date").str.to_date().alias("day"),
        pl.col("id").alias("record_id"),
        payload.alias("payload"),
        pl.lit("0" * 64).alias("payload_hash"),
        pl.lit("claimed").alias("routing"),
        pl.lit(datetime(2026, 11, 1, tzinfo=UTC)).alias("extracted_at"),
        pl.lit("bench").alias("request_url"),
        pl.lit("bench").alias("run_id"),
        pl.lit("bench").alias("contract_version"),
    ).cast(RAW_COLUMNS)  # type: ignore[arg-type]


def directory(projects: int = 1000) -> pl.DataFrame:
    """raw.directory rows for the benchmark's projects and clients."""
    rows = [
        {"kind": "projects", "payload": json.dumps({"id": 60000 + p, "code": f"P-{p}", "is_billable": True})}
        for p in range(projects)
    ]
    rows += [
        {"kind": "clients", "payload": json.dumps({"id": c, "currency": "USD"})} for c in (5001, 5002, 5003)
    ]
    return pl.DataFrame(rows)
