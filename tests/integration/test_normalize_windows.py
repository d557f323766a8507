"""The normalize step writes a run's days window by window (decision 0043): the tables it and the
billing step write are the same, row for row, whether the run's days go in one window or in
windows of ten records.

Both runs go through real Dagster on real DuckDB files (one warehouse each), over two months of
records with quarantined ones, unapproved ones, expenses and two currencies.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest

from assets.billing.invoice_drafts import build_invoice_drafts
from assets.normalized.billable_lines import build_billable_lines
from assets.partitions import DaySlice, Partitions, day_key, day_windows, month_key
from pipelines.runner import RANGE_END, RANGE_START
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from resources.fx import EcbRates
from resources.warehouse import Warehouse, append
from tests.factories import directory, expense, raw_frame, time_entry

pytestmark = pytest.mark.integration

CONFIG = load_config(DEFAULT_CONFIG_PATH)
PARTITIONS = Partitions.of(CONFIG)
FIRST, LAST = date(2026, 8, 1), date(2026, 9, 30)
# Different on every run by design: the run's bookkeeping (check outcomes are judged per window,
# traces and migrations are timed), and the raw inputs both runs read (personal fields encrypted
# under each file's own key).
NOT_COMPARED = ("quality.check_results", "meta.", "trace.", "raw.")


def _time_entries() -> list[dict[str, Any]]:
    entries = []
    for i in range(1, 121):
        day = (FIRST + timedelta(days=i % 55)).isoformat()
        client, currency = (5003, "EUR") if i % 3 == 0 else (5001 + i % 2, "USD")
        hours = 30 if i % 17 == 0 else (i % 8 + 1) * 0.25  # every 17th: out of range, quarantined
        project = 6999 if i % 23 == 0 else 6001 + i % 4  # every 23rd: unknown project, quarantined
        entries.append(
            time_entry(i, hours, 100 + i % 5 * 12.5, day=day, project=project, client=client,
                       task=7001 + i % 3, closed=i % 11 != 0, currency=currency)
        )  # fmt: skip
    return entries


def _seeded(home: Path) -> Warehouse:
    """A warehouse holding the raw records of August and September (days 56..61 have none)."""
    warehouse = Warehouse(home=str(home))
    expenses = [
        expense(900 + i, 40 + i, day=(FIRST + timedelta(days=i * 3)).isoformat(), project=6001 + i % 4)
        for i in range(12)
    ]
    folder = directory(
        {6001: True, 6002: True, 6003: False, 6004: True}, {5001: "USD", 5002: "USD", 5003: "EUR"}
    )
    with warehouse.transaction("us") as con:
        append(con, "raw.time_entries", raw_frame(_time_entries(), "us"))
        append(con, "raw.expenses", raw_frame(expenses, "us"))
        append(con, "raw.directory", _as_raw_directory(folder))
    return warehouse


def _as_raw_directory(folder: pl.DataFrame) -> pl.DataFrame:
    return folder.with_row_index("record_id").select(
        pl.lit("us").alias("entity"), "kind", pl.col("record_id").cast(pl.Int64), "payload",
        pl.lit("0" * 64).alias("payload_hash"), pl.lit(datetime(2026, 9, 1, tzinfo=UTC)).alias("extracted_at"),
        pl.lit("http://pm/v2/directory").alias("request_url"), pl.lit("test-run").alias("run_id"),
        pl.lit("test").alias("contract_version"),
    )  # fmt: skip


def _run_path(warehouse: Warehouse, instance: dg.DagsterInstance, window_records: int) -> list[str]:
    """Normalize August..September in windows of `window_records`, then draft both months; the run ids."""
    resources = {"warehouse": warehouse, "fx": EcbRates(), "settings": CONFIG}
    normalize = dg.materialize(
        [build_billable_lines(PARTITIONS)],
        instance=instance,
        resources=resources,
        tags={RANGE_START: str(day_key("us", FIRST)), RANGE_END: str(day_key("us", LAST))},
        run_config={"ops": {"billable_lines": {"config": {"window_records": window_records}}}},
    )
    drafts = dg.materialize(
        [build_invoice_drafts(PARTITIONS)],
        instance=instance,
        resources=resources,
        tags={RANGE_START: str(month_key("us", FIRST)), RANGE_END: str(month_key("us", LAST))},
    )
    return [normalize.run_id, drafts.run_id]


def _tables(warehouse: Warehouse, run_ids: list[str]) -> dict[str, list[tuple[Any, ...]]]:
    """Every table of the entity's file but NOT_COMPARED, sorted, with the run ids named RUN."""
    names = warehouse.query(
        "us",
        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
        "WHERE table_type = 'BASE TABLE' ORDER BY 1",
    ).to_series()
    tables = {}
    for name in names:
        if name.startswith(NOT_COMPARED):
            continue
        frame = warehouse.query("us", f"SELECT * FROM {name} ORDER BY ALL")
        tables[name] = [tuple("RUN" if v in run_ids else v for v in row) for row in frame.iter_rows()]
    return tables


def test_small_windows_write_the_same_tables_as_one_window(tmp_path: Path) -> None:
    with dg.instance_for_test() as instance:
        in_windows = _seeded(tmp_path / "in_windows")
        at_once = _seeded(tmp_path / "at_once")
        day_runs = _run_path(in_windows, instance, window_records=10)
        once_runs = _run_path(at_once, instance, window_records=1_000_000)
        windowed, whole = _tables(in_windows, day_runs), _tables(at_once, once_runs)

    assert windowed.keys() == whole.keys()
    for name in whole:
        assert windowed[name] == whole[name], name
    # The comparison compared something: lines, quarantine, pins and drafts in both months.
    assert len(whole["normalized.billable_lines"]) == 108 + 12  # 7 out of range, 5 unknown projects held back
    assert {row[4] for row in whole["normalized.quarantine"]} == {"unknown_project", "hours_out_of_range"}
    assert len(whole["billing.invoice_drafts"]) >= 4
    # Windows of a few days (132 records over 61 days, at most 10 a window), each judged on its own.
    judged = "SELECT partition FROM quality.check_results WHERE asset = 'normalized/billable_lines'"
    assert in_windows.query("us", judged).height >= 14
    assert at_once.query("us", judged).to_series().to_list() == ["us|2026-08-01..2026-09-30"]


def test_windows_hold_whole_days_up_to_the_bound() -> None:
    days = tuple(date(2026, 8, d) for d in range(1, 7))
    counts = {days[0]: 3, days[1]: 3, days[2]: 9, days[4]: 2, days[5]: 1}
    windows = day_windows(DaySlice("us", days), counts, max_records=6)
    assert [w.days for w in windows] == [days[0:2], days[2:3], days[3:6]]
    assert day_windows(DaySlice("us", days), counts, max_records=10**6) == [DaySlice("us", days)]
