"""The monthly group close: every entity's ledger export translated, the translation difference booked,
intercompany eliminated, into the group's own DuckDB file (schema `consolidation`).

It reads the entities' Parquet exports only (docs/decisions/0011). Translation rates are pinned
per month in the group file, versioned: a rerun reuses the latest version unless the run config
says `rerate_fx: true`, so a past month reproduces to the cent after a new ECB file arrives.
"""

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date

import dagster as dg
import duckdb
import polars as pl

from assets.consolidation.ledger_export import LEDGER_EXPORT
from assets.gate import CheckGate, Outcomes, Partition, blocking_checks
from assets.normalized.billable_lines import FxRerun
from assets.partitions import MonthSlice, Partitions, entity_months_to_month
from assets.reporting import preview
from checks.consolidation_schemas import GroupTotals, TranslationRates
from checks.schemas import validate
from resources.configuration import Settings
from resources.fx import EcbRates
from resources.warehouse import Warehouse, read_parquet, replace_slice
from rules.consolidation.consolidate import (
    TRANSLATION_DIFFERENCE,
    elimination_balance,
    eliminations,
    eliminations_net_to_zero,
    entity_totals,
    group_equals_entities_less_eliminations,
    group_totals,
    translate,
    translation_differences,
)
from rules.consolidation.ledger import LEDGER_SCHEMA
from rules.consolidation.translation_rates import (
    TRANSLATION_RATE_SCHEMA,
    MissingTranslationRate,
    translation_rates,
)

GROUP_CONSOLIDATION = dg.AssetKey(["consolidation", "group_consolidation"])
ELIMINATIONS_NET_TO_ZERO = "eliminations_net_to_zero"
GROUP_EQUALS_ENTITIES = "group_totals_equal_entities_less_eliminations"


def _latest_pinned(warehouse: Warehouse, period: str) -> tuple[int, pl.DataFrame]:
    """The latest version of the month's pinned rates (0 and no rows when never consolidated)."""
    pinned = warehouse.group_query(
        "SELECT * FROM consolidation.translation_rates WHERE period = ? AND snapshot_version = "
        "(SELECT max(snapshot_version) FROM consolidation.translation_rates WHERE period = ?)",
        [period, period],
    )
    version = int(pinned["snapshot_version"][0]) if pinned.height else 0
    return version, pinned


def _same_rates(rates: pl.DataFrame, pinned: pl.DataFrame) -> bool:
    """Whether `rates` are exactly the pinned version (then no new version is written)."""
    columns = TRANSLATION_RATE_SCHEMA.names()
    schema = dict(TRANSLATION_RATE_SCHEMA)
    return pinned.height == rates.height and (
        pinned.select(columns).cast(schema).sort("currency", "rate_type")  # type: ignore[arg-type]
    ).equals(rates.select(columns).cast(schema).sort("currency", "rate_type"))  # type: ignore[arg-type]


@dataclass(frozen=True)
class GroupMonth(MonthSlice):
    """A month of the group close, labelled by its period alone (the group has no entity)."""

    def label(self) -> str:
        return self.period


class GroupGate(CheckGate):
    """The gate of the group close: the group's file and its own check table, by period."""

    scope = "months"

    def _transaction(self, part: Partition) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return self.warehouse.group_transaction()

    def _record(self, con: duckdb.DuckDBPyConnection, part: Partition, outcomes: Outcomes) -> None:
        period = part.label()
        for name, (passed, detail) in outcomes.items():
            con.execute(
                "DELETE FROM consolidation.check_results WHERE period = ? AND check_name = ?", [period, name]
            )
            con.execute(
                "INSERT INTO consolidation.check_results VALUES (?, ?, ?, ?, ?, now())",
                [period, name, passed, detail, self.run_id],
            )


CHECKS = blocking_checks(
    GROUP_CONSOLIDATION,
    {
        ELIMINATIONS_NET_TO_ZERO: "Every intercompany reference has both sides and its eliminations net to zero.",
        GROUP_EQUALS_ENTITIES: "Group totals equal the sum of the entities less the eliminations; the group balances.",
    },
)


def consolidate_months(
    context: dg.AssetExecutionContext, config: FxRerun, warehouse: Warehouse, fx: EcbRates, settings: Settings
) -> Iterator[dg.MaterializeResult | dg.AssetCheckEvaluation]:
    """The month's consolidated accounts in the group reporting currency, with eliminations."""
    reporting = settings.reporting_currency
    snapshot = fx.snapshot()
    run_id = context.run.run_id
    gate = GroupGate(CHECKS, warehouse, run_id)
    metadata: dict[str, object] = {}
    for key in sorted(context.partition_keys):
        part = GroupMonth("group", date.fromisoformat(key))
        period = part.period
        paths = {e: warehouse.export_path(e, period) for e in settings.entity_ids}
        missing = sorted(e for e, p in paths.items() if not p.exists())
        if missing:
            raise dg.Failure(
                description=f"{period}: no ledger export for {', '.join(missing)}; materialize reporting/ledger_export "
                f"for {', '.join(f'{e}|{key}' for e in missing)} first"
            )
        ledger = read_parquet(list(paths.values())).select(LEDGER_SCHEMA.names()).cast(dict(LEDGER_SCHEMA))  # type: ignore[arg-type]
        currencies = sorted({e.base_currency for e in settings.entities} | set(ledger["currency"].to_list()))
        version, pinned = _latest_pinned(warehouse, period)
        try:
            rates = translation_rates(
                snapshot.rates, snapshot.label, currencies, reporting, part.month, part.month_end,
                None if config.rerate_fx else pinned, settings.fx_max_rate_age_days,
            )  # fmt: skip
            translated = translate(ledger, rates, reporting)
        except MissingTranslationRate as error:
            raise dg.Failure(description=f"{period}: {error}") from error
        new_version = version if _same_rates(rates, pinned) else version + 1
        differences = translation_differences(translated, settings.entity_ids, reporting)
        elims = eliminations(translated)
        balance = elimination_balance(elims)
        totals = entity_totals(translated, differences)
        group = group_totals(totals, elims)
        outcomes = {
            ELIMINATIONS_NET_TO_ZERO: eliminations_net_to_zero(balance),
            GROUP_EQUALS_ENTITIES: group_equals_entities_less_eliminations(
                translated, differences, elims, group
            ),
        }
        if not gate.admit(part, outcomes):
            yield from gate.stop()
        stamp = [pl.lit(period).alias("period"), pl.lit(run_id).alias("run_id")]
        where, params = "period = ?", [period]
        with gate.transaction(part) as con:
            if new_version != version:
                pinned_rows = rates.with_columns(
                    pl.lit(new_version, pl.Int64).alias("snapshot_version"),
                    pl.lit(run_id).alias("pinned_by_run"),
                )
                replace_slice(
                    con, "consolidation.translation_rates", validate(TranslationRates, pinned_rows.select(
                        list(TranslationRates.to_schema().columns))), "period = ? AND snapshot_version = ?",
                    [period, new_version],
                )  # fmt: skip
            replace_slice(
                con, "consolidation.entity_lines",
                translated.with_columns(pl.lit(new_version).alias("snapshot_version"), pl.lit(run_id).alias("run_id")),
                where, params,
            )  # fmt: skip
            replace_slice(
                con, "consolidation.translation_differences", differences.with_columns(stamp), where, params
            )
            replace_slice(
                con,
                "consolidation.eliminations",
                elims.with_columns(pl.lit(run_id).alias("run_id")),
                where,
                params,
            )
            group_rows = group.with_columns(*stamp, pl.lit(reporting).alias("reporting_currency"))
            group_rows = validate(GroupTotals, group_rows.select(list(GroupTotals.to_schema().columns)))
            replace_slice(con, "consolidation.group_totals", group_rows, where, params)
        per_entity = totals.pivot(on="line_item", index="entity", values="amount_reporting").sort("entity")
        metadata[period] = dg.MetadataValue.md(
            f"**{period} in {reporting}** (rates version {new_version})\n\n"
            + preview(
                group, ["statement", "line_item", "entities_total", "eliminations", "group_total"], rows=50
            )
            + "\n\n**Per entity**\n\n"
            + preview(per_entity, per_entity.columns, rows=50)
        )
        metadata[f"{period} translation_difference"] = str(differences[TRANSLATION_DIFFERENCE].sum())
        metadata[f"{period} eliminations"] = str(elims["amount_reporting"].sum()) if elims.height else "0"
        metadata[f"{period} rates"] = dg.MetadataValue.md(
            preview(
                rates, ["currency", "rate_type", "rate", "rate_date_from", "rate_date_to", "note"], rows=50
            )
        )
    yield dg.MaterializeResult(
        check_results=gate.results(),
        metadata={"reporting_currency": reporting, **metadata},  # type: ignore[dict-item]
    )


def build_group_consolidation(partitions: Partitions) -> dg.AssetsDefinition:
    """`consolidation/group_consolidation` over the group's months."""
    return dg.asset(
        key=GROUP_CONSOLIDATION,
        deps=[dg.AssetDep(LEDGER_EXPORT, partition_mapping=entity_months_to_month)],
        partitions_def=partitions.month,
        backfill_policy=dg.BackfillPolicy.single_run(),
        check_specs=CHECKS,
        kinds={"polars", "duckdb", "parquet"},
        group_name="consolidation",
        # Closes a month once every entity has exported it, again when one re-exports (corrections):
        # evaluated by the `group_close` automation sensor, stopped until an operator starts it.
        automation_condition=dg.AutomationCondition.eager(),
        owners=["team:data"],
    )(consolidate_months)
