"""A second sync of an entity waits for the first or says plainly it is running; reading never breaks a write.

Found on main (issue 14): two syncs of one entity-month at once, the second died with a raw DuckDB
lock error (8 of 8 tries); a `billbridge report` while a sync was writing made the sync fail with
the same error (2 of 3 tries), because every read opened the warehouse read-write.
"""

from __future__ import annotations

import json
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


def _holder_pid(timeout_s: float = 120.0) -> int:
    """Wait until a sync holds uk's lock and return its pid."""
    lock = Path(os.environ["BILLBRIDGE_HOME"]) / "locks" / "uk.lock"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            return int(json.loads(lock.read_text())["pid"])
        except (OSError, ValueError, KeyError):
            time.sleep(0.1)
    raise AssertionError("no sync took the lock")


def test_a_second_sync_says_it_is_running_or_waits_for_the_first(sandboxes: Sandboxes) -> None:
    first = _start_sync(sandboxes, "2026-09")
    started = [first]
    try:
        assert _holder_pid() == first.pid
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
    assert impatient.returncode == 75, said
    assert f"uk: another billbridge run is working on this entity: pid {first.pid}" in said
    assert "billbridge sync --entity uk --period 2026-09" in said and "IO Error" not in said
    assert first.returncode == 0, first_out
    assert patient.returncode == 0, patient_out
    assert (
        "another billbridge run is working on this entity" in patient_out
        and "waiting up to 600 s" in patient_out
    )
    assert "Could not set lock" not in first_out + patient_out


def test_reports_while_a_sync_writes_never_break_it(
    sandboxes: Sandboxes, capfd: pytest.CaptureFixture[str]
) -> None:
    # A warehouse file to read from the start: the report reads only files that exist.
    sync = _start_sync(sandboxes, "2026-09")
    codes = []
    try:
        _holder_pid()
        while sync.poll() is None:
            codes.append(main(["report", "--json", "--wait", "2"]))
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
