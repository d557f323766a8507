"""The entity-month ledger export: what consolidation needs of one entity, as a Parquet file.

It reads only the entity's own file and writes `exports/ledger/<entity>/<YYYY-MM>/ledger.parquet`
atomically (temporary file, then rename). The group close reads these files, never an entity's
DuckDB file, so neither ever waits for the other's lock (docs/decisions/0011).
"""

import dagster as dg
import polars as pl

from assets.partitions import days_to_month, entity_month_partitions, month_slices
from assets.reporting import check_results, money_totals, preview
from checks.consolidation_schemas import LedgerExport
from checks.schemas import validate
from resources.configuration import current_config
from resources.warehouse import Warehouse, record_checks, write_parquet_atomically
from rules.consolidation.ledger import CHARGE_COLUMNS, entity_ledger, ledger_balances

LEDGER_EXPORT = dg.AssetKey(["reporting", "ledger_export"])
LEDGER_BALANCES = "ledger_result_equals_net_assets"


@dg.asset(
    key=LEDGER_EXPORT,
    deps=[
        dg.AssetDep(["billing", "invoice_drafts"]),
        dg.AssetDep(["billing", "intercompany_charges"]),
        dg.AssetDep(["normalized", "billable_lines"], partition_mapping=days_to_month),
    ],
    partitions_def=entity_month_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[
        dg.AssetCheckSpec(
            LEDGER_BALANCES,
            asset=LEDGER_EXPORT,
            blocking=True,
            description="Per currency, the month's income less expense equals its assets less liabilities.",
        )
    ],
    kinds={"polars", "duckdb", "parquet"},
    group_name="reporting",
    owners=["team:data"],
)
def ledger_export(context: dg.AssetExecutionContext, warehouse: Warehouse):  # type: ignore[no-untyped-def]
    """Revenue, direct cost, receivables, tax and intercompany rows of an entity-month, exported for the group."""
    settings = current_config()
    homes = {p.pm_user_id: p.home_entity for p in settings.mapping.people}
    exported: list[pl.DataFrame] = []
    outcomes_all: list[tuple[bool, str]] = []
    for part in month_slices(context):
        period_params = [part.entity, part.period]
        with warehouse.connect(part.entity) as con:
            invoices = con.sql(
                "SELECT * FROM billing.invoice_drafts WHERE entity = ? AND period = ?", params=period_params
            ).pl()
            invoice_lines = con.sql(
                "SELECT invoice_number, line_amount, tax_amount, account_code FROM billing.invoice_draft_lines "
                "WHERE entity = ? AND period = ?",
                params=period_params,
            ).pl()
            lines = con.sql(
                "SELECT source_kind, person_id, contact_name, base_currency, amount_cost_base "
                "FROM normalized.billable_lines WHERE entity = ? AND day BETWEEN ? AND ?",
                params=[part.entity, part.month, part.month_end],
            ).pl()
            # Each side lives in its own ledger: the sale in the seller's file, the purchase in the buyer's.
            charges = con.sql(
                f"SELECT {', '.join(CHARGE_COLUMNS)} FROM billing.intercompany_charges WHERE period = ? AND "
                "((side = 'sale' AND seller_entity = ?) OR (side = 'purchase' AND buyer_entity = ?))",
                params=[part.period, part.entity, part.entity],
            ).pl()
        ledger = entity_ledger(
            entity=part.entity, period=part.period, invoices=invoices, invoice_lines=invoice_lines,
            lines=lines, charges=charges, homes=homes, run_id=context.run.run_id,
        )  # fmt: skip
        ledger = validate(LedgerExport, ledger)
        balanced = ledger_balances(ledger)
        outcomes_all.append(balanced)
        with warehouse.transaction(part.entity) as con:
            record_checks(
                con, entity=part.entity, asset="reporting/ledger_export", partition=part.label(),
                outcomes={LEDGER_BALANCES: balanced}, run_id=context.run.run_id,
            )  # fmt: skip
        if not balanced[0]:
            raise dg.Failure(
                description=f"{part.label()}: the ledger export does not balance; nothing written",
                metadata={LEDGER_BALANCES: balanced[1]},
            )
        write_parquet_atomically(ledger, warehouse.export_path(part.entity, part.period))
        exported.append(ledger)
    ledger = pl.concat(exported)
    yield from check_results(LEDGER_EXPORT, {LEDGER_BALANCES: outcomes_all})
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": ledger.height,
            "files": ", ".join(str(warehouse.export_path(s.entity, s.period)) for s in month_slices(context)),
            "income": money_totals(ledger.filter(pl.col("statement") == "income"), "currency", "amount"),
            "expense": money_totals(ledger.filter(pl.col("statement") == "expense"), "currency", "amount"),
            "preview": dg.MetadataValue.md(
                preview(
                    ledger,
                    ["entity", "period", "statement", "line_item", "contact_name", "currency", "amount"],
                )
            ),
        }
    )
