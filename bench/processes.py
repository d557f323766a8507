"""Measuring in a fresh process: polars and DuckDB allocate outside Python's heap, where tracemalloc
cannot see, so a figure's peak RSS is only its own in a process that did nothing else."""

from __future__ import annotations

import multiprocessing
import resource
from collections.abc import Callable
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
