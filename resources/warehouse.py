"""The warehouse: one DuckDB file per legal entity under $BILLBRIDGE_HOME/warehouse/.

Segregated files keep ledgers apart and give each entity its own write lock; every
partition write is delete-the-slice-then-insert inside one transaction, so a rerun
replaces exactly what it owns and a crash leaves the previous slice intact.

DuckDB lets one process hold a file, and even a read-only connection from another process
locks a writer out. So readers outside runs (`billbridge report`, the weekly review) use a
`Warehouse(read_only=True)`: they open the file read-only for the moment of a query, waiting
briefly while a run holds it, and writers wait out such a short read instead of failing. A step that
connects many times in a row holds the file for the block (`Warehouse.held`, decision 0051): one open
instead of one per connection, and other processes wait for the block as for a long transaction.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import dagster as dg
import duckdb
import polars as pl
from pydantic import Field

from resources.migrations import Chain, check_current, open_current
from resources.migrations.entity import ENTITY_MIGRATIONS
from resources.migrations.group import GROUP_MIGRATIONS
from resources.private_files import private_dir, private_file
from rules.config_types import ENTITY_ID_PATTERN
from rules.schemas.catalog import table as registered
from rules.schemas.registry import conform


def default_home() -> str:
    """$BILLBRIDGE_HOME, else `.billbridge/` in the repository."""
    return os.environ.get("BILLBRIDGE_HOME") or str(Path(__file__).resolve().parents[1] / ".billbridge")


# A lock held by another process: `Could not set lock on file ... held in /path/python (PID 1234)`.
_LOCK_HELD = "Could not set lock on file"
_LOCK_PID = re.compile(r"\(PID (\d+)\)")


class _Hold(NamedTuple):
    """A file this process holds open (`Warehouse.held`, docs/decisions/0051)."""

    anchor: duckdb.DuckDBPyConnection  # the connection that keeps the database open
    depth: int  # how many holds are open on it
    read_only: bool  # how it was opened (DuckDB opens a file one way per process)


_HELD: dict[Path, _Hold] = {}
_HELD_LOCK = threading.Lock()


class WarehouseBusyError(RuntimeError):
    """Another process holds an entity's file for longer than this one was willing to wait."""

    def __init__(self, path: Path, pid: str | None, waited_s: float):
        holder = f"process {pid}" if pid else "another process"
        super().__init__(
            f"the warehouse file {path} is in use by {holder} (waited {waited_s:g} s): a run is writing it; "
            "try again when it has finished"
        )
        self.path, self.pid = path, pid


class Warehouse(dg.ConfigurableResource):
    """DuckDB files, one per entity; the only code that opens them."""

    home: str = Field(
        default="", description="data folder; empty: $BILLBRIDGE_HOME at run time, else .billbridge/"
    )
    read_only: bool = Field(
        default=False, description="open files read-only, never creating or migrating (readers outside runs)"
    )
    lock_wait_s: float = Field(
        default=30.0, ge=0, description="how long to wait while another process holds a file"
    )

    def path(self, entity: str) -> Path:
        """The DuckDB file of `entity`; ValueError for anything that is not an entity id (so no
        caller can name a file outside the warehouse folder, e.g. `../../x`)."""
        if not re.fullmatch(ENTITY_ID_PATTERN, entity):
            raise ValueError(f"{entity!r} is not an entity id (lower-case letters, digits, _)")
        return Path(self.home or default_home()) / "warehouse" / f"{entity}.duckdb"

    @contextmanager
    def connect(self, entity: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to the entity's file, migrated to this code's layout if it is older
        (read-only, as it is, for a `read_only` warehouse, which refuses a file not at this layout)."""
        if self.read_only:
            with _read_only(self.path(entity), ENTITY_MIGRATIONS, self.lock_wait_s) as con:
                yield con
            return
        with _opened(self.path(entity), ENTITY_MIGRATIONS, wait_s=self.lock_wait_s) as con:
            yield con

    @contextmanager
    def held(self, entity: str) -> Iterator[None]:
        """Keep the entity's file open through a block that connects many times (one step's entity-days
        or month): its connections share the open database, so none pays a file open, a migration check
        or a checkpoint on close. Another process waits for the whole block, as for a long transaction.
        A `read_only` warehouse holds the file read-only (an entity's month report: dozens of reads)."""
        with _holding(self.path(entity), ENTITY_MIGRATIONS, self.lock_wait_s, read_only=self.read_only):
            yield

    @contextmanager
    def transaction(self, entity: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction: committed on success, rolled back on any error."""
        with self.connect(entity) as con, _in_transaction(con):
            yield con

    def query(self, entity: str, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        """Run a read query on the entity's file and return a polars frame (empty file: tables exist, no rows);
        encrypted personal values come back decrypted (resources/field_crypto.py)."""
        from resources.field_crypto import decrypt_frame  # here: field_crypto's keys live under default_home

        with self.connect(entity) as con:
            return decrypt_frame(con.sql(sql, params=params or []).pl())

    def exists(self, entity: str) -> bool:
        """Whether the entity's file has been created yet."""
        return self.path(entity).exists()

    # Group consolidation (docs/decisions/0011): entities export Parquet; the group has its own file.
    def group_path(self) -> Path:
        """The group's DuckDB file: its own folder, so no entity id can ever name it."""
        return Path(self.home or default_home()) / "group" / "group.duckdb"

    def export_path(self, entity: str, period: str) -> Path:
        """The Parquet ledger export of one entity-month (`period` YYYY-MM)."""
        return Path(self.home or default_home()) / "exports" / "ledger" / entity / period / "ledger.parquet"

    @contextmanager
    def group_transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """The group file in one transaction, migrated to this code's layout if it is older."""
        with (
            _opened(self.group_path(), GROUP_MIGRATIONS, wait_s=self.lock_wait_s) as con,
            _in_transaction(con),
        ):
            yield con

    def group_query(self, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        """A read query on the group file."""
        if self.read_only:
            with _read_only(self.group_path(), GROUP_MIGRATIONS, self.lock_wait_s) as con:
                return con.sql(sql, params=params or []).pl()
        with self.group_transaction() as con:
            return con.sql(sql, params=params or []).pl()


def write_parquet_atomically(frame: pl.DataFrame, path: Path) -> None:
    """Write `frame` to a temporary file beside `path`, then rename it over `path`: a reader sees the
    old file or the new one, never half of one."""
    private_dir(path.parent)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        frame.write_parquet(temporary)
        os.replace(private_file(temporary), path)
    finally:
        temporary.unlink(missing_ok=True)


def read_parquet(paths: list[Path]) -> pl.DataFrame:
    """Read Parquet files with DuckDB in memory (no warehouse file is opened, so no lock is taken)."""
    with _quiet(duckdb.connect(":memory:")) as con:
        return con.sql("SELECT * FROM read_parquet(?)", params=[[str(p) for p in paths]]).pl()


def _connect_waiting(
    open_file: Callable[[], duckdb.DuckDBPyConnection], path: Path, wait_s: float
) -> duckdb.DuckDBPyConnection:
    """Open with `open_file`, retrying while another process holds the file, for up to `wait_s`."""
    deadline = time.monotonic() + wait_s
    pause = 0.02
    while True:
        try:
            return _quiet(open_file())
        except duckdb.IOException as exc:
            if _LOCK_HELD not in str(exc):
                raise
            if time.monotonic() >= deadline:
                pid = _LOCK_PID.search(str(exc))
                raise WarehouseBusyError(path, pid.group(1) if pid else None, wait_s) from exc
            time.sleep(pause)
            pause = min(pause * 2, 0.5)


@contextmanager
def _holding(path: Path, migrations: Chain, wait_s: float, *, read_only: bool = False) -> Iterator[None]:
    if not _join_hold(path, read_only):
        # Opened outside the lock: waiting for another process's lock must not stall this one's threads.
        opened = (
            _open_read_only(path, migrations, wait_s)
            if read_only
            else _open_migrated(path, migrations, wait_s)
        )
        with _HELD_LOCK:
            anchor, depth, mode = _HELD.get(path) or _Hold(opened, 0, read_only)
            _HELD[path] = _Hold(anchor, depth + 1, mode)
        if anchor is not opened:
            opened.close()  # another thread took a hold meanwhile: its connection keeps the file open
    try:
        yield
    finally:
        with _HELD_LOCK:
            anchor, depth, mode = _HELD.pop(path)
            if depth > 1:
                _HELD[path] = _Hold(anchor, depth - 1, mode)
        if depth == 1:
            anchor.close()  # the last hold: the database checkpoints and the file is released


def _join_hold(path: Path, read_only: bool) -> bool:
    """Count one more hold on a file this process holds already (False: it holds none). A read-only
    hold joins any; a read-write hold cannot join a read-only one (DuckDB opens a file one way per process)."""
    with _HELD_LOCK:
        held = _HELD.get(path)
        if held is None:
            return False
        if held.read_only and not read_only:
            raise _held_read_only(path)
        _HELD[path] = held._replace(depth=held.depth + 1)
        return True


def _shared(path: Path, *, writing: bool) -> duckdb.DuckDBPyConnection | None:
    """A connection to the database this process holds open at `path` (DuckDB's instance cache hands
    out the open one), or None when it holds none."""
    with _HELD_LOCK:
        held = _HELD.get(path)
        if held is None:
            return None
        if held.read_only and writing:
            raise _held_read_only(path)
        return _quiet(duckdb.connect(str(path), read_only=held.read_only))


def _held_read_only(path: Path) -> RuntimeError:
    return RuntimeError(f"{path} is held read-only by this process: it cannot be written inside that hold")


def _quiet(con: duckdb.DuckDBPyConnection) -> duckdb.DuckDBPyConnection:
    """`con` without DuckDB's progress bar, which a query over two seconds prints on the terminal, where
    it would break the one line per run that `billbridge sync` and `close` print (a setting per connection)."""
    con.execute("SET enable_progress_bar = false")
    return con


@contextmanager
def _read_only(path: Path, migrations: Chain, wait_s: float) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection, held only as long as the caller's block (refused for a file that is
    not at this code's migration: it cannot be migrated without writing)."""
    shared = _shared(path, writing=False)  # a file this process holds is read through the open database
    if shared is not None:
        with shared:
            yield shared
        return
    con = _open_read_only(path, migrations, wait_s)
    try:
        yield con
    finally:
        con.close()


def _open_read_only(path: Path, migrations: Chain, wait_s: float) -> duckdb.DuckDBPyConnection:
    con = _connect_waiting(lambda: duckdb.connect(str(path), read_only=True), path, wait_s)
    try:
        check_current(con, path, migrations)
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def _opened(path: Path, migrations: Chain, *, wait_s: float = 30.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to `path` (created if missing) with its migrations applied (resources/migrations)."""
    con = _shared(path, writing=True) or _open_migrated(path, migrations, wait_s)
    try:
        yield con
    finally:
        con.close()


def _open_migrated(path: Path, migrations: Chain, wait_s: float) -> duckdb.DuckDBPyConnection:
    private_dir(path.parent)
    con = _connect_waiting(lambda: duckdb.connect(str(path)), path, wait_s)
    private_file(path)
    try:
        open_current(con, path, migrations)
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def _in_transaction(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Commit on success, roll back on any error."""
    con.begin()
    try:
        yield
    except BaseException:
        con.rollback()
        raise
    con.commit()


def replace_slice(
    con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, where: str, params: list[Any]
) -> None:
    """Delete the rows of `table` matching `where`, then insert `frame` by column name.

    Call inside `Warehouse.transaction` so the delete and insert commit together.
    """
    con.execute(f"DELETE FROM {table} WHERE {where}", params)
    append(con, table, frame)


def append(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, *, sealed: bool = False) -> None:
    """Insert `frame` into `table`, matching columns by name, once it has the table's registered shape
    (rules/schemas: no unknown column, no other type, no null where a write must fill; ShapeError),
    its personal data encrypted (unless the caller `sealed` it already)."""
    from resources.field_crypto import encrypt_frame

    if frame.height == 0:
        return
    frame = conform(registered(table), frame)
    if not sealed:
        frame = encrypt_frame(table, frame)
    con.register("_incoming", frame)
    try:
        con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _incoming")
    finally:
        con.unregister("_incoming")


def record_check(
    con: duckdb.DuckDBPyConnection,
    *,
    entity: str,
    asset: str,
    partition: str,
    check_name: str,
    passed: bool,
    detail: str,
    run_id: str,
) -> None:
    """Store one check outcome in quality.check_results (the report's "checks failed" column reads it)."""
    con.execute(
        "DELETE FROM quality.check_results WHERE entity = ? AND asset = ? AND partition = ? AND check_name = ?",
        [entity, asset, partition, check_name],
    )
    con.execute(
        "INSERT INTO quality.check_results VALUES (?, ?, ?, ?, ?, ?, ?, now())",
        [entity, asset, partition, check_name, passed, detail, run_id],
    )


def pinned_rates(warehouse: Warehouse, entity: str, days: list[str]) -> pl.DataFrame:
    """The conversion rates the entity's `days` were priced with before (empty when never priced)."""
    return warehouse.query(
        entity,
        "SELECT day, from_currency, to_currency, fx_rate, fx_rate_date, fx_source FROM reference.fx_rates "
        "WHERE entity = ? AND day IN (SELECT unnest(?::DATE[]))",
        [entity, days],
    )


def pin_rates(con: duckdb.DuckDBPyConnection, entity: str, rates: pl.DataFrame, run_id: str) -> None:
    """Pin `rates` (day, from, to, rate...) for the entity, inside the caller's transaction.

    Pair by pair: a pin replaces the same entity, day and currency pair only, so one asset's pins
    (normalized lines' days, an invoice's date, an intercompany bill's) never drop another's.
    """
    if rates.height == 0:
        return
    frame = rates.with_columns(pl.lit(entity).alias("entity"), pl.lit(run_id).alias("pinned_by_run"))
    con.register("_pins", frame)
    try:
        con.execute(
            "DELETE FROM reference.fx_rates AS r USING _pins AS p WHERE r.entity = p.entity AND r.day = p.day "
            "AND r.from_currency = p.from_currency AND r.to_currency = p.to_currency"
        )
    finally:
        con.unregister("_pins")
    append(con, "reference.fx_rates", frame)


def record_checks(
    con: duckdb.DuckDBPyConnection,
    *,
    entity: str,
    asset: str,
    partition: str,
    outcomes: dict[str, tuple[bool, str]],
    run_id: str,
) -> None:
    """Store several check outcomes ({check name: (passed, detail)}) for one asset partition."""
    for name, (passed, detail) in outcomes.items():
        record_check(
            con, entity=entity, asset=asset, partition=partition, check_name=name, passed=passed,
            detail=detail, run_id=run_id,
        )  # fmt: skip
