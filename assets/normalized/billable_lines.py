"""The normalized layer's asset: priced billable lines and the quarantine, per entity-day."""

from collections.abc import Iterator

import dagster as dg
import polars as pl

from assets.gate import CheckGate, blocking_checks, conforms
from assets.partitions import Partitions, day_slices
from assets.raw.pm_extracts import RAW_KEYS
from assets.reporting import money_totals, preview
from assets.tracing import traced_step
from checks.schemas import BillableLines, Quarantine
from resources.configuration import Settings
from resources.fx import EcbRates
from resources.warehouse import Warehouse, pin_rates, pinned_rates, replace_slice
from rules.normalizing import normalize_lines

_DAYS_WHERE = "entity = ? AND day IN (SELECT unnest(?::DATE[]))"


class FxRerun(dg.Config):
    """Run config: re-rate the run's days from the current ECB rates instead of the pinned ones."""

    rerate_fx: bool = False


BILLABLE_LINES = dg.AssetKey(["normalized", "billable_lines"])
QUARANTINE = dg.AssetKey(["normalized", "quarantine"])
SPECS = [
    dg.AssetSpec(
        BILLABLE_LINES,
        deps=RAW_KEYS,
        description="Time and expense lines, typed, priced and converted, each traceable to its PM record.",
        kinds={"polars", "duckdb"},
        group_name="normalized",
        owners=["team:data"],
    ),
    dg.AssetSpec(
        QUARANTINE,
        deps=RAW_KEYS,
        description="PM records held back from billing, with the rule that rejected each.",
        kinds={"polars", "duckdb"},
        group_name="normalized",
        owners=["team:data"],
    ),
]
# The schema gate as checks, so a frame that fails it shows on its asset with the failing columns.
CHECKS = [
    *blocking_checks(
        BILLABLE_LINES,
        {
            "billable_lines_match_schema": "Every line has exactly the declared columns and types (money as exact decimals)."
        },
    ),
    *blocking_checks(
        QUARANTINE,
        {
            "quarantine_matches_schema": "Every quarantined record has exactly the declared columns and a reason."
        },
    ),
]


def normalize_days(
    context: dg.AssetExecutionContext, config: FxRerun, warehouse: Warehouse, fx: EcbRates, settings: Settings
) -> Iterator[dg.MaterializeResult | dg.AssetCheckEvaluation]:
    """Type and price the raw records of the run's entity-days; bad records go to quarantine, the rest proceed."""
    snapshot = fx.snapshot()
    gate = CheckGate(CHECKS, warehouse, context.run.run_id)
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
        with traced_step(context, warehouse, settings, "pricing", part) as step:
            result = normalize_lines(
                raw_time, raw_expenses, directory, entity, settings, snapshot, context.run.run_id, pinned
            )
            step.set_attribute("billbridge.lines", result.lines.height)
            step.set_attribute("billbridge.quarantined", result.quarantine.height)
        lines, quarantine = result.lines, result.quarantine
        # The write gate: nothing reaches the tables unless every row passes the schema.
        outcomes = {
            "billable_lines_match_schema": conforms(BillableLines, lines),
            "quarantine_matches_schema": conforms(Quarantine, quarantine),
        }
        if not gate.admit(part, outcomes):
            yield from gate.stop()
        with gate.transaction(part) as con:
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
        asset_key=BILLABLE_LINES,
        check_results=gate.results(BILLABLE_LINES),
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
        asset_key=QUARANTINE,
        check_results=gate.results(QUARANTINE),
        metadata={"dagster/row_count": quarantine.height, "quarantined_by_reason": reasons},
    )


def build_billable_lines(partitions: Partitions) -> dg.AssetsDefinition:
    """`normalized/billable_lines` and `normalized/quarantine` over the configuration's entity-days."""
    return dg.multi_asset(
        name="billable_lines",
        specs=SPECS,
        check_specs=CHECKS,
        partitions_def=partitions.entity_day,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )(normalize_days)
