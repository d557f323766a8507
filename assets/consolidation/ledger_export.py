"""The entity-month ledger export: what consolidation needs of one entity, as a Parquet file.

It reads only the entity's own file and writes `exports/ledger/<entity>/<YYYY-MM>/ledger.parquet`
atomically (temporary file, then rename). The group close reads these files, never an entity's
DuckDB file, so neither ever waits for the other's lock (docs/decisions/0011).
"""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from assets.gate import CheckGate, blocking_checks
from assets.partitions import Partitions, days_to_month, month_slices
from assets.reporting import money_totals, preview
from checks.consolidation_schemas import LedgerExport
from checks.schemas import validate
from resources.configuration import Settings
from resources.warehouse import Warehouse, write_parquet_atomically
from rules.consolidation.ledger import CHARGE_COLUMNS, entity_ledger, ledger_balances

LEDGER_EXPORT = dg.AssetKey(["reporting", "ledger_export"])
LEDGER_BALANCES = "ledger_result_equals_net_assets"


CHECKS = blocking_checks(
    LEDGER_EXPORT,
    {LEDGER_BALANCES: "Per currency, the month's income less expense equals its assets less liabilities."},
)


def export_months(
    context: dg.AssetExecutionContext, warehouse: Warehouse, settings: Settings
) -> Iterator[dg.MaterializeResult | dg.AssetCheckEvaluation]:
    """Revenue, direct cost, receivables, tax and intercompany rows of an entity-month, exported for the group."""
    gate = CheckGate(CHECKS, warehouse, context.run.run_id)
    homes = {p.pm_user_id: p.home_entity for p in settings.mapping.people}
    exported: list[pl.DataFrame] = []
    for part in month_slices(context):
        with warehouse.held(part.entity):  # the month's reads and writes share one open of the file
            period_params = [part.entity, part.period]
            with warehouse.connect(part.entity) as con:
                invoices = con.sql(
                    "SELECT * FROM billing.invoice_drafts WHERE entity = ? AND period = ?",
                    params=period_params,
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
            if not gate.admit(part, {LEDGER_BALANCES: ledger_balances(ledger)}):
                yield from gate.stop()
            # The outcome commits only once the file is in place (written atomically).
            with gate.transaction(part):
                write_parquet_atomically(ledger, warehouse.export_path(part.entity, part.period))
            exported.append(ledger)
    ledger = pl.concat(exported)
    yield dg.MaterializeResult(
        check_results=gate.results(),
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
        },
    )


def build_ledger_export(partitions: Partitions) -> dg.AssetsDefinition:
    """`reporting/ledger_export` over the configuration's entity-months."""
    return dg.asset(
        key=LEDGER_EXPORT,
        deps=[
            dg.AssetDep(["billing", "invoice_drafts"]),
            dg.AssetDep(["billing", "intercompany_charges"]),
            dg.AssetDep(["normalized", "billable_lines"], partition_mapping=days_to_month),
        ],
        partitions_def=partitions.entity_month,
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=CHECKS,
        kinds={"polars", "duckdb", "parquet"},
        group_name="reporting",
        owners=["team:data"],
    )(export_months)
