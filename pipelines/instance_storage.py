"""The local instance's event log: Dagster's SQLite storage, connections held, batches whole (decision 0049).

Dagster's `SqliteEventLogStorage` opens a new engine and connection for every event and closes it
after the commit. In WAL mode closing the last connection to a file checkpoints it, so every event
cost two or three fsyncs (16-19 ms on the development machine), and a ranged extraction run stores
hundreds (a materialization and its planned event per asset and day, each mirrored into the index
shard): two thirds of an entity's close. This subclass keeps one engine per shard for the life of
the process, so a commit is one fsync of the WAL, and stores each of Dagster's event batches (asked
for with DAGSTER_EVENT_BATCH_SIZE, pipelines/runner.py) in one transaction per shard. Durability is
unchanged (same journal mode and synchronous setting); files, schema and readers are Dagster's own.

A run shard's file changes only when its WAL is checkpointed now, so after storing a run's events
the shard is touched: the UI's watcher of a live run (watchdog, on that file) still sees them as they
come. The team deployment's PostgreSQL storage is untouched.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from dagster._config import Field, StringSource
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, EVENT_TYPE_TO_PIPELINE_RUN_STATUS
from dagster._core.events.log import EventLogEntry
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy import Connection, Engine, create_engine

HELD_RUN_SHARDS = 4  # the runs a process writes at once (the index shard is always held)


def default_base_dir() -> str:
    """Where Dagster keeps the SQLite event log of $DAGSTER_HOME (its own default)."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        raise ValueError("the held SQLite event log needs DAGSTER_HOME (or a base_dir in dagster.yaml)")
    return os.path.join(home, "history", "runs")


def _inserted_id(conn: Connection, insert: Any) -> int:
    with db_result(conn, insert) as result:
        return int(result.inserted_primary_key[0])


class HeldSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log storage over the same files, with each shard's connection kept open."""

    def __init__(self, base_dir: str | None = None, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        super().__init__(base_dir or default_base_dir(), inst_data)

    @classmethod
    def config_type(cls) -> dict[str, Any]:
        return {"base_dir": Field(StringSource, is_required=False)}

    @classmethod
    def from_config_value(  # type: ignore[override]
        cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]
    ) -> HeldSqliteEventLogStorage:
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        """The shard's engine, created once; the least recently used run shard's is let go."""
        engine = self._engines.get(shard)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard), connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS}
            )
            self._engines[shard] = engine
        self._engines.move_to_end(shard)
        runs = [name for name in self._engines if name != INDEX_SHARD_NAME]
        for name in runs[: max(0, len(runs) - HELD_RUN_SHARDS)]:
            self._engines.pop(name).dispose()
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn, conn.begin():
                yield conn

    def store_event(self, event: EventLogEntry) -> None:
        """Store as Dagster does, then touch the run's shard so a watcher of the live run sees it."""
        super().store_event(event)
        self._touch(event.run_id)

    def _touch(self, run_id: str) -> None:
        if run_id:  # a run-less event (an asset reported from outside a run) has no shard
            with suppress(FileNotFoundError):
                os.utime(self.path_for_shard(run_id))

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """A batch of one run's events (its planned materializations, or one step's materializations over
        its partitions: hundreds in a ranged run) in one transaction per shard, not one each."""
        if not events or any(not e.is_dagster_event or e.run_id != events[0].run_id for e in events):
            super().store_event_batch(events)
            return
        inserts = [(event, self.prepare_insert_event(event)) for event in events]
        with self.run_connection(events[0].run_id) as conn:
            for _, insert in inserts:
                conn.execute(insert)
        assets = [(e, insert) for e, insert in inserts if e.dagster_event_type in ASSET_EVENTS]
        with self.index_transaction() as conn:
            ids = [_inserted_id(conn, insert) for _, insert in assets]
            self._store_asset_event_tags(conn, [e for e, _ in assets], ids)
            for (event, _), event_id in zip(assets, ids, strict=True):
                self._store_asset_event(conn, event, event_id)
        for event, insert in inserts:  # Dagster's own steps for the rest (checks' planned events)
            if event.dagster_event_type in ASSET_CHECK_EVENTS:
                with self.index_connection() as conn:
                    event_id = _inserted_id(conn, insert)
                self.store_asset_check_event(event, event_id)
            elif event.dagster_event_type in EVENT_TYPE_TO_PIPELINE_RUN_STATUS:
                with self.index_connection() as conn:
                    conn.execute(insert)
        self._touch(events[0].run_id)

    def _let_go(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        """Dagster's wipe deletes the run shards' files: close them first."""
        self._let_go()
        super().wipe()

    def dispose(self) -> None:
        """Close the held connections (the last one out checkpoints the WAL), then Dagster's own."""
        self._let_go()
        super().dispose()
