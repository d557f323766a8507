"""`billbridge close`: every entity's month closed in processes of their own, then the group close.

The three demo entities close at once (`--parallel 3`), read the PM account once between them
(decision 0042), each post to their own tenant, and the group close runs after all three.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from resources.configuration import current_config
from resources.warehouse import Warehouse
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _close(sandboxes: Sandboxes, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "close", *args],
        cwd=REPO,
        env={**os.environ, **sandboxes.env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=1200,
    )


def test_the_group_close_closes_every_entity_at_once_then_the_group(sandboxes: Sandboxes) -> None:
    done = _close(sandboxes, "--period", "2026-09", "--parallel", "3", "--wait", "0")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    warehouse = Warehouse(read_only=True)
    for entity in current_config().entity_ids:
        confirmed = warehouse.query(
            entity,
            "SELECT count(*) AS n FROM posting.outbox WHERE status = 'confirmed' AND period = '2026-09'",
        )
        assert confirmed["n"][0] > 0, f"{entity} posted nothing"
    totals = warehouse.group_query(
        "SELECT count(*) AS n FROM consolidation.group_totals WHERE period = '2026-09'"
    )
    assert totals["n"][0] > 0
    # One reading of the account's September time entries for the three entities: its pages, counted
    # from the company the sandbox serves (2,000 a page), not three times as many.
    september = [e for e in sandboxes.company.time_entries if e["spent_date"].startswith("2026-09")]
    assert sandboxes.harvest.list_requests["time_entries"] == max(1, math.ceil(len(september) / 2000))


def test_a_month_not_started_is_refused_in_one_line_before_any_entity_runs(sandboxes: Sandboxes) -> None:
    # Checked once by the command, not by each entity's process.
    refused = _close(
        sandboxes, "--period", f"{date.today().replace(day=1).replace(year=date.today().year + 1):%Y-%m}"
    )
    assert refused.returncode == 2
    assert "has not started yet" in refused.stderr
    assert refused.stderr.count("\n") == 1  # one line, not one per entity
