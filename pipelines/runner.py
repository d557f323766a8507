"""Launch the two jobs for entity-months in-process, recorded in the Dagster instance the UI reads.

A month is two runs: one over the entity's days (a partition range: one paged
extraction, not thirty), then one for the entity-month (drafts and posting).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg

from assets.partitions import DaySlice, MonthSlice, day_key, month_key
from pipelines.concurrency import entity_tags
from pipelines.jobs import GROUP_TAGS
from resources.configuration import current_config
from resources.warehouse import default_home
from rules.calendar import previous_local_day

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"

_DAGSTER_YAML = """\
# Embedded default: run, event and schedule storage in SQLite under this folder.
# The team deployment uses deploy/dagster.yaml (PostgreSQL) instead.
telemetry:
  enabled: false
"""


@dataclass(frozen=True)
class RunOutcome:
    """One run launched by the runner."""

    job: str
    partitions: str
    run_id: str
    success: bool
    error: str = ""


def _failure(result: dg.ExecuteInProcessResult) -> str:
    """The first step failure's message, one line (the UI keeps the full trace)."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data.error is not None:
            error = event.step_failure_data.error
            while error.cause is not None and error.cls_name in ("DagsterExecutionStepExecutionError",):
                error = error.cause
            return f"{event.step_key}: {error.message.strip().splitlines()[-1]}"
    return ""


def ensure_dagster_home() -> Path:
    """$DAGSTER_HOME, defaulting to $BILLBRIDGE_HOME/dagster_home, created with a dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or Path(default_home()) / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(_DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def days_of(month: date, until: date) -> DaySlice | None:
    """The days of `month` up to and including `until` (partitions exist up to yesterday)."""
    first = month.replace(day=1)
    last = min(MonthSlice("", first).month_end, until)
    if last < first:
        return None
    return DaySlice("", tuple(first + timedelta(days=i) for i in range((last - first).days + 1)))


# The runs' own event logs go to the Dagster instance (and the UI); the terminal gets warnings only.
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def sync_month(
    instance: dg.DagsterInstance, defs: dg.Definitions, entity: str, month: date, rerate_fx: bool = False
) -> list[RunOutcome]:
    """Run extraction-to-normalized over the month's days, then billing-to-posting for the month.

    `rerate_fx` converts with today's ECB rates instead of the rates the month was first priced with.
    """
    outcomes = []
    rerate = {"config": {"rerate_fx": rerate_fx}}
    # Partitions exist up to the entity's own yesterday, in its time zone.
    timezone = current_config().entity(entity).timezone
    days = days_of(month, previous_local_day(datetime.now(UTC), timezone))
    if days is not None:
        start, end = day_key(entity, days.first), day_key(entity, days.last)
        result = defs.resolve_job_def("extract_and_normalize").execute_in_process(
            instance=instance,
            tags={RANGE_START: str(start), RANGE_END: str(end), **entity_tags(entity, "runner")},
            run_config={**QUIET, "ops": {"billable_lines": rerate}},
            raise_on_error=False,
        )
        outcomes.append(
            RunOutcome(
                "extract_and_normalize", f"{start}..{end}", result.run_id, result.success, _failure(result)
            )
        )
        if not result.success:
            return outcomes
    key = month_key(entity, month)
    result = defs.resolve_job_def("bill_and_post").execute_in_process(
        instance=instance,
        partition_key=str(key),
        tags=entity_tags(entity, "runner"),
        run_config={
            **QUIET,
            "ops": {"billing__invoice_drafts": rerate, "billing__intercompany_charges": rerate},
        },
        raise_on_error=False,
    )
    outcomes.append(RunOutcome("bill_and_post", str(key), result.run_id, result.success, _failure(result)))
    return outcomes


def close_group(
    instance: dg.DagsterInstance, defs: dg.Definitions, month: date, rerate_fx: bool = False
) -> RunOutcome:
    """Consolidate a month over every entity's ledger export (run after their closes)."""
    key = month.strftime("%Y-%m-01")
    result = defs.resolve_job_def("consolidate_group").execute_in_process(
        instance=instance,
        partition_key=key,
        tags=GROUP_TAGS,
        run_config={
            **QUIET,
            "ops": {"consolidation__group_consolidation": {"config": {"rerate_fx": rerate_fx}}},
        },
        raise_on_error=False,
    )
    return RunOutcome("consolidate_group", key, result.run_id, result.success, _failure(result))
