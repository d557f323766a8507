"""The durable webhook inbox and the ledger of partitions the sensors have requested.

SQLite, not DuckDB: the webhook server, the sensors (in the code server the daemon calls)
and `billbridge report` are different processes that all write or read it at once, and
DuckDB admits one writer process per file while SQLite in WAL mode lets them share it.
It sits under $BILLBRIDGE_HOME/events/inbox.sqlite, beside the per-entity warehouse files.

Two tables:

* `events`: every PM change notification, stored once by event id (a redelivery is a no-op),
  with the partition it affects or, when it cannot be used, `status = 'rejected'` and why.
* `requested`: one row per change (record kind, id, `updated_at`, content hash) that a sensor
  turned into a run request. Both sensors consult it, so a change seen by the webhook and
  again by the safety-net poll requests its partition only once.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from resources.private_files import private_dir, private_file
from resources.warehouse import default_home
from rules.pm_events import REJECTED

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    received_at TEXT NOT NULL,
    event_type TEXT NOT NULL,
    record_kind TEXT,
    record_id INTEGER,
    updated_at TEXT,
    content_hash TEXT,
    entity TEXT,
    days TEXT,
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS requested (
    record_kind TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    updated_at TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    entity TEXT NOT NULL,
    day TEXT NOT NULL,
    source TEXT NOT NULL,
    run_key TEXT NOT NULL,
    requested_at TEXT NOT NULL,
    PRIMARY KEY (record_kind, record_id, updated_at, content_hash, day)
);
"""


@dataclass(frozen=True)
class InboxEvent:
    """One stored notification (accepted or rejected)."""

    seq: int
    event_id: str
    event_type: str
    record_kind: str | None
    record_id: int | None
    updated_at: str | None
    content_hash: str | None
    entity: str | None
    days: tuple[str, ...]
    status: str
    reason: str


@dataclass(frozen=True)
class Change:
    """One version of one PM record that affects an entity-day partition."""

    record_kind: str
    record_id: int
    updated_at: str
    content_hash: str
    entity: str
    day: str
    event_id: str = ""  # the webhook event that announced it (none for a polled change): the trace id


def default_inbox_path() -> Path:
    """$BILLBRIDGE_EVENT_INBOX, else $BILLBRIDGE_HOME/events/inbox.sqlite."""
    explicit = os.environ.get("BILLBRIDGE_EVENT_INBOX")
    return Path(explicit) if explicit else Path(default_home()) / "events" / "inbox.sqlite"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class EventInbox:
    """The inbox file; each method opens its own short connection (safe across processes and threads)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path else default_inbox_path()

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        private_dir(self.path.parent)
        con = sqlite3.connect(self.path, timeout=30)
        private_file(self.path)  # SQLite gives its -wal and -shm files the database's mode
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)
            with con:  # one transaction, committed on success
                yield con
        finally:
            con.close()

    def store(
        self,
        *,
        event_id: str,
        event_type: str,
        body: str,
        status: str,
        reason: str = "",
        record_kind: str | None = None,
        record_id: int | None = None,
        updated_at: str | None = None,
        content_hash: str | None = None,
        entity: str | None = None,
        days: tuple[str, ...] = (),
    ) -> bool:
        """Store an event once; False when that event id is already stored (a redelivery).

        The body (a PM record: names, notes) is stored encrypted (resources/field_crypto.py).
        """
        from resources.field_crypto import current_ring, enabled

        if enabled():
            body = current_ring().encrypt(body, "pm.webhook-body")
        with self._connect() as con:
            cursor = con.execute(
                "INSERT OR IGNORE INTO events (event_id, received_at, event_type, record_kind, record_id,"
                " updated_at, content_hash, entity, days, status, reason, body)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    event_id,
                    _now(),
                    event_type,
                    record_kind,
                    record_id,
                    updated_at,
                    content_hash,
                    entity,
                    ",".join(days),
                    status,
                    reason,
                    body,
                ],
            )
            return cursor.rowcount == 1

    def events_after(self, seq: int, limit: int = 10_000) -> list[InboxEvent]:
        """Events stored after sequence number `seq`, oldest first."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT seq, event_id, event_type, record_kind, record_id, updated_at, content_hash,"
                " entity, days, status, reason FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                [seq, limit],
            ).fetchall()
        return [
            InboxEvent(
                seq=row[0],
                event_id=row[1],
                event_type=row[2],
                record_kind=row[3],
                record_id=row[4],
                updated_at=row[5],
                content_hash=row[6],
                entity=row[7],
                days=tuple(d for d in (row[8] or "").split(",") if d),
                status=row[9],
                reason=row[10],
            )
            for row in rows
        ]

    def mark(self, event_id: str, status: str, reason: str) -> None:
        """Change an event's status (e.g. to `correction` once the sensor sees its month is invoiced)."""
        with self._connect() as con:
            con.execute(
                "UPDATE events SET status = ?, reason = ? WHERE event_id = ?", [status, reason, event_id]
            )

    def claim(
        self, changes: list[Change], source: str, run_key_of: dict[tuple[str, str], str]
    ) -> list[Change]:
        """Record the changes not requested before and return just those (the sensors' shared ledger).

        `run_key_of` maps (entity, day) to the run key the caller will use for that partition.
        """
        fresh: list[Change] = []
        with self._connect() as con:
            for change in changes:
                cursor = con.execute(
                    "INSERT OR IGNORE INTO requested VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        change.record_kind,
                        change.record_id,
                        change.updated_at,
                        change.content_hash,
                        change.entity,
                        change.day,
                        source,
                        run_key_of.get((change.entity, change.day), ""),
                        _now(),
                    ],
                )
                if cursor.rowcount == 1:
                    fresh.append(change)
        return fresh

    def counts(self) -> dict[str, int]:
        """Events by status, for `billbridge report`."""
        if not self.path.exists():
            return {}
        with self._connect() as con:
            return dict(con.execute("SELECT status, count(*) FROM events GROUP BY 1 ORDER BY 1").fetchall())

    def rejected(self, limit: int = 20) -> list[tuple[str, str, str]]:
        """The latest rejected events as (event id, event type, reason)."""
        if not self.path.exists():
            return []
        with self._connect() as con:
            rows = con.execute(
                "SELECT event_id, event_type, reason FROM events WHERE status = ? ORDER BY seq DESC LIMIT ?",
                [REJECTED, limit],
            ).fetchall()
        return [(str(a), str(b), str(c)) for a, b, c in rows]

    def requested_count(self) -> int:
        """How many changes the sensors have turned into run requests."""
        with self._connect() as con:
            return int(con.execute("SELECT count(*) FROM requested").fetchone()[0])
