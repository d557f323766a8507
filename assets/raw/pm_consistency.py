"""The consistency check of an entity-month: list the month in the PM system again, log what was
missed, changed or deleted (tombstones), and compare the PM system, the warehouse and the ledger.

Tombstones and new versions change the month's raw records; the days they touch are named in the
metadata (`changes`), and the consistency sensor (pipelines/consistency.py) re-normalizes them, so a
deletion reaches billing and corrections like any other change.
"""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import dagster as dg
import polars as pl

from assets.partitions import MonthSlice, Partitions, month_slices
from resources.configuration import Settings
from resources.harvest import HarvestClient
from resources.raw_extraction import extract_list
from resources.warehouse import Warehouse, record_checks, replace_slice
from rules.consistency import ConsistencyReport, ListingOutcome, compare_month
from rules.raw_slices import ExtractionScope
from rules.routing import EntityRoutes
from rules.schemas.catalog import table

PM_CONSISTENCY = dg.AssetKey(["quality", "pm_consistency"])
PM_CONSISTENT = "pm_consistent"
_MONTH = "entity = ? AND day BETWEEN ? AND ?"


def _days(part: MonthSlice, today: datetime) -> tuple[date, ...]:
    last = min(part.month_end, today.date())
    return tuple(part.month + timedelta(days=i) for i in range((last - part.month).days + 1))


def _current(warehouse: Warehouse, part: MonthSlice) -> pl.DataFrame:
    return warehouse.query(
        part.entity,
        f"SELECT 'time-' || record_id AS line_id, TRY_CAST(json_extract_string(payload, '$.hours') AS DECIMAL(18,4)) AS hours, "
        f"0::DECIMAL(18,4) AS amount FROM raw.time_entries WHERE {_MONTH} UNION ALL "
        f"SELECT 'expense-' || record_id, 0::DECIMAL(18,4), TRY_CAST(json_extract_string(payload, '$.total_cost') "
        f"AS DECIMAL(18,4)) FROM raw.expenses WHERE {_MONTH}",
        [part.entity, part.month, part.month_end] * 2,
    )


def _ledger(warehouse: Warehouse, part: MonthSlice) -> tuple[list[str], Decimal]:
    ids = warehouse.query(
        part.entity,
        "SELECT DISTINCT s.line_id FROM billing.invoice_line_sources AS s JOIN posting.outbox AS o "
        "ON o.document_number = s.invoice_number WHERE o.status = 'confirmed' AND s.entity = ? AND s.period = ?",
        [part.entity, part.period],
    )["line_id"].to_list()
    hours = warehouse.query(
        part.entity,
        "SELECT coalesce(sum(CASE WHEN document_kind = 'credit_note' THEN -quantity ELSE quantity END), 0) AS h "
        "FROM posting.posted_lines WHERE entity = ? AND period = ? AND source_kind = 'time'",
        [part.entity, part.period],
    )["h"][0]
    return ids, Decimal(str(hours))


def _changes(warehouse: Warehouse, entity: str, run_id: str) -> list[dict[str, Any]]:
    """Each record version this run logged, with the day it left (if it moved) as well as its day."""
    rows = warehouse.query(
        entity,
        "SELECT v.kind, v.record_id, v.version, coalesce(v.payload_hash, 'deleted') AS hash, "
        "coalesce(v.day, p.day)::VARCHAR AS day, p.day::VARCHAR AS previous_day FROM raw.record_versions AS v "
        "LEFT JOIN raw.record_versions AS p ON p.entity = v.entity AND p.kind = v.kind AND p.record_id = v.record_id "
        "AND p.version = v.version - 1 WHERE v.entity = ? AND v.run_id = ? AND v.kind IN ('time_entries', 'expenses')",
        [entity, run_id],
    )
    return rows.to_dicts()


def _row(report: ConsistencyReport, run_id: str) -> pl.DataFrame:
    """The report as its quality.pm_consistency row."""
    listing = report.listing
    row = {
        "entity": report.entity, "period": report.period, "pm_records": report.pm_records,
        "pm_hours": report.pm_hours, "pm_expense_total": report.pm_expense_total,
        "missed_or_changed": listing.new_versions, "tombstones": listing.tombstones, "rejected": listing.rejected,
        "ledger_records": report.ledger_records, "ledger_hours": report.ledger_hours,
        "billed_but_gone": len(report.billed_but_gone), "consistent": report.consistent, "detail": report.detail(),
        "checked_at": datetime.now(UTC), "run_id": run_id,
    }  # fmt: skip
    return pl.DataFrame([row], schema=table("quality.pm_consistency").polars_schema())


def check_month(
    harvest: HarvestClient, warehouse: Warehouse, part: MonthSlice, run_id: str, routes: EntityRoutes
) -> tuple[ConsistencyReport, list[dict[str, Any]]]:
    """Re-list the month, then compare; returns the report and the record versions logged."""
    now = datetime.now(UTC)
    counts = [
        extract_list(
            harvest, warehouse, ExtractionScope(part.entity, kind, _days(part, now), run_id, now), routes
        )
        for kind in ("time_entries", "expenses")
    ]
    listing = ListingOutcome(
        new_versions=sum(c.new_versions for c in counts),
        tombstones=sum(c.tombstones for c in counts),
        rejected=sum(c.rejected_records + c.rejected_pages for c in counts),
    )
    ledger_ids, ledger_hours = _ledger(warehouse, part)
    report = compare_month(
        part.entity, part.period, listing, _current(warehouse, part), ledger_ids, ledger_hours
    )
    with warehouse.transaction(part.entity) as con:
        where = "entity = ? AND period = ?"
        replace_slice(con, "quality.pm_consistency", _row(report, run_id), where, [part.entity, part.period])
        record_checks(
            con, entity=part.entity, asset=PM_CONSISTENCY.to_user_string(), partition=part.label(),
            outcomes={PM_CONSISTENT: (report.consistent, report.detail())}, run_id=run_id,
        )  # fmt: skip
    return report, _changes(warehouse, part.entity, run_id)


def check_consistency(
    context: dg.AssetExecutionContext, harvest: HarvestClient, warehouse: Warehouse, settings: Settings
) -> dg.MaterializeResult:
    """Eventual consistency, proven: the PM system's month against the warehouse and the ledger."""
    routes = EntityRoutes.from_config(settings)
    reports, changes = [], []
    for part in month_slices(context):
        report, logged = check_month(harvest, warehouse, part, context.run.run_id, routes)
        reports.append(report)
        changes += [{**c, "entity": part.entity} for c in logged]
    return dg.MaterializeResult(
        metadata={
            "tombstones": sum(r.listing.tombstones for r in reports),
            "missed_or_changed": sum(r.listing.new_versions for r in reports),
            "billed_but_gone": sum(len(r.billed_but_gone) for r in reports),
            "comparison": dg.MetadataValue.md("\n\n".join(r.markdown() for r in reports)),
            "changes": dg.MetadataValue.json(changes),
        },
        check_results=[
            dg.AssetCheckResult(
                check_name=PM_CONSISTENT,
                passed=all(r.consistent for r in reports),
                severity=dg.AssetCheckSeverity.WARN,
                metadata={"detail": "; ".join(r.detail() for r in reports)},
            )
        ],
    )


def build_pm_consistency(partitions: Partitions) -> dg.AssetsDefinition:
    """`consistency/pm_consistency` over the configuration's entity-months."""
    return dg.asset(
        key=PM_CONSISTENCY,
        partitions_def=partitions.entity_month,
        group_name="consistency",
        kinds={"duckdb"},
        owners=["team:data"],
        pool="pm_api",
        check_specs=[
            dg.AssetCheckSpec(
                PM_CONSISTENT,
                asset=PM_CONSISTENCY,
                description="The month's PM records, raw records and billed records agree (nothing missed, changed or deleted).",
            )
        ],
    )(check_consistency)
