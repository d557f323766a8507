"""A warehouse file written before decision 0019 still works: its instruction-only columns are dropped.

Release 0.1.0 stored `line_increment_minutes` and `line_minimum_minutes` on every normalized line only
to tell billing how to round invoice lines; billing now reads the rule set itself. The file that
release left (tests/fixtures/release-0.1.0) is opened through the Warehouse resource, which migrates
it: the columns are gone, every line is intact, and the lines pass the strict model the invoice
drafts asset validates them with.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import duckdb
import pytest

from checks.schemas import BillableLines, validate
from resources.warehouse import Warehouse

pytestmark = pytest.mark.integration
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "release-0.1.0" / "us.duckdb.gz"
OLD_COLUMNS = ("line_increment_minutes", "line_minimum_minutes")


def test_a_file_with_the_old_rounding_columns_is_upgraded_on_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BILLBRIDGE_HOME", str(tmp_path))
    path = tmp_path / "warehouse" / "us.duckdb"
    path.parent.mkdir(parents=True)
    with gzip.open(FIXTURE) as source, path.open("wb") as target:
        shutil.copyfileobj(source, target)
    with duckdb.connect(str(path), read_only=True) as con:
        before = {
            name
            for (name,) in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE table_name = 'billable_lines'"
            ).fetchall()
        }
    assert set(OLD_COLUMNS) <= before  # the released file carries them
    read = Warehouse(home=str(tmp_path)).query("us", "SELECT * FROM normalized.billable_lines")
    assert not set(OLD_COLUMNS) & set(read.columns)
    assert read.height == 194
    validate(BillableLines, read)  # as billing/invoice_drafts reads it: strict, exactly these columns
