"""The schema registry is the one source of truth: files migrated from nothing have exactly the registered
tables, columns, types, nullability, defaults and keys; the DDL derived from it builds the same layout;
the write gate refuses a frame that is not a table's shape."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from resources.warehouse import Warehouse, append
from rules.schemas.catalog import ENTITY_TABLES, GROUP_FILE_TABLES, TABLES, table
from rules.schemas.registry import ShapeError, TableSchema

_LAYOUT = """
SELECT c.schema_name || '.' || c.table_name, c.column_name, c.data_type, c.is_nullable, c.column_default
FROM duckdb_columns() AS c WHERE NOT c.internal AND c.schema_name <> 'meta' ORDER BY c.schema_name, c.table_name, c.column_index
"""
_KEYS = """
SELECT schema_name || '.' || table_name, constraint_column_names FROM duckdb_constraints()
WHERE constraint_type = 'PRIMARY KEY' AND schema_name <> 'meta' ORDER BY 1
"""
_SQL_NAMES = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}


def _registered_layout(tables: dict[str, TableSchema]) -> list[tuple[object, ...]]:
    return [
        (t.name, c.name, _SQL_NAMES.get(c.type, c.type), c.nullable, c.default)
        for t in sorted(tables.values(), key=lambda t: t.name)
        for c in t.columns
    ]


def _layout(con: duckdb.DuckDBPyConnection) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    return con.execute(_LAYOUT).fetchall(), [(n, tuple(k)) for n, k in con.execute(_KEYS).fetchall()]


def _keys(tables: dict[str, TableSchema]) -> list[tuple[object, ...]]:
    return sorted((t.name, t.primary_key) for t in tables.values() if t.primary_key)


def test_a_new_entity_file_has_exactly_the_registered_tables(tmp_path: Path) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    with warehouse.connect("us") as con:
        columns, keys = _layout(con)
    assert sorted(columns) == sorted(_registered_layout(ENTITY_TABLES))
    assert keys == _keys(ENTITY_TABLES)


def test_a_new_group_file_has_exactly_the_registered_tables(tmp_path: Path) -> None:
    with Warehouse(home=str(tmp_path)).group_transaction() as con:
        columns, keys = _layout(con)
    assert sorted(columns) == sorted(_registered_layout(GROUP_FILE_TABLES))
    assert keys == _keys(GROUP_FILE_TABLES)


def test_the_derived_ddl_builds_the_registered_layout() -> None:
    con = duckdb.connect()
    for schema in sorted({name.split(".")[0] for name in TABLES}):
        con.execute(f"CREATE SCHEMA {schema}")
    for registered in TABLES.values():
        con.execute(registered.ddl())
    columns, keys = _layout(con)
    assert sorted(columns) == sorted(_registered_layout(TABLES))
    assert keys == _keys(TABLES)


def test_every_registered_table_has_a_semantic_version() -> None:
    assert all(
        len(t.version.split(".")) == 3 and t.version.replace(".", "").isdigit() for t in TABLES.values()
    )


def _fx_row(**overrides: object) -> pl.DataFrame:
    row = {
        "entity": "us", "day": date(2026, 8, 3), "from_currency": "USD", "to_currency": "EUR",
        "fx_rate": Decimal("0.91"), "fx_rate_date": date(2026, 8, 3), "fx_source": "ECB", "pinned_by_run": "r",
    }  # fmt: skip
    return pl.DataFrame([row]).with_columns(pl.col("fx_rate").cast(pl.Decimal(18, 8)))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda f: f.with_columns(pl.col("fx_rate").cast(pl.Float64)),
            "column fx_rate is Float64, registered DECIMAL(18,8)",
        ),
        (
            lambda f: f.with_columns(pl.col("fx_rate").cast(pl.Decimal(38, 10))),
            "column fx_rate is Decimal(precision=38, scale=10)",
        ),
        (
            lambda f: f.with_columns(pl.lit(None, pl.String).alias("fx_source")),
            "column fx_source has 1 null(s)",
        ),
        (lambda f: f.with_columns(pl.lit("x").alias("note")), "unknown column note"),
        (lambda f: f.drop("pinned_by_run"), "missing column pinned_by_run"),
    ],
)
def test_the_write_gate_refuses_a_frame_that_is_not_the_tables_shape(tmp_path: Path, change, message) -> None:  # type: ignore[no-untyped-def]
    with Warehouse(home=str(tmp_path)).transaction("us") as con:
        with pytest.raises(
            ShapeError,
            match=r"reference\.fx_rates 1\.0\.0: .*" + message.replace("(", r"\(").replace(")", r"\)"),
        ):
            append(con, "reference.fx_rates", change(_fx_row()))
        append(con, "reference.fx_rates", _fx_row())  # the registered shape goes in
        # An exact widening goes in too (a decimal of a smaller scale): nothing is rounded.
        append(
            con,
            "reference.fx_rates",
            _fx_row(to_currency="GBP").with_columns(pl.col("fx_rate").cast(pl.Decimal(18, 2))),
        )
        assert (
            con.execute("SELECT fx_rate FROM reference.fx_rates").fetchall() == [(Decimal("0.91000000"),)] * 2
        )


def test_an_unregistered_table_is_named() -> None:
    with pytest.raises(KeyError, match=r"no registered schema for table 'raw\.nothing'"):
        table("raw.nothing")
