"""`make bench` section: the billing path (normalize -> invoice drafts) as its assets run it, over a
year of a generated firm (bench/synthetic.py Firm), next to a bare DuckDB aggregate over the same rows.

The records are stored first in a throwaway warehouse, as extraction would leave them (but for
field encryption: see `_seed`). Then, each in a fresh process so its peak RSS is its own:

- the path: `normalized/billable_lines` over the year's 365 entity-days (one run, windows of
  `window_records` raw records) and `billing/invoice_drafts` over its 12 months (one run), through
  Dagster on an in-memory instance: pandera gate, DuckDB write and read-back included;
- the floor: one DuckDB query over the stored time entries, reading the fields billing needs from
  each payload and summing hours x rate per client, project, task and month.

Figures are printed, never asserted.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from datetime import timedelta
from typing import Any

from assets.normalized.billable_lines import WINDOW_RECORDS
from bench.processes import in_fresh_process, peak_rss_mib
from bench.synthetic import YEAR_DAYS, YEAR_START, Firm, year_of_records

SEED_BATCH = 500_000  # records generated and stored at a time
EXPENSE_SHARE = 50  # one expense per this many time entries


def _seed(home: str, entries: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Store `entries` time entries and one expense per EXPENSE_SHARE of them, with the directory.

    Stored clear: sealing the people's names in 10M payloads would take most of an hour here, and
    the path reads clear and sealed payloads alike (it still seals what it writes).
    """
    import os

    from resources.field_crypto import ENCRYPTION_ENV
    from resources.warehouse import Warehouse, append

    os.environ[ENCRYPTION_ENV] = "off"

    firm, warehouse = Firm(), Warehouse(home=home)
    t0 = time.perf_counter()
    with warehouse.transaction("us") as con:
        append(con, "raw.directory", firm.directory())
    expenses = entries // EXPENSE_SHARE
    for table, count, first, expense in (
        ("raw.time_entries", entries, 1, False),
        ("raw.expenses", expenses, 10**9, True),
    ):
        batches = max(1, -(-count // SEED_BATCH))
        for k in range(batches):  # a stretch of days at a time, as extraction appends them
            start, end = count * k // batches, count * (k + 1) // batches
            days = range(YEAR_DAYS * k // batches, YEAR_DAYS * (k + 1) // batches)
            batch = year_of_records(
                firm, first + start, end - start, seed=first + k, expenses=expense, days=days
            )
            with warehouse.transaction("us") as con:
                append(con, table, batch)
    out.put({"seconds": time.perf_counter() - t0, "expenses": expenses})


def _measure_path(home: str, window_records: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import dagster as dg

    from assets.billing.invoice_drafts import build_invoice_drafts
    from assets.normalized.billable_lines import build_billable_lines
    from assets.partitions import Partitions, day_key, month_key
    from pipelines.runner import RANGE_END, RANGE_START
    from resources.configuration import load_config
    from resources.fx import EcbRates
    from resources.warehouse import Warehouse

    config = Firm().config(load_config())
    partitions, warehouse = Partitions.of(config), Warehouse(home=home)
    resources = {"warehouse": warehouse, "fx": EcbRates(), "settings": config}
    EcbRates().snapshot()  # the packaged rates parsed once, as a long-lived code server holds them
    instance = dg.DagsterInstance.ephemeral()
    last_day = YEAR_START + timedelta(days=YEAR_DAYS - 1)
    baseline = peak_rss_mib()
    runs = {}
    for name, asset, start, end, run_config in (
        ("normalize", build_billable_lines(partitions), day_key("us", YEAR_START), day_key("us", last_day),
         {"ops": {"billable_lines": {"config": {"window_records": window_records}}}}),
        ("draft", build_invoice_drafts(partitions), month_key("us", YEAR_START), month_key("us", last_day), {}),
    ):  # fmt: skip
        t0 = time.perf_counter()
        result = dg.materialize(
            [asset], instance=instance, resources=resources, run_config=run_config,
            tags={RANGE_START: str(start), RANGE_END: str(end)},
        )  # fmt: skip
        runs[name] = {"run": time.perf_counter() - t0, "step": _step_work(instance, result.run_id),
                      "ok": result.success, "peak_mib": peak_rss_mib()}  # fmt: skip
    counts = warehouse.query(
        "us",
        "SELECT (SELECT count(*) FROM normalized.billable_lines), (SELECT count(*) FROM normalized.quarantine), "
        "(SELECT count(*) FROM billing.invoice_drafts), (SELECT count(DISTINCT currency) FROM billing.invoice_drafts)",
    ).row(0)
    out.put({**runs, "peak_mib": peak_rss_mib(), "baseline_mib": baseline, "counts": counts})


def _step_work(instance: Any, run_id: str) -> float:
    """Seconds from the step's start to its first result: everything the asset's code does (read,
    price, gate, write, read back), none of Dagster's bookkeeping of the run's partitions around it."""
    import dagster as dg

    logs = instance.all_logs(run_id)
    started = next(e.timestamp for e in logs if e.dagster_event_type == dg.DagsterEventType.STEP_START)
    reported = (dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION,
                dg.DagsterEventType.STEP_FAILURE)  # fmt: skip
    return float(next(e.timestamp for e in logs if e.dagster_event_type in reported) - started)


def _measure_floor(home: str, _window: int, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    import duckdb

    from resources.warehouse import Warehouse

    con = duckdb.connect(str(Warehouse(home=home).path("us")), read_only=True)
    con.execute("SET enable_progress_bar = false")
    t0 = time.perf_counter()
    groups = con.execute(
        """
        SELECT json_extract_string(payload, '$.client.id') AS client, json_extract_string(payload, '$.project.id') AS project,
               json_extract_string(payload, '$.task.id') AS task, date_trunc('month', day) AS month,
               sum(CAST(json_extract_string(payload, '$.hours') AS DECIMAL(18,4))
                   * CAST(json_extract_string(payload, '$.billable_rate') AS DECIMAL(18,4))) AS amount
        FROM raw.time_entries GROUP BY ALL
        """
    ).fetchall()
    out.put({"seconds": time.perf_counter() - t0, "peak_mib": peak_rss_mib(), "groups": len(groups)})


def bench_billing(entries: int, window_records: int) -> dict[str, dict[str, Any]]:
    """Print and return the path's and the floor's time and peak RSS at `entries` time entries."""
    with tempfile.TemporaryDirectory(prefix="billbridge-bench-") as home:
        seeded = in_fresh_process(_seed, home, entries)
        print(f"stored {entries:,} time entries and {seeded['expenses']:,} expenses of {Firm()} "
              f"over {YEAR_DAYS} days from {YEAR_START} in {seeded['seconds']:.0f}s")  # fmt: skip
        path = in_fresh_process(_measure_path, home, window_records)
        floor = in_fresh_process(_measure_floor, home, window_records)
    lines, quarantined, invoices, currencies = path["counts"]
    norm, draft = path["normalize"], path["draft"]
    work, runs = norm["step"] + draft["step"], norm["run"] + draft["run"]
    failed = "" if norm["ok"] and draft["ok"] else "  RUN FAILED"
    print(f"normalize:    {norm['step']:6.2f}s  {lines:,} lines, {quarantined:,} quarantined, "
          f"windows of {window_records:,} records, peak RSS {norm['peak_mib']:,.0f} MiB "
          f"(run {norm['run']:.1f}s with Dagster's bookkeeping)")  # fmt: skip
    print(f"draft:        {draft['step']:6.2f}s  {invoices:,} invoices in {currencies} currencies, 12 months "
          f"(run {draft['run']:.1f}s)")  # fmt: skip
    print(f"path total:   {work:6.2f}s  {entries / work:>10,.0f} rows/s  peak RSS {path['peak_mib']:,.0f} MiB "
          f"({path['baseline_mib']:,.0f} before the runs); both runs {runs:.1f}s{failed}")  # fmt: skip
    print(f"DuckDB floor: {floor['seconds']:6.2f}s  {entries / floor['seconds']:>10,.0f} rows/s  peak RSS "
          f"{floor['peak_mib']:,.0f} MiB (JSON aggregate over the stored time entries, {floor['groups']:,} groups)")  # fmt: skip
    print(f"path / floor: {work / floor['seconds']:6.1f}x  (targets: under 2x; peak under 2 GiB at 10M)")
    return {"path": path, "floor": floor}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--window-records", type=int, default=WINDOW_RECORDS)
    arguments = parser.parse_args()
    bench_billing(arguments.entries, arguments.window_records)
