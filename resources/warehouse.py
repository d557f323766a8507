"""The warehouse: one DuckDB file per legal entity under $BILLBRIDGE_HOME/warehouse/.

Segregated files keep ledgers apart and give each entity its own write lock; every
partition write is delete-the-slice-then-insert inside one transaction, so a rerun
replaces exactly what it owns and a crash leaves the previous slice intact.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
from pydantic import Field

from resources.warehouse_tables import DDL


def default_home() -> str:
    """$BILLBRIDGE_HOME, else `.billbridge/` in the repository."""
    return os.environ.get("BILLBRIDGE_HOME") or str(Path(__file__).resolve().parents[1] / ".billbridge")


class Warehouse(dg.ConfigurableResource):
    """DuckDB files, one per entity; the only code that opens them."""

    home: str = Field(
        default="", description="data folder; empty: $BILLBRIDGE_HOME at run time, else .billbridge/"
    )

    def path(self, entity: str) -> Path:
        """The DuckDB file of `entity`."""
        return Path(self.home or default_home()) / "warehouse" / f"{entity}.duckdb"

    @contextmanager
    def connect(self, entity: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection to the entity's file, with every table created if missing."""
        path = self.path(entity)
        path.parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(str(path))
        try:
            con.execute(DDL)
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self, entity: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection inside one transaction: committed on success, rolled back on any error."""
        with self.connect(entity) as con:
            con.begin()
            try:
                yield con
            except BaseException:
                con.rollback()
                raise
            con.commit()

    def query(self, entity: str, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        """Run a read query on the entity's file and return a polars frame (empty file: tables exist, no rows)."""
        with self.connect(entity) as con:
            return con.sql(sql, params=params or []).pl()

    def exists(self, entity: str) -> bool:
        """Whether the entity's file has been created yet."""
        return self.path(entity).exists()


def replace_slice(
    con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame, where: str, params: list[Any]
) -> None:
    """Delete the rows of `table` matching `where`, then insert `frame` by column name.

    Call inside `Warehouse.transaction` so the delete and insert commit together.
    """
    con.execute(f"DELETE FROM {table} WHERE {where}", params)
    append(con, table, frame)


def append(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """Insert `frame` into `table`, matching columns by name."""
    if frame.height == 0:
        return
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


def pin_rates(
    con: duckdb.DuckDBPyConnection, entity: str, days: list[str], rates: pl.DataFrame, run_id: str
) -> None:
    """Replace the pinned rates of the entity's `days` with `rates` (inside the caller's transaction)."""
    frame = rates.with_columns(pl.lit(entity).alias("entity"), pl.lit(run_id).alias("pinned_by_run"))
    replace_slice(
        con, "reference.fx_rates", frame, "entity = ? AND day IN (SELECT unnest(?::DATE[]))", [entity, days]
    )


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
