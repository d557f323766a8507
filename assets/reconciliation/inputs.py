"""Reconciliation inputs, entity x day: the bank statement inbox, and the receivables the accounting
system holds. The partition day names the day the inbox was read (statement lines keep their own
booking dates); the receivables are that day's snapshot.
"""

from datetime import UTC, datetime
from typing import Any

import dagster as dg
import polars as pl

from assets.partitions import Partitions, day_slices
from assets.reporting import money_totals, preview
from resources.bank_statements_inbox import file_away, inbox_folder, pending_files
from resources.bank_statements_receivables import read_contact_identifiers, read_receivables
from resources.bank_statements_store import LOADED, ReceivedFile, receive_file, reconciliation_transaction
from resources.configuration import Settings
from resources.warehouse import Warehouse, default_home, replace_slice
from resources.xero import XeroClient

BANK_STATEMENT_LINES = dg.AssetKey(["reconciliation", "bank_statement_lines"])
RECEIVABLES = dg.AssetKey(["reconciliation", "receivables"])
# What both inputs share: one run for a backfill, the reconciliation group (and entity x day).
_INPUT: dict[str, Any] = {
    "backfill_policy": dg.BackfillPolicy.single_run(),
    "group_name": "reconciliation",
    "owners": ["team:finance-systems"],
}


def bank_statement_lines(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
    """Bank statement lines as received: every file in the entity's inbox kept raw with its hash, loaded once;
    unreadable or unbalanced files quarantined whole with the reason, the rest proceeding."""
    home = warehouse.home or default_home()
    outcomes = []
    for part in day_slices(context):
        folder = inbox_folder(home, part.entity)
        for path in pending_files(folder):
            received = ReceivedFile(part.entity, path.name, path.read_bytes(), part.last, context.run.run_id)
            outcome = receive_file(warehouse, received)
            file_away(path, outcome)
            outcomes.append({"entity": part.entity, "file": path.name, "status": outcome.status,
                             "lines": outcome.lines_loaded, "reason": outcome.reason})  # fmt: skip
            if outcome.status != LOADED:
                context.log.warning(f"{part.entity}: {path.name} {outcome.status}: {outcome.reason}")
    frame = pl.DataFrame(outcomes, schema={"entity": pl.String, "file": pl.String, "status": pl.String,
                                           "lines": pl.Int64, "reason": pl.String})  # fmt: skip
    by_status = dict(frame.group_by("status").len().iter_rows()) if frame.height else {}
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": int(frame["lines"].sum()) if frame.height else 0,
            "files": frame.height,
            **{f"files_{status}": count for status, count in sorted(by_status.items())},
            "files_preview": dg.MetadataValue.md(
                preview(frame, ["entity", "file", "status", "lines", "reason"])
            ),
        }
    )


def receivables(
    context: dg.AssetExecutionContext, warehouse: Warehouse, xero: XeroClient, settings: Settings
) -> dg.MaterializeResult:
    """Sales invoices with what is still due and credit notes with their remaining credit, as the accounting
    system holds them today (paid and credited ones too: a payment quoting them is an anomaly)."""
    frames = []
    for part in day_slices(context):
        entity = settings.entity(part.entity)
        items = read_receivables(xero, entity.accounting_tenant_id, entity.id).with_columns(
            day=pl.lit(part.last), read_at=pl.lit(datetime.now(UTC)), run_id=pl.lit(context.run.run_id)
        )
        contacts = read_contact_identifiers(xero, entity.accounting_tenant_id, entity.id).with_columns(
            read_at=pl.lit(datetime.now(UTC))
        )
        with reconciliation_transaction(warehouse, entity.id) as con:
            replace_slice(
                con, "reconciliation.receivables", items, "entity = ? AND day = ?", [entity.id, part.last]
            )
            replace_slice(con, "reconciliation.contact_identifiers", contacts, "entity = ?", [entity.id])
        frames.append(items)
    items = pl.concat(frames) if frames else pl.DataFrame()
    open_items = items.filter(pl.col("amount_due") != 0) if items.height else items
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": items.height,
            "open_items": open_items.height,
            "amount_due": money_totals(open_items, "currency", "amount_due"),
        }
    )


def build_bank_statement_lines(partitions: Partitions) -> dg.AssetsDefinition:
    """`reconciliation/bank_statement_lines` over the configuration's entity-days."""
    return dg.asset(
        key=BANK_STATEMENT_LINES, kinds={"duckdb", "file"}, partitions_def=partitions.entity_day, **_INPUT
    )(bank_statement_lines)


def build_receivables(partitions: Partitions) -> dg.AssetsDefinition:
    """`reconciliation/receivables` over the configuration's entity-days."""
    return dg.asset(
        key=RECEIVABLES,
        kinds={"xero", "duckdb"},
        pool="accounting_api",
        partitions_def=partitions.entity_day,
        **_INPUT,
    )(receivables)
