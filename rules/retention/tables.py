"""Which warehouse tables hold which record type, and how a table's rows fall into a period.

Only tables listed here are archived and purged; the others (directories, contacts, claims, check
results, bank statement files and templates) are not per period and stay in the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass

from rules.retention.policy import RecordType


@dataclass(frozen=True)
class RetainedTable:
    """A table kept by period: its record type and the column that places a row in a month."""

    name: str
    record_type: RecordType
    period_column: str  # "period" (YYYY-MM text) or "day" (a date)

    def slice_sql(self) -> str:
        """The WHERE clause selecting one period's rows (one parameter: the period, YYYY-MM)."""
        if self.period_column == "period":
            return "period = ?"
        return f"strftime({self.period_column}, '%Y-%m') = ?"


def _tables(record_type: RecordType, column: str, *names: str) -> tuple[RetainedTable, ...]:
    return tuple(RetainedTable(name, record_type, column) for name in names)


RETAINED_TABLES: tuple[RetainedTable, ...] = (
    *_tables(
        RecordType.INVOICES,
        "period",
        "billing.invoice_drafts",
        "billing.invoice_draft_lines",
        "billing.invoice_line_sources",
        "billing.retainer_balances",
        "billing.intercompany_charges",
        "billing.intercompany_charge_sources",
        "billing.intercompany_documents",
        "billing.intercompany_document_lines",
        "billing.correction_documents",
        "billing.correction_document_lines",
        "billing.correction_sources",
        "billing.correction_holds",
    ),
    *_tables(
        RecordType.LEDGER,
        "period",
        "posting.outbox",
        "posting.outbox_lines",
        "posting.posted_lines",
        "posting.dead_letters",
        "allocation.runs",
        "allocation.pool_lines",
        "allocation.pool_line_sources",
        "allocation.slices",
        "allocation.unallocated",
        "allocation.depreciation_schedule",
        "allocation.journal_drafts",
        "allocation.profitability",
        "reconciliation.settlements",
        "reconciliation.payment_documents",
        "reconciliation.payment_document_lines",
        "reconciliation.match_log",
        "reconciliation.line_state",
    ),
    *_tables(
        RecordType.BILLABLE_LINES,
        "day",
        "normalized.billable_lines",
        "normalized.quarantine",
        "reference.fx_rates",
    ),
    *_tables(
        RecordType.RAW_PAYLOADS,
        "day",
        "raw.time_entries",
        "raw.expenses",
        "raw.intercompany_time_entries",
        "raw.record_versions",
        "raw.rejected_records",
    ),
    *_tables(RecordType.REQUEST_LOGS, "period", "posting.requests"),
)
RETAINED: dict[str, RetainedTable] = {t.name: t for t in RETAINED_TABLES}
# Where an archived period's client ids are read (a client hold covers the periods they appear in).
CLIENT_COLUMNS: dict[str, str] = {
    "billing.invoice_drafts": "client_id",
    "billing.retainer_balances": "client_id",
    "normalized.billable_lines": "client_id",
}
# Raw payloads name their client inside the JSON (`client.id`): a period archived before it was
# normalized still lists its clients.
CLIENT_PAYLOADS: tuple[str, ...] = ("raw.time_entries", "raw.expenses", "raw.intercompany_time_entries")
