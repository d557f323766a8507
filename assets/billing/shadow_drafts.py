"""`billing/shadow_drafts`: an entity-month drafted again with the rules in shadow, and what would change.

The same normalized lines, pinned rates and retainer openings as the real drafts (month_lines, month_context)
are drafted with the serving rules and with the shadow rules (rules/billing/shadow.py); the
shadow drafts and every figure that differs are written to the shadow tables only. Nothing here
writes a real draft or the outbox, so a shadow is never posted (decision 0039). An entity-month
whose candidate is off has its shadow rows cleared, so no stale difference is ever reported.
"""

import dagster as dg
import polars as pl

from assets.billing.invoice_drafts import INVOICE_DRAFTS, month_context, month_lines
from assets.normalized.billable_lines import BILLABLE_LINES
from assets.partitions import MonthSlice, Partitions, days_to_month, month_slices
from assets.reporting import money_totals, preview
from checks.schemas import ShadowDifferences, ShadowInvoiceDraftLines, ShadowInvoiceDrafts, validate
from resources.configuration import Settings
from resources.fx import EcbRates
from resources.warehouse import Warehouse, replace_slice
from rules.billing.drafting import draft_invoices
from rules.billing.shadow import DIFFERENCE_COLUMNS, RuleVersions, draft_differences, rule_versions
from rules.fx_rates import FxSnapshot
from rules.schemas.catalog import table

SHADOW_DRAFTS = dg.AssetKey(["billing", "shadow_drafts"])
SHADOW_TABLES = (
    "billing.shadow_invoice_drafts",
    "billing.shadow_invoice_draft_lines",
    "billing.shadow_differences",
)


def _shadow_month(
    warehouse: Warehouse, settings: Settings, part: MonthSlice, snapshot: FxSnapshot, run_id: str
) -> pl.DataFrame | None:
    """Draft one entity-month both ways and store the shadow; its differences (None: no candidate on)."""
    versions: RuleVersions = rule_versions(settings, part.entity)
    where, params = "entity = ? AND period = ?", [part.entity, part.period]
    if versions.shadow is None:
        with warehouse.transaction(part.entity) as con:
            for table in SHADOW_TABLES:
                con.execute(f"DELETE FROM {table} WHERE {where}", params)
        return None
    lines, drafting = month_lines(warehouse, part), month_context(warehouse, settings, part, snapshot, run_id)
    serving = draft_invoices(lines, drafting, versions.serving)
    shadow = draft_invoices(lines, drafting, versions.shadow)
    invoices = validate(ShadowInvoiceDrafts, shadow.invoices)
    shadow_lines = validate(ShadowInvoiceDraftLines, shadow.lines)
    differences = validate(
        ShadowDifferences,
        draft_differences(serving, shadow).with_columns(
            pl.lit(part.entity).alias("entity"),
            pl.lit(part.period).alias("period"),
            pl.lit(versions.serving.rule_set_version).alias("serving_version"),
            pl.lit(versions.shadow.rule_set_version).alias("shadow_version"),
            pl.lit(run_id).alias("run_id"),
        ),
    )
    with warehouse.transaction(part.entity) as con:
        replace_slice(con, "billing.shadow_invoice_drafts", invoices, where, params)
        replace_slice(con, "billing.shadow_invoice_draft_lines", shadow_lines, where, params)
        replace_slice(con, "billing.shadow_differences", differences, where, params)
    return differences


def shadow_months(
    context: dg.AssetExecutionContext, warehouse: Warehouse, fx: EcbRates, settings: Settings
) -> dg.MaterializeResult:
    """Each entity-month drafted with its candidate rules beside the serving ones, never posted."""
    snapshot = fx.snapshot()
    found = {
        part.label(): _shadow_month(warehouse, settings, part, snapshot, context.run.run_id)
        for part in month_slices(context)
    }
    drafted = [frame for frame in found.values() if frame is not None]
    differences = pl.concat(drafted) if drafted else table("billing.shadow_differences").empty()
    invoice_figures = differences.filter(pl.col("line_no").is_null())
    return dg.MaterializeResult(
        metadata={
            "partitions_shadowed": dg.MetadataValue.int(len(drafted)),
            "partitions_without_candidate": dg.MetadataValue.int(len(found) - len(drafted)),
            "changed_figures": dg.MetadataValue.int(differences.height),
            "changed_invoices": dg.MetadataValue.int(differences["invoice_number"].n_unique()),
            "total_difference": money_totals(
                invoice_figures.filter(pl.col("figure") == "total"), "currency", "difference"
            ),
            "preview": dg.MetadataValue.md(preview(differences, list(DIFFERENCE_COLUMNS), rows=20)),
        }
    )


def build_shadow_drafts(partitions: Partitions) -> dg.AssetsDefinition:
    """`billing/shadow_drafts` over the configuration's entity-months (its own group: never in a posting job)."""
    return dg.asset(
        key=SHADOW_DRAFTS,
        deps=[dg.AssetDep(BILLABLE_LINES, partition_mapping=days_to_month), INVOICE_DRAFTS],
        partitions_def=partitions.entity_month,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"polars", "duckdb"},
        group_name="shadow",
        owners=["team:data"],
    )(shadow_months)
