"""The normalized layer's asset: priced billable lines and the quarantine, per entity-day."""

import dagster as dg
import polars as pl

from assets.partitions import day_slices, entity_day_partitions
from assets.raw.pm_extracts import pm_extracts
from assets.reporting import money_totals, preview
from checks.schemas import BillableLines, Quarantine, validate
from resources.configuration import current_config
from resources.fx import EcbRates
from resources.warehouse import Warehouse, pin_rates, pinned_rates, replace_slice
from rules.normalizing import normalize_lines

_DAYS_WHERE = "entity = ? AND day IN (SELECT unnest(?::DATE[]))"


class FxRerun(dg.Config):
    """Run config: re-rate the run's days from the current ECB rates instead of the pinned ones."""

    rerate_fx: bool = False


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            ["normalized", "billable_lines"],
            deps=[k for k in pm_extracts.keys],
            description="Time and expense lines, typed, priced and converted, each traceable to its PM record.",
            kinds={"polars", "duckdb"},
            group_name="normalized",
            owners=["team:data"],
        ),
        dg.AssetSpec(
            ["normalized", "quarantine"],
            deps=[k for k in pm_extracts.keys],
            description="PM records held back from billing, with the rule that rejected each.",
            kinds={"polars", "duckdb"},
            group_name="normalized",
            owners=["team:data"],
        ),
    ],
    partitions_def=entity_day_partitions,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def billable_lines(context: dg.AssetExecutionContext, config: FxRerun, warehouse: Warehouse, fx: EcbRates):  # type: ignore[no-untyped-def]
    """Type and price the raw records of the run's entity-days; bad records go to quarantine, the rest proceed."""
    settings = current_config()
    snapshot = fx.snapshot()
    all_lines, all_quarantine = [], []
    for part in day_slices(context):
        entity = settings.entity(part.entity)
        days = [d.isoformat() for d in part.days]
        raw_time = warehouse.query(
            part.entity, f"SELECT * FROM raw.time_entries WHERE {_DAYS_WHERE}", [part.entity, days]
        )
        raw_expenses = warehouse.query(
            part.entity, f"SELECT * FROM raw.expenses WHERE {_DAYS_WHERE}", [part.entity, days]
        )
        directory = warehouse.query(
            part.entity, "SELECT kind, payload FROM raw.directory WHERE entity = ?", [part.entity]
        )
        # Rerunning days reuses the rates they were first priced with, unless the run re-rates.
        pinned = None if config.rerate_fx else pinned_rates(warehouse, part.entity, days)
        result = normalize_lines(
            raw_time, raw_expenses, directory, entity, settings, snapshot, context.run.run_id, pinned
        )
        # The write gate: nothing reaches the table unless every row passes the schema.
        lines = validate(BillableLines, result.lines)
        quarantine = validate(Quarantine, result.quarantine)
        with warehouse.transaction(part.entity) as con:
            replace_slice(con, "normalized.billable_lines", lines, _DAYS_WHERE, [part.entity, days])
            replace_slice(con, "normalized.quarantine", quarantine, _DAYS_WHERE, [part.entity, days])
            pin_rates(con, part.entity, result.rates_used, context.run.run_id)
        all_lines.append(lines)
        all_quarantine.append(quarantine)
    lines = pl.concat(all_lines) if all_lines else pl.DataFrame()
    quarantine = pl.concat(all_quarantine) if all_quarantine else pl.DataFrame()
    billable = lines.filter(pl.col("billable")) if lines.height else lines
    reasons = (
        dict(quarantine.group_by("reason").len().sort("reason").iter_rows()) if quarantine.height else {}
    )
    yield dg.MaterializeResult(
        asset_key=["normalized", "billable_lines"],
        metadata={
            "dagster/row_count": lines.height,
            "billable_lines": billable.height,
            "billable_hours": str(billable.filter(pl.col("source_kind") == "time")["quantity"].sum())
            if billable.height
            else "0",
            "awaiting_approval": int(billable.filter(~pl.col("approved")).height) if billable.height else 0,
            "totals_txn": money_totals(billable, "txn_currency", "amount_txn"),
            "totals_base": money_totals(billable, "base_currency", "amount_base"),
            "fx_source": snapshot.label,
            "rule_set_version": settings.rule_set_version,
            "preview": dg.MetadataValue.md(
                preview(
                    billable,
                    [
                        "line_id",
                        "day",
                        "project_name",
                        "quantity",
                        "unit_price",
                        "amount_txn",
                        "txn_currency",
                    ],
                )
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key=["normalized", "quarantine"],
        metadata={"dagster/row_count": quarantine.height, "quarantined_by_reason": reasons},
    )
