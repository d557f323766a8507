"""`billbridge close`: every entity's month closed in processes of their own, then the group close.

The three demo entities close at once (`--parallel 3`), read the PM account once between them
(decision 0042), each post to their own tenant, and the group close runs after all three.
"""

from __future__ import annotations

import math
import os
import re
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
RUN_LINE = re.compile(r"\[\s*\d+/\d+\] ")


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
    # One whole line per run, though three entities print at once: two runs each, then the group's.
    runs = [line for line in done.stdout.splitlines() if RUN_LINE.match(line)]
    assert len(runs) == 2 * 3 + 1, done.stdout
    assert all(len(RUN_LINE.findall(line)) == 1 and " run " in line for line in runs), done.stdout
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


def test_an_entity_process_that_fails_stops_the_group_close_and_is_named(
    capfd: pytest.CaptureFixture[str],
) -> None:
    # The entity's process is forked from the preloaded server: its exit code must come back as sync's.
    from pipelines.group_close_command import GroupCloseRequest, run_group_close

    report = run_group_close(GroupCloseRequest(date(2026, 9, 1), ["atlantis"], parallel=1, wait_s=0))
    out, err = capfd.readouterr()
    assert report.entity_codes == {"atlantis": 2}  # sync's usage error: no such entity
    assert report.group is None and report.exit_code == 1
    assert "atlantis" in err, err  # the entity's own one-line reason
    assert "atlantis 2026-09: not done (exit 2)" in out and "group close not run" in out, out
