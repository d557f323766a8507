"""The normalized layer's asset: priced billable lines and the quarantine, per entity-day."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import dagster as dg
import polars as pl

from assets.gate import CheckGate, blocking_checks, conforms
from assets.normalized.summary import LinesSummary
from assets.partitions import DaySlice, Partitions, day_slices, day_windows
from assets.raw.pm_extracts import RAW_KEYS
from assets.tracing import traced_step
from checks.schemas import BillableLines, Quarantine
from resources.configuration import Settings
from resources.fx import EcbRates
from resources.raw_store import priced_directory
from resources.warehouse import Warehouse, pin_rates, pinned_rates, replace_slice
from rules.fx_rates import FxSnapshot
from rules.normalizing import NormalizedResult, normalize_lines

_DAYS_WHERE = "entity = ? AND day IN (SELECT unnest(?::DATE[]))"


class FxRerun(dg.Config):
    """Run config: re-rate the run's days from the current ECB rates instead of the pinned ones."""

    rerate_fx: bool = False


# A window of about this many raw records peaks near 0.5 GiB while normalized, validated and written.
WINDOW_RECORDS = 200_000


class NormalizeRun(FxRerun):
    """Run config of the normalize step: `window_records` bounds the raw records held at once
    (whole days, decision 0043), so a year's backfill needs the memory of a window, not of the year."""

    window_records: int = WINDOW_RECORDS


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
    context: dg.AssetExecutionContext,
    config: NormalizeRun,
    warehouse: Warehouse,
    fx: EcbRates,
    settings: Settings,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckEvaluation]:
    """Type and price the raw records of the run's entity-days; bad records go to quarantine, the rest proceed.

    The days are read, priced, gated and written window by window (`day_windows`): each window
    commits on its own, and only its counts and totals outlive it (LinesSummary).
    """
    snapshot = fx.snapshot()
    gate = CheckGate(CHECKS, warehouse, context.run.run_id)
    summary = LinesSummary()
    pricing = _Pricing(context, config, warehouse, settings, snapshot)
    for part in day_slices(context):
        directory = priced_directory(warehouse, part.entity)
        for window in day_windows(part, _records_by_day(warehouse, part), config.window_records):
            with warehouse.held(window.entity):  # the window's reads and writes share one open of the file
                result = pricing.window(window, directory)
                # The write gate: nothing reaches the tables unless every row passes the schema.
                outcomes = {
                    "billable_lines_match_schema": conforms(BillableLines, result.lines),
                    "quarantine_matches_schema": conforms(Quarantine, result.quarantine),
                }
                if not gate.admit(window, outcomes):
                    yield from gate.stop()
                days = _iso(window)
                with gate.transaction(window) as con:
                    replace_slice(
                        con, "normalized.billable_lines", result.lines, _DAYS_WHERE, [window.entity, days]
                    )
                    replace_slice(
                        con, "normalized.quarantine", result.quarantine, _DAYS_WHERE, [window.entity, days]
                    )
                    pin_rates(con, window.entity, result.rates_used, context.run.run_id)
                summary.add(result.lines, result.quarantine)
    yield dg.MaterializeResult(
        asset_key=BILLABLE_LINES,
        check_results=gate.results(BILLABLE_LINES),
        metadata={
            **summary.lines_metadata(),
            "fx_source": snapshot.label,
            "rule_set_version": settings.rule_set_version,
        },
    )
    yield dg.MaterializeResult(
        asset_key=QUARANTINE,
        check_results=gate.results(QUARANTINE),
        metadata=summary.quarantine_metadata(),
    )


def _iso(window: DaySlice) -> list[str]:
    return [d.isoformat() for d in window.days]


def _records_by_day(warehouse: Warehouse, part: DaySlice) -> dict[date, int]:
    """How many raw time entries and expenses each of `part`'s days holds (what sizes its windows)."""
    counts = warehouse.query(
        part.entity,
        f"SELECT day, count(*) AS n FROM (SELECT day FROM raw.time_entries WHERE {_DAYS_WHERE} "
        f"UNION ALL SELECT day FROM raw.expenses WHERE {_DAYS_WHERE}) GROUP BY day",
        [part.entity, _iso(part)] * 2,
    )
    return dict(counts.iter_rows())


@dataclass(frozen=True)
class _Pricing:
    """What pricing a window needs from the run: its config, resources and one rate snapshot."""

    context: dg.AssetExecutionContext
    config: NormalizeRun
    warehouse: Warehouse
    settings: Settings
    snapshot: FxSnapshot

    def window(self, window: DaySlice, directory: pl.DataFrame) -> NormalizedResult:
        """One window's raw records, read from the warehouse and priced."""
        entity, days, warehouse = window.entity, _iso(window), self.warehouse
        raw_time = warehouse.query(
            entity, f"SELECT * FROM raw.time_entries WHERE {_DAYS_WHERE}", [entity, days]
        )
        raw_expenses = warehouse.query(
            entity, f"SELECT * FROM raw.expenses WHERE {_DAYS_WHERE}", [entity, days]
        )
        # Rerunning days reuses the rates they were first priced with, unless the run re-rates.
        pinned = None if self.config.rerate_fx else pinned_rates(warehouse, entity, days)
        run_id = self.context.run.run_id
        with traced_step(self.context, warehouse, self.settings, "pricing", window) as step:
            result = normalize_lines(
                raw_time,
                raw_expenses,
                directory,
                self.settings.entity(entity),
                self.settings,
                self.snapshot,
                run_id,
                pinned,
            )
            step.set_attribute("billbridge.lines", result.lines.height)
            step.set_attribute("billbridge.quarantined", result.quarantine.height)
        return result


def build_billable_lines(partitions: Partitions) -> dg.AssetsDefinition:
    """`normalized/billable_lines` and `normalized/quarantine` over the configuration's entity-days."""
    return dg.multi_asset(
        name="billable_lines",
        specs=SPECS,
        check_specs=CHECKS,
        partitions_def=partitions.entity_day,
        backfill_policy=dg.BackfillPolicy.single_run(),
    )(normalize_days)
