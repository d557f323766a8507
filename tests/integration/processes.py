"""Dagster's own processes for the team-deployment tests: a code server (and a daemon) started as
subprocesses in their own process groups, so stopping one also stops the runs it spawned."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from dagster._grpc.client import DagsterGrpcClient

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def free_port() -> int:
    """A TCP port on loopback nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(command: list[str], log: Path) -> subprocess.Popen[bytes]:
    """`command` from the repository, its output in `log`, in its own process group."""
    return subprocess.Popen(
        command,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """Stop the process's group: SIGTERM, then SIGKILL after 15 s."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def wait_for(what: str, test: Any, timeout_s: float, logs: list[Path]) -> Any:
    """`test()`'s first truthy value, polled; past the timeout the test fails with the logs' tails."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = test()
        if value:
            return value
        time.sleep(0.5)
    tails = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs if p.exists())
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what}\n{tails}", pytrace=False)


def start_code_server(port: int, log: Path) -> subprocess.Popen[bytes]:
    """The code location served over gRPC on `port` (as `dagster dev` does), once it answers."""
    server = start(
        [
            str(BIN / "dagster"),
            "api",
            "grpc",
            "-f",
            "pipelines/definitions.py",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        log,
    )
    client = DagsterGrpcClient(port=port, host="127.0.0.1")

    def serving() -> bool:
        try:
            return client.ping("ready") is not None
        except Exception:  # not listening yet
            return False

    try:
        wait_for("the code server", serving, 60, [log])
    except BaseException:
        stop(server)
        raise
    return server
