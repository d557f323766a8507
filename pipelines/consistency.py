"""The periodic consistency job: each night, every entity's current and previous month are listed in
the PM system again and compared with the warehouse and the ledger (assets/raw/pm_consistency.py).

Harvest sends no webhooks and its `updated_since` poll cannot return a deleted entry, so this is
how deletions are seen at all. What the listing changed (new versions, tombstones) is re-normalized
by the sensor below, through the same ledger of requested changes the other change sensors share,
so a month already posted takes the correction path like any other change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import dagster as dg

from assets.partitions import Partitions, month_key
from assets.raw.pm_consistency import PM_CONSISTENCY
from pipelines.concurrency import entity_tags
from pipelines.jobs import extract_and_normalize
from pipelines.sensors import posted_months, run_requests
from resources.event_inbox import Change, EventInbox
from rules.calendar import first_of_month, previous_month
from rules.settings import BillbridgeConfig

check_pm_consistency = dg.define_asset_job(
    "check_pm_consistency",
    selection=dg.AssetSelection.assets(PM_CONSISTENCY),
    executor_def=dg.in_process_executor,
    description="List an entity-month in the PM system again; log missed, changed and deleted records; compare with the ledger.",
)


def months_to_check(today: date) -> list[date]:
    """The previous and the current month: late edits and deletions land there."""
    return [previous_month(today), first_of_month(today)]


def build_consistency_schedule(config: BillbridgeConfig) -> dg.ScheduleDefinition:
    """Nightly, after the daily syncs of every time zone: the two open months of every entity of `config`."""

    @dg.schedule(
        name="pm_consistency_nightly",
        cron_schedule="30 4 * * *",
        job=check_pm_consistency,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Check every entity's previous and current month against the PM system and the ledger.",
    )
    def pm_consistency_nightly(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
        today = (context.scheduled_execution_time or datetime.now(UTC)).date()
        return [
            dg.RunRequest(
                run_key=f"consistency|{entity}|{month:%Y-%m}|{today}",
                partition_key=str(month_key(entity, month)),
                tags=entity_tags(entity, "consistency"),
            )
            for entity in config.entity_ids
            for month in months_to_check(today)
            if month >= first_of_month(config.billing_start)
        ]

    return pm_consistency_nightly


def changes_of(changes: list[dict[str, Any]]) -> list[Change]:
    """The entity-days a consistency run touched: each logged version's day, and the day a moved record left."""
    found = []
    for c in changes:
        days = {c["day"], c.get("previous_day")} - {None}
        for day in sorted(days):
            found.append(
                Change(c["kind"], int(c["record_id"]), f"v{c['version']}", c["hash"], c["entity"], day)
            )
    return found


def build_consistency_repairs(partitions: Partitions) -> dg.SensorDefinition:
    """Listens for consistency checks and re-normalizes the entity-days whose raw records they changed."""

    @dg.asset_sensor(
        asset_key=PM_CONSISTENCY,
        job=extract_and_normalize,
        name="pm_consistency_repairs",
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Re-normalize the entity-days a consistency check found missed, changed or deleted records on.",
    )
    def pm_consistency_repairs(
        context: dg.SensorEvaluationContext, asset_event: dg.EventLogEntry
    ) -> dg.SensorResult | dg.SkipReason:
        materialization = asset_event.asset_materialization
        entry = materialization.metadata.get("changes") if materialization else None
        logged = entry.value if isinstance(entry, dg.JsonMetadataValue) else []
        changes = changes_of(logged if isinstance(logged, list) else [])
        if not changes:
            return dg.SkipReason("the last consistency check changed no records")
        requests, corrections = run_requests(
            changes, "consistency", EventInbox(), posted_months(context.instance), partitions.entity_day
        )
        for change in corrections:
            context.log.warning(
                f"{change.record_kind} {change.record_id} changed in invoiced month of {change.entity} {change.day}: correction path"
            )
        return dg.SensorResult(run_requests=requests)

    return pm_consistency_repairs
