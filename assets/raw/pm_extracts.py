"""Extract time entries, expenses and the PM directory for an entity's days, as sent."""

from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import dagster as dg
import polars as pl

from assets.partitions import DaySlice, Partitions, day_slices
from checks.schemas import RawRecords, validate
from resources.configuration import Settings
from resources.harvest import HARVEST_CONTRACT, HarvestClient, Page
from resources.warehouse import Warehouse, append, replace_slice
from rules.pm_payloads import RAW_COLUMNS, canonical_payload
from rules.routing import CLAIMED, EntityRoutes, home_entity_of, route_record

DIRECTORY_KINDS = ("clients", "projects", "tasks", "users", "user_assignments", "task_assignments")
# Time the entity's own people logged on projects another entity bills: the seller's side of an
# intercompany charge (assets/intercompany), kept apart so it never enters this entity's billing.
INTERCOMPANY_TIME_TABLE = "raw.intercompany_time_entries"
INTERCOMPANY_COLUMNS = pl.Schema({**RAW_COLUMNS, "billed_by": pl.String()})


def _as_sent(
    entity: str, record: dict[str, Any], page: Page, extracted_at: datetime, run_id: str
) -> dict[str, Any]:
    """A raw row: the payload as sent, its hash, and where and when it was extracted."""
    text, digest = canonical_payload(record)
    return {
        "entity": entity,
        "record_id": int(record.get("id") or 0),
        "payload": text,
        "payload_hash": digest,
        "extracted_at": extracted_at,
        "request_url": page.url,
        "run_id": run_id,
        "contract_version": HARVEST_CONTRACT,
    }


def _spent_day(record: dict[str, Any]) -> date | None:
    try:
        return date.fromisoformat(str(record.get("spent_date")))
    except ValueError:
        return None


def _extract_dated(
    harvest: HarvestClient,
    warehouse: Warehouse,
    resource: str,
    table: str,
    part: DaySlice,
    run_id: str,
    routes: EntityRoutes,
    intercompany_table: str | None = None,
) -> dict[str, int]:
    """Page through `resource` for the slice's days and replace the slice in `table`, page by page.

    With `intercompany_table`, records another entity claims but that the slice entity's own
    people logged are kept there too (with `billed_by`), for the intercompany charge.
    """
    wanted = set(part.days)
    counts = {"records": 0, "unclaimed": 0, "pages": 0, "intercompany": 0}
    extracted_at = datetime.now(UTC)
    params = {"from": part.first.isoformat(), "to": part.last.isoformat()}
    with warehouse.transaction(part.entity) as con:
        days = [d.isoformat() for d in part.days]
        for target in (table, intercompany_table) if intercompany_table else (table,):
            con.execute(
                f"DELETE FROM {target} WHERE entity = ? AND day IN (SELECT unnest(?::DATE[]))",
                [part.entity, days],
            )
        for page in harvest.iter_pages(resource, params):
            counts["pages"] += 1
            rows: list[dict[str, Any]] = []
            worked_elsewhere: list[dict[str, Any]] = []
            for record in page.records:
                entity, note = route_record(record, routes)
                day = _spent_day(record)
                if day not in wanted:
                    continue
                if entity != part.entity:
                    if (
                        intercompany_table
                        and note == CLAIMED
                        and home_entity_of(record, routes) == part.entity
                    ):
                        row = {**_as_sent(part.entity, record, page, extracted_at, run_id), "day": day}
                        worked_elsewhere.append({**row, "routing": CLAIMED, "billed_by": entity})
                    continue
                rows.append(
                    {**_as_sent(part.entity, record, page, extracted_at, run_id), "day": day, "routing": note}
                )
                counts["unclaimed"] += note != CLAIMED
            append(con, table, validate(RawRecords, pl.DataFrame(rows, schema=RAW_COLUMNS)))
            counts["records"] += len(rows)
            if intercompany_table and worked_elsewhere:
                elsewhere = pl.DataFrame(worked_elsewhere, schema=INTERCOMPANY_COLUMNS)
                validate(RawRecords, elsewhere.drop("billed_by"))
                append(con, intercompany_table, elsewhere)
                counts["intercompany"] += elsewhere.height
    return counts


def _extract_directory(harvest: HarvestClient, warehouse: Warehouse, entity: str, run_id: str) -> int:
    """Snapshot every directory list (clients, projects, ...) for the entity, replacing the last one."""
    extracted_at = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for kind in DIRECTORY_KINDS:
        for page in harvest.iter_pages(kind):
            rows += [
                {**_as_sent(entity, record, page, extracted_at, run_id), "kind": kind}
                for record in page.records
            ]
    frame = pl.DataFrame(
        rows,
        schema=pl.Schema(
            {**{k: v for k, v in RAW_COLUMNS.items() if k not in ("day", "routing")}, "kind": pl.String()}
        ),
    )
    with warehouse.transaction(entity) as con:
        replace_slice(con, "raw.directory", frame, "entity = ?", [entity])
    return frame.height


def _raw_spec(name: str, description: str) -> dg.AssetSpec:
    return dg.AssetSpec(
        ["raw", name], description=description, kinds={"duckdb"}, group_name="raw", owners=["team:data"]
    )


RAW_SPECS = [
    _raw_spec("time_entries", "Harvest time entries as sent, per entity and spent day."),
    _raw_spec("expenses", "Harvest expenses as sent, per entity and spent day."),
    _raw_spec("pm_directory", "Latest snapshot of PM clients, projects, tasks, users and assignments."),
]
RAW_KEYS = [spec.key for spec in RAW_SPECS]


def extract_days(
    context: dg.AssetExecutionContext, harvest: HarvestClient, warehouse: Warehouse, settings: Settings
) -> Iterator[dg.MaterializeResult]:
    """Extract the run's entity-days from the PM system into the raw layer, replayable without the API."""
    routes = EntityRoutes.from_config(settings)
    totals = {"time_entries": 0, "expenses": 0, "unclaimed": 0, "pages": 0, "directory": 0, "intercompany": 0}
    for part in day_slices(context):
        totals["directory"] += _extract_directory(harvest, warehouse, part.entity, context.run.run_id)
        for resource in ("time_entries", "expenses"):
            counts = _extract_dated(
                harvest, warehouse, resource, f"raw.{resource}", part, context.run.run_id, routes,
                INTERCOMPANY_TIME_TABLE if resource == "time_entries" else None,
            )  # fmt: skip
            totals[resource] += counts["records"]
            totals["unclaimed"] += counts["unclaimed"]
            totals["pages"] += counts["pages"]
            totals["intercompany"] += counts["intercompany"]
        context.log.info(f"{part.label()}: extracted")
    scope = {"partitions": ", ".join(p.label() for p in day_slices(context))}
    yield dg.MaterializeResult(
        asset_key=["raw", "time_entries"],
        metadata={
            **scope,
            "dagster/row_count": totals["time_entries"],
            "unclaimed_records": totals["unclaimed"],
            "pages_fetched": totals["pages"],
            "intercompany_time_entries": totals["intercompany"],
        },
    )
    yield dg.MaterializeResult(
        asset_key=["raw", "expenses"], metadata={**scope, "dagster/row_count": totals["expenses"]}
    )
    yield dg.MaterializeResult(
        asset_key=["raw", "pm_directory"], metadata={**scope, "dagster/row_count": totals["directory"]}
    )


def build_pm_extracts(partitions: Partitions) -> dg.AssetsDefinition:
    """`raw/time_entries`, `raw/expenses` and `raw/pm_directory` over the configuration's entity-days."""
    return dg.multi_asset(
        name="pm_extracts",
        specs=RAW_SPECS,
        partitions_def=partitions.entity_day,
        # A month or a year of one entity's days is one run: one paged extraction, not one per day.
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool="pm_api",
    )(extract_days)
