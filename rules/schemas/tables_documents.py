"""The outbound document tables every producer writes in the shape of rules/documents.py (`<prefix>_documents`
and `<prefix>_document_lines`: corrections, intercompany charges, payments), registered once."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rules.schemas.registry import DATE, INTEGER, MONEY, RATE, VARCHAR, Column, TableSchema, col

_HEADER = (
    col("document_number", VARCHAR),
    col("document_kind", VARCHAR),
    col("document_type", VARCHAR, null=True),
    col("entity", VARCHAR),
    col("period", VARCHAR),
    col("contact_name", VARCHAR, null=True),
    col("reference", VARCHAR),
    col("document_date", DATE),
    col("due_date", DATE, null=True),
    col("currency", VARCHAR),
    col("base_currency", VARCHAR),
    col("currency_rate", RATE),
    col("line_amount_types", VARCHAR),
    col("subtotal", MONEY),
    col("total_tax", MONEY),
    col("total", MONEY),
    col("original_number", VARCHAR, null=True),
    col("content_hash", VARCHAR),
    col("rule_set_version", VARCHAR),
    col("run_id", VARCHAR),
)
_LINE = (
    col("document_number", VARCHAR),
    col("line_no", INTEGER),
    col("entity", VARCHAR),
    col("period", VARCHAR),
    col("description", VARCHAR),
    col("quantity", MONEY),
    col("unit_amount", MONEY),
    col("line_amount", MONEY),
    col("tax_type", VARCHAR),
    col("tax_amount", MONEY),
    col("account_code", VARCHAR),
)


def _ruled(columns: tuple[Column, ...], rules: dict[str, dict[str, Any]]) -> tuple[Column, ...]:
    """The columns with a producer's own value rules (`checks`, `filled`) where it names them."""
    return tuple(replace(c, **rules[c.name]) if c.name in rules else c for c in columns)


def document_tables(
    prefix: str,
    header_rules: dict[str, dict[str, Any]] | None = None,
    line_rules: dict[str, dict[str, Any]] | None = None,
    version: str = "1.0.0",
) -> tuple[TableSchema, TableSchema]:
    """`<prefix>_documents` and `<prefix>_document_lines`, with the producer's value rules."""
    return (
        TableSchema(f"{prefix}_document_lines", version, _ruled(_LINE, line_rules or {})),
        TableSchema(f"{prefix}_documents", version, _ruled(_HEADER, header_rules or {})),
    )
