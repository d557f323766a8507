"""`billbridge allocate` launches `reallocate` through Dagster: dry run writes nothing, a rerun is unchanged."""

from __future__ import annotations

import pytest

from pipelines.cli import main
from resources.warehouse import Warehouse

pytestmark = pytest.mark.integration


def test_allocate_dry_run_then_write_then_unchanged(capsys: pytest.CaptureFixture[str]) -> None:
    # An empty month: only the overheads exist. Software 1,450.00 by seats 4:2:3 (usage.csv) =
    # 644.444 / 322.222 / 483.333 -> floors sum to 1,449.99, the cent goes to 6001 (.0044 largest).
    assert main(["allocate", "--month", "2026-09", "--entity", "us", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run, nothing written" in out
    assert "| project 6001 | 0.00 | 644.45 | 644.45 | new |" in out
    assert "| project 6002 | 0.00 | 322.22 | 322.22 | new |" in out
    assert "| project 6003 | 0.00 | 483.33 | 483.33 | new |" in out
    warehouse = Warehouse()
    assert warehouse.query("us", "SELECT count(*) AS n FROM allocation.runs")["n"][0] == 0

    assert main(["allocate", "--month", "2026-09", "--entity", "us"]) == 0
    capsys.readouterr()
    assert main(["allocate", "--month", "2026-09", "--entity", "us"]) == 0
    out = capsys.readouterr().out
    assert "| project 6001 | 644.45 | 644.45 | 0.00 | unchanged |" in out
    runs = warehouse.query("us", "SELECT result_hash FROM allocation.runs")
    assert runs.height == 2 and runs["result_hash"].n_unique() == 1  # same inputs, same bytes

    assert main(["allocate", "--month", "2026-09", "--entity", "nowhere"]) == 1
    assert "'nowhere'" in capsys.readouterr().out
