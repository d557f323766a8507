"""Ids typed on the command line never name a file outside the data folder (issue 16, found on main)."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from pipelines.cli_args import REQUIRED_ENV
from resources.warehouse import Warehouse


def _outside_file(name: str) -> tuple[Path, str]:
    """A DuckDB file beside the data folder, and the `--entity` value that climbs out to it."""
    home = Path(os.environ["BILLBRIDGE_HOME"])
    target = home.parent / f"{name}.duckdb"
    duckdb.connect(str(target)).close()
    return target, f"../../{name}"


def _tables(path: Path) -> list[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        return [row[0] for row in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()]


@pytest.mark.parametrize(
    "argv",
    [
        ["dlq", "list", "--entity", "{entity}"],
        ["export-drafts", "--entity", "{entity}", "--period", "2026-09"],
        ["sync", "--entity", "{entity}", "--period", "2026-09"],
        ["allocate", "--month", "2026-09", "--entity", "{entity}", "--dry-run"],
        ["reconcile", "--entity", "{entity}", "--period", "2026-09"],
    ],
)
def test_an_entity_id_that_climbs_out_of_the_data_folder_is_refused_and_opens_nothing(
    argv: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in REQUIRED_ENV:  # so `sync` gets as far as the entity
        monkeypatch.setenv(name, "set")
    target, entity = _outside_file("victim")
    assert main([a.replace("{entity}", entity) for a in argv]) in (1, 2)
    captured = capsys.readouterr()
    assert "'../../victim'" in captured.err + captured.out
    assert _tables(target) == []  # not opened read-write, no tables created in it


def test_a_period_that_is_not_a_month_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export-drafts", "--entity", "us", "--period", "../../../tmp/x"]) == 2
    assert "expected a month as YYYY-MM" in capsys.readouterr().err


@pytest.mark.parametrize("entity", ["../x", "us/../uk", "US", "", "us.duckdb"])
def test_the_warehouse_refuses_anything_but_an_entity_id(entity: str) -> None:
    with pytest.raises(ValueError, match="not an entity id"):
        Warehouse().path(entity)
