"""The shadow drafts of a candidate rule set and their differences from the real ones (decision 0039).

The shadow drafts have exactly the shape of the real drafts (their `rule_set_version` names the
version that drafted them); nothing reads them to post: the outbox's sources are the real tables.
"""

from __future__ import annotations

from dataclasses import replace

from rules.schemas.registry import INTEGER, MONEY, PERIOD, VARCHAR, TableSchema, col, isin
from rules.schemas.tables_billing import BILLING_TABLES

_REAL = {t.name: t for t in BILLING_TABLES}


def _shadow_of(name: str) -> TableSchema:
    """The real table's shape under the shadow name, at its own version 1.0.0."""
    real = _REAL[f"billing.{name}"]
    return replace(real, name=f"billing.shadow_{name}", version="1.0.0", _by_name={})


SHADOW_TABLES: tuple[TableSchema, ...] = (
    _shadow_of("invoice_drafts"),
    _shadow_of("invoice_draft_lines"),
    TableSchema(
        "billing.shadow_differences",
        "1.0.0",
        (
            col("entity", VARCHAR),
            col("period", VARCHAR, PERIOD),
            col("invoice_number", VARCHAR),
            col("line_no", INTEGER, null=True),  # null: an invoice figure
            col("description", VARCHAR, null=True),
            col(
                "figure",
                VARCHAR,
                isin(
                    "subtotal",
                    "total_tax",
                    "total",
                    "total_base",
                    "quantity",
                    "unit_amount",
                    "line_amount",
                    "tax_amount",
                ),
            ),
            col("currency", VARCHAR),
            col("serving_amount", MONEY, null=True),  # null: only the shadow drafts have it
            col("shadow_amount", MONEY, null=True),  # null: only the serving drafts have it
            col("difference", MONEY),
            col("serving_version", VARCHAR),
            col("shadow_version", VARCHAR),
            col("run_id", VARCHAR),
        ),
        description="every figure switching to the shadow rules would change: shadow less serving",
    ),
)
