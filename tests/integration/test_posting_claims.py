"""The entity-period claim in a real DuckDB file: held, expired, and left behind by a dead process."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from resources.outbox.claims import claim, holder_id, release
from resources.warehouse import Warehouse

pytestmark = pytest.mark.integration


def test_a_live_claim_keeps_others_out_until_released(tmp_path: Path) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    first, second = holder_id("run-a"), holder_id("run-b")
    assert claim(warehouse, "us", "2026-08", first) is None
    assert claim(warehouse, "us", "2026-08", second) == first
    assert claim(warehouse, "us", "2026-08", first) is None  # renewing our own claim
    assert claim(warehouse, "us", "2026-09", second) is None  # another period is free
    release(warehouse, "us", "2026-08", first)
    assert claim(warehouse, "us", "2026-08", second) is None


def test_an_expired_claim_is_taken_over(tmp_path: Path) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    past = datetime.now(UTC) - timedelta(hours=1)
    with warehouse.transaction("us") as con:
        con.execute(
            "INSERT INTO posting.claims VALUES ('us', '2026-08', 'elsewhere:1:old', ?, ?)", [past, past]
        )
    assert claim(warehouse, "us", "2026-08", holder_id("new")) is None


def test_a_claim_whose_process_is_gone_is_taken_over_at_once(tmp_path: Path) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    child = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True
    )
    dead_holder = holder_id("crashed").replace(f":{os.getpid()}:", f":{child.stdout.strip()}:")
    future = datetime.now(UTC) + timedelta(minutes=10)
    with warehouse.transaction("us") as con:
        con.execute(
            "INSERT INTO posting.claims VALUES ('us', '2026-08', ?, ?, ?)",
            [dead_holder, datetime.now(UTC), future],
        )
    assert claim(warehouse, "us", "2026-08", holder_id("rerun")) is None
