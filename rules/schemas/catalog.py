"""Every registered table (by qualified name, and which file holds it) and every registered external
payload (docs/decisions/0022)."""

from __future__ import annotations

from rules.schemas.payloads import HARVEST_PAYLOADS, XERO_DOCUMENTS, PayloadSchema
from rules.schemas.registry import TableSchema
from rules.schemas.tables_allocation import ALLOCATION_TABLES
from rules.schemas.tables_billing import BILLING_TABLES
from rules.schemas.tables_group import GROUP_TABLES
from rules.schemas.tables_posting import POSTING_TABLES
from rules.schemas.tables_raw import RAW_TABLES
from rules.schemas.tables_reconciliation import RECONCILIATION_TABLES
from rules.schemas.tables_retention import RETENTION_TABLES
from rules.schemas.tables_shadow import SHADOW_TABLES
from rules.schemas.tables_trace import TRACE_TABLES

ENTITY_TABLES: dict[str, TableSchema] = {
    t.name: t
    for t in (
        *RAW_TABLES,
        *BILLING_TABLES,
        *POSTING_TABLES,
        *ALLOCATION_TABLES,
        *RECONCILIATION_TABLES,
        *TRACE_TABLES,
        *RETENTION_TABLES,
        *SHADOW_TABLES,
    )
}
GROUP_FILE_TABLES: dict[str, TableSchema] = {t.name: t for t in GROUP_TABLES}
TABLES: dict[str, TableSchema] = {**ENTITY_TABLES, **GROUP_FILE_TABLES}


def table(name: str) -> TableSchema:
    """The registered shape of `name` (e.g. "raw.time_entries"); KeyError names what is registered."""
    try:
        return TABLES[name]
    except KeyError:
        raise KeyError(
            f"no registered schema for table {name!r}: register it in rules/schemas/tables_*.py"
        ) from None


# Every external payload we read or write, by registered name.
PAYLOADS: dict[str, PayloadSchema] = {
    p.name: p for p in (*HARVEST_PAYLOADS.values(), *XERO_DOCUMENTS.values())
}
# Shapes a release removed on purpose, with why (the compatibility check accepts only these gone).
RETIRED: dict[str, str] = {}
