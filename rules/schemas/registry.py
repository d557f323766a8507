"""Table shapes as data: one source of truth per table, with a semantic version, from which the DuckDB
DDL, the polars schema and (in checks/) the pandera model are derived (docs/decisions/0022).

A column names its SQL type, whether it may be null, and the value rules the write gate enforces.
Integer columns accept any integer frame type (widened or narrowed on write, overflow an error); a
decimal column accepts integers, decimals of at most its scale and decimal text with at most its
digits (all exact); every other type must
match exactly: a float where a decimal is registered, or a decimal that would be rounded, is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import polars as pl

VARCHAR, DATE, BOOLEAN, BIGINT, INTEGER, TIMESTAMPTZ = (
    "VARCHAR",
    "DATE",
    "BOOLEAN",
    "BIGINT",
    "INTEGER",
    "TIMESTAMPTZ",
)
MONEY, RATE, WIDE = "DECIMAL(18,4)", "DECIMAL(18,8)", "DECIMAL(38,8)"
VARCHAR_LIST = "VARCHAR[]"
DOUBLE, BLOB = "DOUBLE", "BLOB"  # scores and raw file bytes (reconciliation), never money
_DECIMAL = re.compile(r"^DECIMAL\((\d+),(\d+)\)$")
INTEGER_TYPES = frozenset({BIGINT, INTEGER})


@dataclass(frozen=True)
class Check:
    """A value rule on a column, named as pandera names it (unique, isin, ge, gt, ne, str_matches, ...)."""

    name: str
    value: Any = None


def unique() -> Check:
    return Check("unique", True)


def isin(*values: Any) -> Check:
    return Check("isin", tuple(values))


def ge(value: Any) -> Check:
    return Check("ge", value)


def gt(value: Any) -> Check:
    return Check("gt", value)


def ne(value: Any) -> Check:
    return Check("ne", value)


def matches(pattern: str) -> Check:
    return Check("str_matches", pattern)


def starts_with(prefix: str) -> Check:
    return Check("str_startswith", prefix)


def length(low: int | None = None, high: int | None = None) -> Check:
    return Check("str_length", (low, high))


CURRENCY = matches(r"^[A-Z]{3}$")
PERIOD = matches(r"^\d{4}-\d{2}$")
SHA256 = length(64, 64)


@dataclass(frozen=True)
class Column:
    """One column: name, SQL type, nullability and value rules."""

    name: str
    type: str
    nullable: bool = False
    checks: tuple[Check, ...] = ()
    # Nullable in storage (rows written before the column was added hold nulls) but filled by every
    # write today: the write gate refuses a null.
    filled: bool = False
    default: str | None = None  # SQL literal the database fills when a write omits the column

    @property
    def required(self) -> bool:
        """Whether a write must give this column a value."""
        return not self.nullable or self.filled

    def ddl(self) -> str:
        default = f" DEFAULT {self.default}" if self.default is not None else ""
        return f"{self.name} {self.type}{'' if self.nullable else ' NOT NULL'}{default}"

    def dtype(self) -> pl.DataType:
        """The polars type of this column in a frame."""
        return polars_type(self.type)


def col(
    name: str,
    type_: str,
    *checks: Check,
    null: bool = False,
    filled: bool = False,
    default: str | None = None,
) -> Column:
    """A column (not null unless `null`; `filled`: nullable in storage, never null when written;
    `default`: the SQL literal stored when a write omits it)."""
    return Column(name, type_, null, tuple(checks), filled, default)


@dataclass(frozen=True)
class TableSchema:
    """A registered table: its qualified name, semantic version, columns, key and frame-level rules."""

    name: str
    version: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    frame_checks: tuple[str, ...] = ()  # named checks defined beside the pandera models (checks/)
    description: str = ""
    _by_name: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self._by_name.update({c.name: c for c in self.columns})
        if len(self._by_name) != len(self.columns):
            raise ValueError(f"{self.name}: a column name appears twice")

    def column(self, name: str) -> Column:
        return self._by_name[name]

    def ddl(self) -> str:
        """CREATE TABLE IF NOT EXISTS for this shape."""
        parts = [c.ddl() for c in self.columns]
        if self.primary_key:
            parts.append(f"PRIMARY KEY ({', '.join(self.primary_key)})")
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n    " + ",\n    ".join(parts) + "\n);"

    def polars_schema(self) -> pl.Schema:
        """The frame shape that writes this table."""
        return pl.Schema({c.name: c.dtype() for c in self.columns})

    def empty(self) -> pl.DataFrame:
        return pl.DataFrame(schema=self.polars_schema())


def polars_type(sql: str) -> pl.DataType:
    """The polars type a frame holds for a DuckDB column type."""
    simple: dict[str, pl.DataType] = {
        VARCHAR: pl.String(), DATE: pl.Date(), BOOLEAN: pl.Boolean(), BIGINT: pl.Int64(), INTEGER: pl.Int32(),
        TIMESTAMPTZ: pl.Datetime("us", "UTC"), VARCHAR_LIST: pl.List(pl.String()), DOUBLE: pl.Float64(),
        BLOB: pl.Binary(),
    }  # fmt: skip
    if sql in simple:
        return simple[sql]
    decimal = _DECIMAL.match(sql)
    if decimal:
        return pl.Decimal(int(decimal.group(1)), int(decimal.group(2)))
    raise ValueError(f"no polars type for SQL type {sql!r}")


def _exact_cast(have: pl.DataType, want: pl.DataType) -> bool:
    """Whether a frame column can take the registered type without losing anything (overflow errs)."""
    if have == want:
        return False
    if isinstance(want, pl.List):  # an empty list is inferred as a list of nulls
        return isinstance(have, pl.List) and have.inner == pl.Null()
    if want.is_integer():
        return have.is_integer()
    if isinstance(want, pl.Decimal):
        if have.is_integer():
            return True
        return isinstance(have, pl.Decimal) and (have.scale or 0) <= (want.scale or 0)
    return want == pl.Float64() and have in (pl.Float32(), pl.Int32(), pl.Int64())


def _inexact_decimal_text(values: pl.Series, want: pl.Decimal) -> str | None:
    """The first value that is not decimal text with at most `want`'s integer and fraction digits."""
    whole, fraction = (want.precision or 38) - (want.scale or 0), want.scale or 0
    pattern = rf"^-?\d{{1,{whole}}}(\.\d{{0,{fraction}}})?$"
    bad = values.drop_nulls().filter(~values.drop_nulls().str.contains(pattern))
    return str(bad[0]) if bad.len() else None


class ShapeError(ValueError):
    """A frame does not have its table's registered shape: names the table, the column and the difference."""


def conform(schema: TableSchema, frame: pl.DataFrame) -> pl.DataFrame:
    """`frame`'s columns in the table's order, integer widths matched (an omitted optional column is left
    to the database, which stores its default or null); raises ShapeError naming every column that is
    unknown, missing, of another type (a decimal of another scale included) or null where it may not be."""
    problems = [f"unknown column {name}" for name in frame.columns if name not in schema._by_name]
    problems += [
        f"missing column {c.name}" for c in schema.columns if c.name not in frame.columns and c.required
    ]
    casts = []
    for column in schema.columns:
        if column.name not in frame.columns:
            continue
        have, want = frame.schema[column.name], column.dtype()
        if have == pl.String() and isinstance(want, pl.Decimal):
            # Decimal text (kept as text to stay exact) goes in only if no digit would be rounded away.
            inexact = _inexact_decimal_text(frame[column.name], want)
            if inexact is not None:
                problems.append(
                    f"column {column.name} holds {inexact!r}, not a decimal of scale {want.scale}"
                )
            casts.append(pl.col(column.name).cast(want, strict=True))
        elif _exact_cast(have, want):
            casts.append(pl.col(column.name).cast(want, strict=True))
        elif have == want or (have == pl.Null() and column.nullable):
            casts.append(pl.col(column.name).cast(want))
        else:
            problems.append(f"column {column.name} is {have}, registered {column.type} ({want})")
        if column.required and column.name in frame.columns and frame[column.name].null_count():
            problems.append(
                f"column {column.name} has {frame[column.name].null_count()} null(s), registered NOT NULL"
            )
    if problems:
        raise ShapeError(f"{schema.name} {schema.version}: " + "; ".join(problems))
    return frame.select(casts)
