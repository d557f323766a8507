"""Where an entity-month's outbound documents come from: every drafting table, read in one shape.

Each producer drafts into its own tables (so no two assets write one table's slice), except the
allocation journals, which are computed here from the current allocation run and what the ledger
already holds; the outbox reads them all through this module, in the shape of rules/documents.py, and posts them
in KIND_ORDER: invoices first, so a credit note can be allocated to the invoice it corrects.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from assets.allocation.runs import current_run_id
from resources.warehouse import Warehouse
from rules.allocation.journals import journal_documents_for_posting
from rules.documents import DOCUMENT_HEADER_SCHEMA, DOCUMENT_LINE_SCHEMA

KIND_ORDER = ("invoice", "credit_note", "manual_journal")
# Line columns kept for the posted snapshot (posting.posted_lines) where the producer has them.
TRACE_COLUMNS = pl.Schema({"project_id": pl.Int64(), "task_id": pl.Int64(), "source_kind": pl.String()})
LINE_SCHEMA = pl.Schema({**dict(DOCUMENT_LINE_SCHEMA), **dict(TRACE_COLUMNS)})


@dataclass(frozen=True)
class DocumentSource:
    """One producer's header and line tables, and how its columns read as the outbound shape."""

    name: str
    headers_sql: str
    lines_sql: str


_SHAPE = ", ".join(DOCUMENT_HEADER_SCHEMA.names())
_LINE_SHAPE = ", ".join(DOCUMENT_LINE_SCHEMA.names())


def _table_source(name: str, table: str) -> DocumentSource:
    """A producer whose tables `<table>_documents` / `<table>_document_lines` are in the outbound shape."""
    return DocumentSource(
        name,
        f"SELECT {_SHAPE} FROM {table}_documents WHERE entity = ? AND period = ?",
        f"SELECT {_LINE_SHAPE} FROM {table}_document_lines WHERE entity = ? AND period = ?",
    )


SOURCES: tuple[DocumentSource, ...] = (
    DocumentSource(
        "invoice drafts",
        """SELECT invoice_number AS document_number, 'invoice' AS document_kind, 'ACCREC' AS document_type,
                  entity, period, contact_name, reference, invoice_date AS document_date, due_date, currency,
                  base_currency, currency_rate, line_amount_types, subtotal, total_tax, total,
                  NULL::VARCHAR AS original_number, content_hash, rule_set_version, run_id
           FROM billing.invoice_drafts WHERE entity = ? AND period = ?""",
        """SELECT invoice_number AS document_number, line_no, entity, period, description, quantity,
                  unit_amount, line_amount, tax_type, tax_amount, account_code, project_id, task_id, source_kind
           FROM billing.invoice_draft_lines WHERE entity = ? AND period = ?""",
    ),
    _table_source("corrections", "billing.correction"),
    _table_source("intercompany", "billing.intercompany"),
)


def allocation_journals(warehouse: Warehouse, entity: str, period: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The current allocation run's journals, with reversals of posted journals it supersedes.

    Computed, not stored: what to reverse depends on what the ledger already holds
    (posting.posted_lines), which changes as the outbox confirms documents.
    """
    run = current_run_id(warehouse, entity, period)
    if run is None:
        return pl.DataFrame(schema=DOCUMENT_HEADER_SCHEMA), pl.DataFrame(schema=DOCUMENT_LINE_SCHEMA)
    drafts = warehouse.query(
        entity, "SELECT * FROM allocation.journal_drafts WHERE entity = ? AND period = ?", [entity, period]
    )
    posted = warehouse.query(
        entity,
        "SELECT * FROM posting.posted_lines WHERE entity = ? AND period = ? AND document_kind = 'manual_journal'",
        [entity, period],
    )
    return journal_documents_for_posting(drafts, run, posted)


def outbound_documents(warehouse: Warehouse, entity: str, period: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every document the entity-month sends (headers, lines), ordered by kind and number.

    Lines carry the trace columns (project, task, source kind) where the producer has them.
    """
    headers: list[pl.DataFrame] = [pl.DataFrame(schema=DOCUMENT_HEADER_SCHEMA)]
    lines: list[pl.DataFrame] = [pl.DataFrame(schema=LINE_SCHEMA)]
    produced = [
        (
            warehouse.query(entity, s.headers_sql, [entity, period]),
            warehouse.query(entity, s.lines_sql, [entity, period]),
        )
        for s in SOURCES
    ]
    produced.append(allocation_journals(warehouse, entity, period))
    for frame, line_frame in produced:
        headers.append(frame.select(DOCUMENT_HEADER_SCHEMA.names()).cast(DOCUMENT_HEADER_SCHEMA))
        for name, dtype in TRACE_COLUMNS.items():
            if name not in line_frame.columns:
                line_frame = line_frame.with_columns(pl.lit(None, dtype).alias(name))
        lines.append(line_frame.select(LINE_SCHEMA.names()).cast(LINE_SCHEMA))
    order = {kind: n for n, kind in enumerate(KIND_ORDER)}
    all_headers = (
        pl.concat(headers)
        .with_columns(pl.col("document_kind").replace_strict(order, default=len(order)).alias("_order"))
        .sort("_order", "document_number")
        .drop("_order")
    )
    return all_headers, pl.concat(lines)
