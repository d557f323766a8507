"""Reallocation of one entity-month at 1M time entries over 1,000 projects: time and peak memory.

Normalized lines are generated directly (vectorized, like `bench/synthetic.py`), stored
in a throwaway warehouse, and reallocated through the same function the `reallocate`
job runs (read, compute twice for the reproducibility check, diff, append).
"""

from __future__ import annotations

import tempfile
import time
from datetime import date, timedelta
from decimal import Decimal

import numpy as np
import polars as pl

from assets.allocation.runs import reallocate_month
from bench.processes import peak_rss_mib
from resources.warehouse import Warehouse, append
from rules.allocation.engine import compute_allocation
from rules.allocation.rule_set import AllocationInputs, OverheadRow, RuleSetDocument, UsageRow
from rules.money import MONEY, QUANTITY

MONTH = date(2026, 9, 1)
INTERNAL = 60000  # project 0 of the generated ones is the internal project


def normalized_lines(entries: int, projects: int = 1000, seed: int = 13) -> pl.DataFrame:
    """`entries` normalized time lines in September over `projects` projects and 200 people."""
    rng = np.random.default_rng(seed)
    project = rng.integers(0, projects, entries)
    quarter_hours = rng.integers(1, 33, entries)
    cost_rate = 50 + (project % 7) * 5
    day = rng.integers(0, 30, entries)
    frame = pl.DataFrame(
        {
            "n": np.arange(entries, dtype=np.int64),
            "project_id": (INTERNAL + project).astype(np.int64),
            "client_id": (5000 + project % 40).astype(np.int64),
            "person_id": rng.integers(1, 201, entries).astype(np.int64),
            "day": pl.Series([MONTH + timedelta(days=int(d)) for d in range(30)])[day],
            "qh": quarter_hours.astype(np.int64),
            "cents": (quarter_hours * cost_rate * 25).astype(np.int64),  # hours x rate, in cents
        }
    )
    return frame.select(
        pl.format("TE-{}", "n").alias("line_id"),
        pl.lit("us").alias("entity"),
        "day",
        pl.lit("time").alias("source_kind"),
        pl.col("n").alias("source_id"),
        pl.lit("0" * 64).alias("payload_hash"),
        "client_id",
        pl.lit("Client").alias("client_name"),
        pl.lit("Client").alias("contact_name"),
        "project_id",
        pl.format("Project {}", "project_id").alias("project_name"),
        "person_id",
        (pl.col("qh").cast(QUANTITY) / 4).cast(QUANTITY).alias("quantity"),
        pl.lit(Decimal(0)).cast(MONEY).alias("unit_price"),
        pl.lit("bench").alias("rate_source"),
        pl.lit(True).alias("billable"),
        pl.lit("billable").alias("billable_reason"),
        pl.lit(True).alias("approved"),
        pl.lit("bench").alias("approval_source"),
        pl.lit("USD").alias("txn_currency"),
        pl.lit(Decimal(0)).cast(MONEY).alias("amount_txn"),
        pl.lit("USD").alias("base_currency"),
        pl.lit(Decimal(1)).cast(pl.Decimal(18, 8)).alias("fx_rate"),
        pl.lit(MONTH).alias("fx_rate_date"),
        pl.lit("bench").alias("fx_source"),
        pl.lit("bench").alias("fx_type"),
        pl.lit(Decimal(0)).cast(MONEY).alias("amount_base"),
        pl.lit("USD").alias("reporting_currency"),
        pl.lit(Decimal(1)).cast(pl.Decimal(18, 8)).alias("fx_rate_reporting"),
        pl.lit(MONTH).alias("fx_rate_date_reporting"),
        pl.lit(Decimal(0)).cast(MONEY).alias("amount_reporting"),
        pl.lit(Decimal(0)).cast(MONEY).alias("cost_rate"),
        (pl.col("cents").cast(MONEY) / 100).cast(MONEY).alias("amount_cost_base"),
        pl.lit("bench").alias("rule_set_version"),
        pl.lit("bench").alias("run_id"),
    )


def bench_inputs(projects: int = 1000) -> AllocationInputs:
    """Four pools over 1,000 projects: internal time by hours, rent by headcount, software by seats, management by client hours."""
    rules = RuleSetDocument.model_validate(
        {
            "version": "bench",
            "internal_projects": [INTERNAL],
            "pools": [
                {"id": "internal_time", "source": "internal_time"},
                {"id": "rent", "source": "overhead", "category": "rent"},
                {"id": "software", "source": "overhead", "category": "software"},
                {"id": "management", "source": "overhead", "category": "management"},
            ],
            "rules": [
                {
                    "id": "H",
                    "pool": "internal_time",
                    "driver": "hours",
                    "targets": "projects",
                    "effective_from": "2026-01-01",
                },
                {
                    "id": "R1",
                    "pool": "rent",
                    "driver": "headcount",
                    "targets": "projects",
                    "effective_from": "2026-01-01",
                    "effective_to": "2026-09-15",
                },
                {
                    "id": "R2",
                    "pool": "rent",
                    "driver": "hours",
                    "targets": "projects",
                    "effective_from": "2026-09-16",
                },
                {
                    "id": "S",
                    "pool": "software",
                    "driver": "usage",
                    "usage_metric": "seats",
                    "targets": "projects",
                    "effective_from": "2026-01-01",
                },
                {
                    "id": "M",
                    "pool": "management",
                    "driver": "hours",
                    "targets": "clients",
                    "effective_from": "2026-01-01",
                },
            ],
        }
    )
    overheads = (
        OverheadRow(
            reference="RENT-A",
            entity="us",
            date=date(2026, 9, 1),
            category="rent",
            amount=Decimal("120000.00"),
        ),
        OverheadRow(
            reference="RENT-B",
            entity="us",
            date=date(2026, 9, 20),
            category="rent",
            amount=Decimal("3000.17"),
        ),
        OverheadRow(
            reference="SW",
            entity="us",
            date=date(2026, 9, 1),
            category="software",
            amount=Decimal("45000.01"),
        ),
        OverheadRow(
            reference="MGMT",
            entity="us",
            date=date(2026, 9, 30),
            category="management",
            amount=Decimal("90000.00"),
        ),
    )
    usage = tuple(
        UsageRow(
            entity="us",
            period="2026-09",
            metric="seats",
            project_id=INTERNAL + p,
            quantity=Decimal(1 + p % 5),
        )
        for p in range(1, projects)
    )
    return AllocationInputs(rules, "bench+0", "bench", overheads, usage)


def bench_allocation(entries: int = 1_000_000, projects: int = 1000) -> None:
    """Print the time and peak memory of reallocating one entity-month."""
    t0 = time.perf_counter()
    lines = normalized_lines(entries, projects)
    inputs = bench_inputs(projects)
    print(
        f"generated {lines.height:,} normalized time lines over {projects:,} projects in {time.perf_counter() - t0:.1f}s"
    )
    empty_invoices = pl.DataFrame(
        schema={"project_id": pl.Int64, "line_amount": MONEY, "currency_rate": pl.Decimal(18, 8)}
    )
    t0 = time.perf_counter()
    outcome = compute_allocation(lines, empty_invoices, inputs, "us", "USD", MONTH)
    t_pure = time.perf_counter() - t0
    print(
        f"compute:      {t_pure:6.2f}s  ({len(outcome.pool_lines)} pool lines, {outcome.slices.height:,} slices, "
        f"checks {'pass' if all(ok for ok, _ in outcome.checks.values()) else 'FAIL'})  peak RSS {peak_rss_mib():,.0f} MiB"
    )
    with tempfile.TemporaryDirectory() as home:
        warehouse = Warehouse(home=home)
        with warehouse.transaction("us") as con:
            append(con, "normalized.billable_lines", lines)
        del lines
        t0 = time.perf_counter()
        run = reallocate_month(warehouse, inputs, "us", "USD", MONTH, "bench-1")
        t_first = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = reallocate_month(warehouse, inputs, "us", "USD", MONTH, "bench-2")
        t_again = time.perf_counter() - t0
    same = "identical" if again.outcome.result_hash == run.outcome.result_hash else "DIFFERENT"
    print(f"reallocate:   {t_first:6.2f}s  read + compute x2 + checks + diff + append (first run)")
    print(
        f"re-run:       {t_again:6.2f}s  same inputs and rules -> {same} result, diff against the first run"
    )
    print(f"peak RSS:     {peak_rss_mib():,.0f} MiB")


if __name__ == "__main__":
    bench_allocation()
