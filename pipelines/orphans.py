"""Runs left `STARTED` by a `billbridge` process that was killed are marked failed on the next start.

The command line runs jobs in its own process (`execute_in_process`), so no run launcher or
run monitor watches them: a SIGKILL leaves each run `STARTED` for ever. Every run the command
line starts carries the process's id, host and start time as tags; the next `billbridge sync`
or `demo` looks for unfinished runs whose process is gone and reports them failed (a
RUN_FAILURE event, so the run-failure alert fires for them too).
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys
from pathlib import Path

import dagster as dg

PID_TAG = "billbridge/pid"
HOST_TAG = "billbridge/host"
PROCESS_START_TAG = "billbridge/process_start"  # guards against a reused pid
PR_SET_PDEATHSIG = 1  # linux/prctl.h
UNFINISHED = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.NOT_STARTED]


def _process_start(pid: int) -> str:
    """The process's start time in clock ticks since boot (Linux), or "" where /proc is absent."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # Field 22, counted after the command name (which may contain spaces) closes with ")".
    return stat.rsplit(")", 1)[1].split()[19]


def process_tags() -> dict[str, str]:
    """The tags that let a later process tell whether this one is still alive."""
    return {
        PID_TAG: str(os.getpid()),
        HOST_TAG: socket.gethostname(),
        PROCESS_START_TAG: _process_start(os.getpid()),
    }


def _alive(pid: int, started: str) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return not started or _process_start(pid) in ("", started)


def fail_orphaned_runs(instance: dg.DagsterInstance) -> list[dg.DagsterRun]:
    """Mark failed every unfinished run of this host whose `billbridge` process no longer exists."""
    host, orphans = socket.gethostname(), []
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=UNFINISHED, tags={HOST_TAG: host}))
    for run in runs:
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if pid <= 0 or pid == os.getpid() or _alive(pid, run.tags.get(PROCESS_START_TAG, "")):
            continue
        instance.report_run_failed(
            run,
            message=f"the billbridge process {pid} on {host} ended without finishing this run (killed?); "
            "marked failed by the next billbridge start",
        )
        orphans.append(run)
    return orphans


def die_with_parent() -> None:
    """`preexec_fn` for a child process: the kernel sends it SIGTERM when this process dies, however
    it dies (SIGKILL included), so `billbridge ui` never leaves `dagster dev` running alone (Linux)."""
    if sys.platform != "linux":
        return
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
