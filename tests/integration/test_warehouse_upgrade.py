"""A warehouse file written before decision 0019 still works: its instruction-only columns are dropped.

Earlier versions stored `line_increment_minutes` and `line_minimum_minutes` on every normalized line
only to tell billing how to round invoice lines; billing now reads the rule set itself. A real DuckDB
file carrying those columns (and a line written with them) is opened through the Warehouse resource:
the columns are gone, the line is intact, and it passes the strict model the invoice drafts asset
validates it with.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import polars as pl
import pytest

from checks.schemas import BillableLines, validate
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from resources.warehouse import Warehouse, append
from rules.normalizing import normalize_lines
from tests.factories import directory, fx_snapshot, raw_frame, time_entry

pytestmark = pytest.mark.integration

OLD_COLUMNS = ("line_increment_minutes", "line_minimum_minutes")


def test_a_file_with_the_old_rounding_columns_is_upgraded_on_open(tmp_path: Path) -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    rates = fx_snapshot({date(2026, 7, 31): {"USD": "1.25"}})
    lines = normalize_lines(
        raw_frame([time_entry(1, 0.2, 100)]), raw_frame([]), directory({6001: True}, {5001: "USD"}),
        config.entity("us"), config, rates, "old-run",
    ).lines  # fmt: skip
    warehouse = Warehouse(home=str(tmp_path))
    with warehouse.transaction("us") as con:  # the file as an earlier version left it
        for column in OLD_COLUMNS:
            con.execute(f"ALTER TABLE normalized.billable_lines ADD COLUMN {column} BIGINT")
        append(con, "normalized.billable_lines", lines.with_columns(pl.lit(30).alias(OLD_COLUMNS[0])))

    read = warehouse.query("us", "SELECT * FROM normalized.billable_lines")

    assert not set(OLD_COLUMNS) & set(read.columns)
    assert read.select("line_id", "quantity", "amount_txn").rows() == [("time-1", D("0.2"), D("20.00"))]
    validate(BillableLines, read)  # as billing/invoice_drafts reads it: strict, exactly these columns
