"""The accounting sandbox in a process of its own, serving real HTTP on loopback, for the posting bench.

In its own process the sandbox's work (validation, arithmetic, SQLite) does not share the bench's
interpreter lock, so what the bench measures is the client's pace, as it would be against Xero.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any


@dataclass(frozen=True)
class SandboxStats:
    """What the sandbox counted, per tenant, by the time it stopped."""

    requests: dict[str, int] = field(default_factory=dict)
    contacts: dict[str, int] = field(default_factory=dict)
    documents: dict[str, int] = field(default_factory=dict)
    rate_limited: int = 0
    cpu_s: float = 0.0


def _serve(tenants: list[str], db_path: str, conn: Connection) -> None:
    from sandbox.xero import XeroSandbox

    # A client that gave up on an answer (its timeout) leaves the server a broken pipe, which the
    # HTTP server reports with a traceback; the bench reports outcomes from the client's side.
    sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (kept open for the life of this process)

    sandbox = XeroSandbox(
        tenants, db_path=db_path
    )  # the provider's real limits: 60/min, 5,000/day, 5 in flight
    sandbox.start()
    conn.send(sandbox.url)
    conn.recv()  # stop
    sandbox.stop()
    times = os.times()
    conn.send(
        SandboxStats(
            {t: sandbox.request_count(t) for t in tenants},
            {t: len(sandbox.contacts(t)) for t in tenants},
            {t: len(sandbox.documents(t)) for t in tenants},
            sandbox.rate_limited_count,
            times.user + times.system,
        )
    )
    sandbox.close()


class SandboxProcess:
    """`with SandboxProcess(tenants, db_path) as url:` ...; `stats` holds the counts once stopped."""

    def __init__(self, tenants: list[str], db_path: str):
        self.tenants, self.db_path = tenants, db_path
        self.stats = SandboxStats()
        self._conn: Connection | None = None
        self._process: Any = None

    def __enter__(self) -> str:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        self._process = context.Process(target=_serve, args=(self.tenants, self.db_path, theirs), daemon=True)
        self._process.start()
        self._conn = ours
        return str(ours.recv())

    def __exit__(self, *exc: object) -> None:
        assert self._conn is not None
        self._conn.send("stop")
        self.stats = self._conn.recv()
        self._process.join(timeout=30)
