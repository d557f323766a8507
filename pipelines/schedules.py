"""Schedules: per-entity daily sync and monthly close in the entity's own time zone, a weekly review.

`dg.build_schedule_from_partitioned_job` is not used: over the entity x day partitions it
fires once, in one time zone, for every entity together, while each entity's "yesterday"
ends at its own local midnight. So each entity gets its own schedules with
`execution_timezone` set to its IANA zone. Every schedule is STOPPED by default (the
embedded demo must not start syncing on its own); turn one on with
`dagster schedule start daily_sync_uk -w workspace.yaml` or its toggle in the UI.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import dagster as dg
import duckdb

from assets.partitions import day_key, month_key
from pipelines.concurrency import entity_tags
from pipelines.jobs import bill_and_post, extract_and_normalize
from pipelines.review import weekly_review
from resources.warehouse import Warehouse
from rules.calendar import add_months, local_day, previous_local_day, previous_month
from rules.settings import BillbridgeConfig, EntityConfig


def working_day_index(day: date) -> int:
    """1 for the month's first Monday-to-Friday day, 2 for the second, ...; 0 on a weekend.

    No public-holiday calendar: a firm that needs one sets the close days a little later.
    """
    if day.weekday() >= 5:
        return 0
    return sum(1 for d in range(1, day.day + 1) if day.replace(day=d).weekday() < 5)


@dataclass(frozen=True)
class CloseDecision:
    """Whether the monthly close runs today, and why (shown on the schedule's tick)."""

    run: bool
    reason: str


def close_decision(
    working_day: int, close_day: int, deadline_day: int, unapproved: int | None
) -> CloseDecision:
    """The close runs from `close_day` once nothing awaits approval, and on `deadline_day` regardless.

    `unapproved` is the count of billable lines of the month still awaiting approval (None when
    it could not be read). Drafting bills approved lines only, so a close at the deadline posts
    what is approved and the rest stays visible as "unapproved" in `billbridge report`.
    """
    if working_day == 0 or working_day < close_day:
        return CloseDecision(False, f"working day {working_day}: the close starts on working day {close_day}")
    if working_day >= deadline_day:
        pending = "unknown" if unapproved is None else str(unapproved)
        return CloseDecision(
            True, f"deadline (working day {deadline_day}) reached; {pending} line(s) unapproved"
        )
    if unapproved is None:
        return CloseDecision(False, "approval status could not be read (warehouse busy); next tick retries")
    if unapproved:
        return CloseDecision(
            False, f"{unapproved} line(s) await approval; waiting until working day {deadline_day}"
        )
    return CloseDecision(True, "every billable line of the month is approved")


def unapproved_lines(warehouse: Warehouse, entity: EntityConfig, month: date) -> int | None:
    """Billable lines of `month` still awaiting approval; None when the entity file is busy."""
    if not entity.require_approval:
        return 0
    if not warehouse.exists(entity.id):
        return 0
    end = add_months(month, 1)
    try:
        frame = warehouse.query(
            entity.id,
            "SELECT count(*) AS n FROM normalized.billable_lines"
            " WHERE billable AND NOT approved AND day >= ? AND day < ?",
            [month, end],
        )
    except duckdb.Error:  # a run of this entity holds the write lock: decide on the next tick
        return None
    return int(frame["n"][0])


def _daily_sync(entity: EntityConfig, config: BillbridgeConfig) -> dg.ScheduleDefinition:
    hour, minute = config.orchestration.daily_sync_time.split(":")

    # Fires at the configured local time in the entity's zone and requests the entity-day that
    # just ended there; runs of other entities are not touched (each has its own schedule).
    @dg.schedule(
        name=f"daily_sync_{entity.id}",
        cron_schedule=f"{int(minute)} {int(hour)} * * *",
        execution_timezone=entity.timezone,
        job=extract_and_normalize,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=f"Extract and normalize {entity.id}'s previous local day ({entity.timezone}).",
        tags={"billbridge/schedule": "daily_sync"},
    )
    def daily_sync(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        day = previous_local_day(context.scheduled_execution_time, entity.timezone)
        if day < config.billing_start:
            return dg.SkipReason(f"{day} is before billing_start {config.billing_start}")
        return dg.RunRequest(
            partition_key=str(day_key(entity.id, day)),
            tags=entity_tags(entity.id, "daily_sync"),
        )

    return daily_sync


def _monthly_close(entity: EntityConfig, config: BillbridgeConfig) -> dg.ScheduleDefinition:
    orchestration = config.orchestration

    # Evaluated every local working morning; decides whether the previous month closes today
    # (see close_decision). The run key makes each month close at most once per schedule.
    @dg.schedule(
        name=f"monthly_close_{entity.id}",
        cron_schedule="0 6 * * 1-5",
        execution_timezone=entity.timezone,
        job=bill_and_post,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description=(
            f"Bill and post {entity.id}'s previous month from working day "
            f"{orchestration.close_working_day} once approvals are complete, "
            f"or on working day {orchestration.close_deadline_working_day} regardless."
        ),
        tags={"billbridge/schedule": "monthly_close"},
    )
    def monthly_close(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        today = local_day(context.scheduled_execution_time, entity.timezone)
        month = previous_month(today)
        if month < config.billing_start.replace(day=1):
            return dg.SkipReason(f"{month:%Y-%m} is before billing_start")
        decision = close_decision(
            working_day_index(today),
            orchestration.close_working_day,
            orchestration.close_deadline_working_day,
            unapproved_lines(Warehouse(), entity, month),
        )
        if not decision.run:
            return dg.SkipReason(f"{entity.id} {month:%Y-%m}: {decision.reason}")
        context.log.info(f"{entity.id} {month:%Y-%m}: closing: {decision.reason}")
        return dg.RunRequest(
            run_key=f"close|{entity.id}|{month:%Y-%m}",
            partition_key=str(month_key(entity.id, month)),
            tags={
                **entity_tags(entity.id, "monthly_close"),
                "billbridge/close_reason": decision.reason[:200],
            },
        )

    return monthly_close


def build_schedules(config: BillbridgeConfig) -> list[dg.ScheduleDefinition]:
    """Every entity's daily sync and monthly close, plus the weekly review."""
    schedules: list[dg.ScheduleDefinition] = []
    for entity in config.entities:
        schedules += [_daily_sync(entity, config), _monthly_close(entity, config)]
    # The weekly look back at what went wrong (quarantine, failed checks, dead letters and
    # rejected events per entity and week), so exceptions are reviewed, not just logged.
    schedules.append(
        dg.ScheduleDefinition(
            name="weekly_review",
            cron_schedule=config.orchestration.review_cron,
            execution_timezone="UTC",
            job=weekly_review,
            default_status=dg.DefaultScheduleStatus.STOPPED,
        )
    )
    return schedules
