"""Start and stop one Celery worker per shard queue on this machine (the integration test and the bench).

Each worker is `celery -A pipelines.celery_app worker -Q billbridge-<n> -c 1` in its own process
group, so stopping it ends its pool child too and leaves no orphan. deploy/celery.md starts the
same command by hand.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from rules.celery_routing import all_queues

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
CELERY = (sys.executable, "-m", "celery", "-A", "pipelines.celery_app")
# One execution slot and no prefetching: the shard's entity files have one writer at a time.
WORKER_OPTIONS = (
    "-c",
    "1",
    "--prefetch-multiplier=1",
    "--without-gossip",
    "--without-mingle",
    "--loglevel=INFO",
)


def worker_command(queue: str) -> list[str]:
    """The command line of the one worker that consumes `queue`, named `<queue>@<host>`."""
    return [*CELERY, "worker", "-Q", queue, "-n", f"{queue}@%h", *WORKER_OPTIONS]


@contextmanager
def running_workers(
    shards: int, env: Mapping[str, str], logs: Path, ready_s: float = 90.0
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """One worker per shard queue (queues purged first), ready when yielded, all ended on the way out."""
    purge = [*CELERY, "purge", "-f", "-Q", ",".join(all_queues(shards))]
    subprocess.run(purge, cwd=REPOSITORY_ROOT, env=env, check=True, capture_output=True)
    started: list[subprocess.Popen[bytes]] = []
    try:
        for queue in all_queues(shards):
            with (logs / f"{queue}.log").open("wb") as log:
                started.append(
                    subprocess.Popen(
                        worker_command(queue),
                        cwd=REPOSITORY_ROOT,
                        env=dict(env),
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        _wait_ready(logs, shards, started, time.monotonic() + ready_s)
        yield started
    finally:
        _stop(started)


def _wait_ready(logs: Path, shards: int, workers: list[subprocess.Popen[bytes]], deadline: float) -> None:
    for queue, worker in zip(all_queues(shards), workers, strict=True):
        log = logs / f"{queue}.log"
        while b" ready." not in log.read_bytes():
            if worker.poll() is not None:
                raise RuntimeError(f"worker {queue} exited with {worker.returncode}: see {log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker {queue} never became ready: see {log}")
            time.sleep(0.5)


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    """Warm shutdown of each worker's process group; killed if it has not ended within 30 s."""
    for worker in workers:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(timeout=10)


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory (VmHWM) of a worker and its pool children, summed, in MiB (Linux /proc)."""
    pids = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        pids += [int(child) for child in task.read_text().split()]
    total_kib = 0
    for each in pids:
        status = Path(f"/proc/{each}/status")
        for line in status.read_text().splitlines() if status.exists() else []:
            if line.startswith("VmHWM:"):
                total_kib += int(line.split()[1])
    return total_kib / 1024
