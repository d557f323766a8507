"""Where the outbox's documents come from: one interface every producer hands its documents over by.

A producer (invoice drafts, corrections, intercompany charges, allocation journals) drafts into
its own tables; a `DocumentSource` reads one producer's documents for an entity-month in the
outbound shape of rules/documents.py. The posting layer is handed the registered sources as a
value (`DocumentSources`, registered in assets/outbound_sources.py) and never imports a producer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import polars as pl

from rules.documents import DOCUMENT_HEADER_SCHEMA, DOCUMENT_LINE_SCHEMA
from rules.outbox.rows import KIND_ORDER

# Line columns kept for the posted snapshot (posting.posted_lines) where the producer has them.
TRACE_COLUMNS = pl.Schema({"project_id": pl.Int64(), "task_id": pl.Int64(), "source_kind": pl.String()})
LINE_SCHEMA = pl.Schema({**dict(DOCUMENT_LINE_SCHEMA), **dict(TRACE_COLUMNS)})


class WarehouseReader(Protocol):
    """Anything that runs a read query on an entity's file (the warehouse, or the outbox's open store)."""

    def query(self, entity: str, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        """Rows of `sql` as a polars frame."""
        ...


class DocumentSource(Protocol):
    """One producer's outbound documents of an entity-month: (headers, lines) in the outbound shape."""

    @property
    def name(self) -> str:
        """What the producer is called in messages."""
        ...

    @property
    def produced_by(self) -> tuple[str, ...]:
        """The asset key path of the producer, which posting runs after."""
        ...

    def read(self, reader: WarehouseReader, entity: str, period: str) -> tuple[pl.DataFrame, pl.DataFrame]:
        """The producer's documents of the entity-month (lines may carry the trace columns)."""
        ...


@dataclass(frozen=True)
class TableSource:
    """A producer whose documents are two tables read by SQL (parameters: entity, period)."""

    name: str
    produced_by: tuple[str, ...]
    headers_sql: str
    lines_sql: str

    def read(self, reader: WarehouseReader, entity: str, period: str) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Both tables' rows of the entity-month."""
        return reader.query(entity, self.headers_sql, [entity, period]), reader.query(
            entity, self.lines_sql, [entity, period]
        )


_SHAPE = ", ".join(DOCUMENT_HEADER_SCHEMA.names())
_LINE_SHAPE = ", ".join(DOCUMENT_LINE_SCHEMA.names())


def shaped_tables(name: str, produced_by: tuple[str, ...], table: str) -> TableSource:
    """A producer whose tables `<table>_documents` / `<table>_document_lines` are in the outbound shape."""
    return TableSource(
        name,
        produced_by,
        f"SELECT {_SHAPE} FROM {table}_documents WHERE entity = ? AND period = ?",
        f"SELECT {_LINE_SHAPE} FROM {table}_document_lines WHERE entity = ? AND period = ?",
    )


@dataclass(frozen=True)
class DocumentSources:
    """Every registered producer: what the posting step reads, in one shape, in kind order."""

    sources: tuple[DocumentSource, ...]

    def read(self, reader: WarehouseReader, entity: str, period: str) -> tuple[pl.DataFrame, pl.DataFrame]:
        """Every document the entity-month sends (headers, lines), ordered by kind and number.

        Lines carry the trace columns (project, task, source kind) where the producer has them.
        """
        headers: list[pl.DataFrame] = [pl.DataFrame(schema=DOCUMENT_HEADER_SCHEMA)]
        lines: list[pl.DataFrame] = [pl.DataFrame(schema=LINE_SCHEMA)]
        for source in self.sources:
            frame, line_frame = source.read(reader, entity, period)
            headers.append(frame.select(DOCUMENT_HEADER_SCHEMA.names()).cast(DOCUMENT_HEADER_SCHEMA))
            for column, dtype in TRACE_COLUMNS.items():
                if column not in line_frame.columns:
                    line_frame = line_frame.with_columns(pl.lit(None, dtype).alias(column))
            lines.append(line_frame.select(LINE_SCHEMA.names()).cast(LINE_SCHEMA))
        order = {kind: n for n, kind in enumerate(KIND_ORDER)}
        all_headers = (
            pl.concat(headers)
            .with_columns(pl.col("document_kind").replace_strict(order, default=len(order)).alias("_order"))
            .sort("_order", "document_number")
            .drop("_order")
        )
        return all_headers, pl.concat(lines)
