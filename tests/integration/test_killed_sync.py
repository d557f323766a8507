"""A SIGKILLed `billbridge sync`: its children die with it, and the next start marks its runs failed.

Found on main (issue 12, finding 4): a killed sync left its Dagster runs `STARTED` for ever
(10 seen after 26 kills) and its child processes alive.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines.cli import main
from pipelines.runner import ensure_dagster_home
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


def _group_members(pgid: int) -> list[str]:
    """Processes still in the process group (`pid command`), zombies excluded."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        state, group = fields[0], int(fields[2])
        if group == pgid and state != "Z":
            members.append(f"{entry.name} {stat.split('(', 1)[1].rsplit(')', 1)[0]}")
    return members


def _started_run(instance: dg.DagsterInstance, timeout_s: float = 180.0) -> dg.DagsterRun:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
        if runs:
            return runs[0]
        time.sleep(0.2)
    raise AssertionError("the sync never started a run")


def test_sigkilled_sync_leaves_no_child_and_its_runs_are_failed_on_the_next_start(
    sandboxes: Sandboxes, capfd: pytest.CaptureFixture[str]
) -> None:
    ensure_dagster_home()
    with dg.DagsterInstance.get() as instance:
        instance.get_runs()  # create the instance's storage now, not racing the sync's own start
    sync = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "sync", "--entity", "uk", "--period", "2026-09"],
        cwd=REPO,
        env={**os.environ, **sandboxes.env, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: every descendant is findable after the kill
    )
    try:
        with dg.DagsterInstance.get() as instance:
            run = _started_run(instance)
            time.sleep(1.0)  # into the step, where Dagster's log capture runs its helper processes
            assert len(_group_members(sync.pid)) > 1, "the sync had no child process to orphan"
            os.kill(sync.pid, signal.SIGKILL)
            sync.wait(timeout=30)
    finally:
        if sync.poll() is None:
            sync.kill()
    deadline = time.monotonic() + 10
    while _group_members(sync.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _group_members(sync.pid) == [], "children of the killed sync are still alive"

    with dg.DagsterInstance.get() as instance:
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.STARTED  # as the kill left it

    assert main(["sync", "--entity", "uk", "--period", "2026-09"]) == 0  # the next start
    out = capfd.readouterr().out
    assert f"marked run {run.run_id[:8]} ({run.job_name}) failed: its billbridge process was killed" in out
    with dg.DagsterInstance.get() as instance:
        after = instance.get_run_by_id(run.run_id)
        assert after is not None and after.status == dg.DagsterRunStatus.FAILURE
        [failure] = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE)
        assert f"the billbridge process {sync.pid}" in (failure.message or "")
        unfinished = instance.get_runs(
            filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING])
        )
        assert unfinished == []
