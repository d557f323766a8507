"""The claim on an entity-period: only the run holding it may send that period's documents.

The claim row is committed in the entity's warehouse before the first request, so a second
run posting the same entity-period at the same time sees it and stands back (the lookup
before every send remains the second line of defence). A claim expires unless renewed, and
a claim whose holder process is gone from this host is taken over at once, so a run killed
mid-post never blocks the re-run.
"""

from __future__ import annotations

import os
import socket
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from typing import Protocol

import duckdb

CLAIM_TTL = timedelta(minutes=10)


class Transactional(Protocol):
    """Where a claim is written: the warehouse, or an outbox store holding the entity's file open."""

    def transaction(self, entity: str) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        """One transaction on the entity's file."""
        ...


def holder_id(run_id: str) -> str:
    """Who holds a claim: host, process and run, so a dead holder on this host can be recognised."""
    return f"{socket.gethostname()}:{os.getpid()}:{run_id}"


def _holder_is_dead(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another machine: only expiry can free it
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return False


def claim(warehouse: Transactional, entity: str, period: str, holder: str) -> str | None:
    """Take or renew the claim; None on success, else the holder that has it.

    Two runs racing for a free claim both try to commit a row under the same primary key;
    DuckDB lets exactly one commit succeed.
    """
    now = datetime.now(UTC)
    try:
        with warehouse.transaction(entity) as con:
            row = con.execute(
                "SELECT holder, expires_at FROM posting.claims WHERE entity = ? AND period = ?",
                [entity, period],
            ).fetchone()
            if row is not None:
                current, expires_at = str(row[0]), row[1]
                live = expires_at > now and not _holder_is_dead(current)
                if current != holder and live:
                    return current
                con.execute("DELETE FROM posting.claims WHERE entity = ? AND period = ?", [entity, period])
            con.execute(
                "INSERT INTO posting.claims VALUES (?, ?, ?, ?, ?)",
                [entity, period, holder, now, now + CLAIM_TTL],
            )
    except (duckdb.TransactionException, duckdb.ConstraintException) as exc:
        return f"another run (claim race lost: {type(exc).__name__})"
    return None


def release(warehouse: Transactional, entity: str, period: str, holder: str) -> None:
    """Give the claim up (only if we still hold it)."""
    with warehouse.transaction(entity) as con:
        con.execute(
            "DELETE FROM posting.claims WHERE entity = ? AND period = ? AND holder = ?",
            [entity, period, holder],
        )
