"""One `billbridge` process at a time per entity: a lock file under $BILLBRIDGE_HOME/locks/.

An entity's runs write one DuckDB file, which admits one writer process; a second sync of
the same entity started from another terminal would die on DuckDB's raw lock error. The
command line takes this lock around an entity's runs instead: a second sync waits for the
first (saying who holds it), or says plainly that it is running. The lock is an advisory
`flock`, released by the kernel when its holder exits however it exits (even SIGKILL), so a
killed sync never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO


@dataclass(frozen=True)
class LockHolder:
    """Who holds an entity's lock, as it wrote itself into the lock file."""

    pid: int
    host: str
    command: str
    since: str

    def describe(self) -> str:
        """`pid 1234 (billbridge sync --entity us --period 2026-09), since 23:10:04 UTC`."""
        return f"pid {self.pid} ({self.command}), since {self.since}"


class EntityBusyError(RuntimeError):
    """The entity's lock stayed held for longer than the caller was willing to wait."""

    def __init__(self, name: str, holder: LockHolder | None, waited_s: float):
        who = holder.describe() if holder else "another billbridge process"
        super().__init__(
            f"{name}: another billbridge run is working on this entity: {who}; waited {waited_s:g} s"
        )
        self.holder = holder


def _read_holder(path: Path) -> LockHolder | None:
    try:
        data = json.loads(path.read_text() or "{}")
        return LockHolder(int(data["pid"]), str(data["host"]), str(data["command"]), str(data["since"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_holder(handle: IO[str]) -> None:
    handle.seek(0)
    handle.truncate()
    command = " ".join(["billbridge", *sys.argv[1:]]) if sys.argv else "billbridge"
    json.dump(
        {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "command": command,
            "since": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        },
        handle,
    )
    handle.flush()


@contextmanager
def entity_lock(
    home: Path, name: str, wait_s: float, on_wait: Callable[[LockHolder | None], None] | None = None
) -> Iterator[None]:
    """Hold the lock `name` (an entity id, or "group") for the block.

    When another process holds it, `on_wait(holder)` is called once and the lock is retried for
    up to `wait_s` seconds; then EntityBusyError names the holder.
    """
    path = home / "locks" / f"{name}.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        deadline, told = time.monotonic() + wait_s, False
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = _read_holder(path)
                if time.monotonic() >= deadline:
                    raise EntityBusyError(name, holder, wait_s) from None
                if not told and on_wait is not None:
                    on_wait(holder)
                    told = True
                time.sleep(0.2)
        try:
            _write_holder(handle)
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
