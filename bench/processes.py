"""Measuring in a fresh process: polars and DuckDB allocate outside Python's heap, where tracemalloc
cannot see, so a figure's peak RSS is only its own in a process that did nothing else."""

from __future__ import annotations

import multiprocessing
import os
import resource
from collections.abc import Callable
from pathlib import Path
from queue import Empty
from typing import Any


def peak_rss_mib() -> float:
    """This process's peak resident memory so far, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def in_fresh_process(target: Callable[..., None], *args: Any) -> dict[str, Any]:
    """Run `target(*args, queue)` in a spawned process and return what it puts on the queue; a child
    that dies without answering raises instead of leaving the caller waiting."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    while True:
        try:
            result = queue.get(timeout=5)
        except Empty:
            if not process.is_alive():
                raise RuntimeError(f"{target.__name__} exited with {process.exitcode}") from None
            continue
        process.join()
        return result  # type: ignore[no-any-return]


class DescendantPeaks:
    """The largest peak resident memory (VmHWM) among this process's descendants, sampled twice a
    second from /proc (Linux). Processes forked by a forkserver (`billbridge close`, decision 0053)
    are the server's children, not ours, so RUSAGE_CHILDREN never sees them."""

    def __init__(self, interval_s: float = 0.5) -> None:
        import threading

        self.interval_s, self.largest_mib = interval_s, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="descendant-peaks", daemon=True)

    def __enter__(self) -> DescendantPeaks:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            for pid in _descendants(os.getpid()):
                self.largest_mib = max(self.largest_mib, _peak_mib(pid))


def _descendants(pid: int) -> list[int]:
    found, queue = [], [pid]
    while queue:
        for task in Path(f"/proc/{queue.pop()}/task").glob("*/children"):
            try:
                children = [int(child) for child in task.read_text().split()]
            except OSError:  # the process ended while being read
                continue
            found += children
            queue += children
    return found


def _peak_mib(pid: int) -> float:
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return 0.0
    return next((int(line.split()[1]) / 1024 for line in lines if line.startswith("VmHWM:")), 0.0)
