"""A second sync of an entity waits for the first or says plainly it is running; reading never breaks a write.

Found on main (issue 14): two syncs of one entity-month at once, the second died with a raw DuckDB
lock error (8 of 8 tries); a `billbridge report` while a sync was writing made the sync fail with
the same error (2 of 3 tries), because every read opened the warehouse read-write.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _start_sync(sandboxes: Sandboxes, period: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "sync", "--entity", "uk", "--period", period, *extra],
        cwd=REPO,
        env={**os.environ, **sandboxes.env, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _writing(timeout_s: float = 120.0) -> None:
    """Wait until the sync has created uk's warehouse file (it is then extracting into it)."""
    path = Path(os.environ["BILLBRIDGE_HOME"]) / "warehouse" / "uk.duckdb"
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, "the sync never started writing"
        time.sleep(0.1)


def test_a_second_sync_says_it_is_running_or_waits_for_the_first(sandboxes: Sandboxes) -> None:
    first = _start_sync(sandboxes, "2026-09")
    started = [first]
    try:
        _writing()
        impatient = _start_sync(sandboxes, "2026-09", "--wait", "0")
        patient = _start_sync(sandboxes, "2026-10")
        started += [impatient, patient]
        said, _ = impatient.communicate(timeout=120)
        first_out, _ = first.communicate(timeout=900)
        patient_out, _ = patient.communicate(timeout=900)
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
    assert first.returncode == 0, first_out
    assert patient.returncode == 0, patient_out
    assert (
        "another billbridge run is working on this entity" in patient_out
        and "waiting up to 600 s" in patient_out
    )
    assert "Could not set lock" not in first_out + patient_out
    assert impatient.returncode == 75, said
    assert f"uk: another billbridge run is working on this entity: pid {first.pid}" in said
    assert "billbridge sync --entity uk --period 2026-09" in said and "IO Error" not in said


def test_reports_while_a_sync_writes_never_break_it(
    sandboxes: Sandboxes, capfd: pytest.CaptureFixture[str]
) -> None:
    sync = _start_sync(sandboxes, "2026-09")
    codes = []
    try:
        _writing()
        while sync.poll() is None:
            codes.append(main(["report", "--json"]))
            capfd.readouterr()
            time.sleep(0.2)
        out, _ = sync.communicate(timeout=900)
    finally:
        if sync.poll() is None:
            sync.kill()
    assert sync.returncode == 0, out
    assert len(codes) >= 3, "the sync ended before the reports could overlap it"
    assert set(codes) <= {0, 75}  # read, or said the entity was busy: never a crash
    assert codes.count(0) >= 1
