"""Launch the two jobs for entity-months in-process, recorded in the Dagster instance the UI reads.

A month is two runs: one over the entity's days (a partition range: one paged
extraction, not thirty), then one for the entity-month (drafts and posting). Each run's
outcome comes back as one line per failure and per finding (docs/decisions/0020): the
terminal never sees a traceback unless asked (`verbose`); the instance's event log and
`$BILLBRIDGE_HOME/logs/billbridge.log` keep them.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
from dagster._core.execution.execution_result import ExecutionResult

from assets.health.states import days_outcome, month_outcome, posting_stop_reason
from assets.partitions import DaySlice, MonthSlice, day_key, month_key
from assets.raw.pm_extracts import PAGES_SINCE_TAG
from pipelines.concurrency import TRACE_TAG, entity_tags
from pipelines.failures import explain
from pipelines.jobs import GROUP_TAGS
from pipelines.orphans import process_tags
from resources.configuration import current_config
from resources.warehouse import Warehouse, default_home
from rules.calendar import previous_local_day
from rules.outcomes import Finding

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"

_HELD_EVENT_LOG = """\
# Dagster's SQLite event log over the same files, its connections held: one fsync an event, not three
# (docs/decisions/0049)."""
_DAGSTER_YAML = f"""\
# Embedded default: run, event and schedule storage in SQLite under this folder.
# The team deployment uses deploy/dagster.yaml (PostgreSQL) instead.
telemetry:
  enabled: false
# No "join the community" pop-up in the UI of a finance team's instance.
nux:
  enabled: false
# Runs launched from the UI: the daemon fails those that never start or run for hours
# (the default launcher cannot tell when a run's process died; `billbridge` checks its own).
run_monitoring:
  enabled: true
  start_timeout_seconds: 300
  max_runtime_seconds: 14400
{_HELD_EVENT_LOG}
event_log_storage:
  module: pipelines.instance_storage
  class: HeldSqliteEventLogStorage
"""


IN_PROCESS, CELERY = "in_process", "celery"
PAGES_SINCE_ENV = "BILLBRIDGE_PM_PAGES_SINCE"
EVENT_BATCH_ENV = "DAGSTER_EVENT_BATCH_SIZE"


@dataclass(frozen=True)
class RunSettings:
    """How the runner launches: re-rate FX, whether the terminal gets Dagster's own log, and where the
    close (billing to posting) runs: in this process, or on the entity's Celery worker (decision 0037)."""

    rerate_fx: bool = False
    verbose: bool = False
    executor: str = IN_PROCESS
    # The command's start: the PM account's lists read since then are new enough for each of its
    # entity runs, so a sync of N entities reads the account once (docs/decisions/0042).
    # A group close's entity processes inherit their parent's moment (PAGES_SINCE_ENV).
    pages_since: str = field(
        default_factory=lambda: os.environ.get(PAGES_SINCE_ENV) or datetime.now(UTC).isoformat()
    )


@dataclass(frozen=True)
class RunOutcome:
    """One run launched by the runner: its result, one line for its failure, and its findings."""

    job: str
    partitions: str
    run_id: str
    success: bool
    error: str = ""
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def done(self) -> bool:
        """The run succeeded and nothing it left behind means the job is unfinished."""
        return self.success and not any(f.failed for f in self.findings)


def ensure_dagster_home() -> Path:
    """$DAGSTER_HOME, defaulting to $BILLBRIDGE_HOME/dagster_home, created with a dagster.yaml."""
    home = Path(os.environ.get("DAGSTER_HOME") or Path(default_home()) / "dagster_home")
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    # An instance made before decision 0049 still has that default: it gets the held event log too.
    if not config.exists() or config.read_text() == _DAGSTER_YAML.split(_HELD_EVENT_LOG)[0]:
        config.write_text(_DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    # Dagster hands the event log a run's planned events, and a step's materializations over its
    # partitions, as batches only when asked; the held event log stores a batch in one transaction.
    os.environ.setdefault(EVENT_BATCH_ENV, "1000")
    return home


def log_path() -> Path:
    """Where failed runs' full errors go: $BILLBRIDGE_HOME/logs/billbridge.log."""
    return Path(default_home()) / "logs" / "billbridge.log"


def days_of(month: date, until: date) -> DaySlice | None:
    """The days of `month` up to and including `until` (partitions exist up to yesterday)."""
    first = month.replace(day=1)
    last = min(MonthSlice("", first).month_end, until)
    if last < first:
        return None
    return DaySlice("", tuple(first + timedelta(days=i) for i in range((last - first).days + 1)))


# The runs' event logs go to the instance (and the UI); the terminal gets them with `verbose` only.
QUIET: dict[str, object] = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}


def _logging(settings: RunSettings) -> dict[str, object]:
    return {"loggers": {"console": {"config": {"log_level": "INFO"}}}} if settings.verbose else QUIET


def _failure(result: ExecutionResult) -> str:
    """The first failed step's error in one line; its full text appended to the log file."""
    for event in result.all_events:
        if not (event.is_step_failure and event.step_failure_data.error is not None):
            continue
        error = event.step_failure_data.error
        with log_path().open("a", encoding="utf-8") as log:
            log.write(f"{datetime.now(UTC).isoformat()} run {result.run_id} step {event.step_key}\n")
            log.write(error.to_string() + "\n")
        if (event.step_key or "").startswith("health__"):
            return ""  # the findings say it, line by line
        base = current_config().orchestration.runbook_base_url
        return explain(event.step_key or "run", error, os.environ, base)
    return "" if result.success else "the run failed before any step (see the run in the Dagster UI)"


def _execute(
    instance: dg.DagsterInstance,
    job: dg.JobDefinition,
    settings: RunSettings,
    tags: dict[str, str],
    run_config: dict[str, object],
    partition_key: str | None = None,
) -> tuple[dg.ExecuteInProcessResult, str, float]:
    """Run `job` in this process, tagged with the process (pipelines/orphans.py); (result, error line, seconds)."""
    log_path().parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    result = job.execute_in_process(
        instance=instance,
        tags={**tags, **process_tags()},
        run_config={**_logging(settings), **run_config},
        partition_key=partition_key,
        raise_on_error=False,
    )
    return result, _failure(result), time.monotonic() - started


def extract_month(
    instance: dg.DagsterInstance, defs: dg.Definitions, entity: str, month: date, settings: RunSettings
) -> RunOutcome | None:
    """Extraction-to-normalized over the month's days up to the entity's yesterday (None: no day yet)."""
    timezone = current_config().entity(entity).timezone
    days = days_of(month, previous_local_day(datetime.now(UTC), timezone))
    if days is None:
        return None
    start, end = day_key(entity, days.first), day_key(entity, days.last)
    result, error, seconds = _execute(
        instance,
        defs.resolve_job_def("extract_and_normalize"),
        settings,
        {
            RANGE_START: str(start),
            RANGE_END: str(end),
            PAGES_SINCE_TAG: settings.pages_since,
            **entity_tags(entity, "runner"),
        },
        {"ops": {"billable_lines": {"config": {"rerate_fx": settings.rerate_fx}}}},
    )
    findings = []
    if result.success or not error:  # the data steps ran: judge what they left
        findings = days_outcome(Warehouse(), current_config(), entity, days.first, days.last).findings
    return RunOutcome(
        "extract_and_normalize", f"{start}..{end}", result.run_id, result.success, error, findings, seconds
    )


def bill_month(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    entity: str,
    month: date,
    settings: RunSettings,
    trace_id: str = "",
) -> RunOutcome:
    """Billing-to-posting for the entity-month, then what keeps the month from being done; `trace_id`:
    the extraction run's id, so both runs of one sync are one trace (docs/decisions/0036)."""
    key = month_key(entity, month)
    result, error, seconds = _execute(
        instance,
        defs.resolve_job_def("bill_and_post"),
        settings,
        {**entity_tags(entity, "runner"), **({TRACE_TAG: trace_id} if trace_id else {})},
        bill_run_config(settings),
        partition_key=str(key),
    )
    return month_closed(
        instance,
        entity,
        month,
        RunOutcome("bill_and_post", str(key), result.run_id, result.success, error, seconds=seconds),
    )


def bill_run_config(settings: RunSettings) -> dict[str, object]:
    """The billing-to-posting run's op configuration (re-rate FX or not), whichever executor runs it."""
    rerate = {"config": {"rerate_fx": settings.rerate_fx}}
    return {"ops": {"billing__invoice_drafts": rerate, "billing__intercompany_charges": rerate}}


def month_closed(instance: dg.DagsterInstance, entity: str, month: date, run: RunOutcome) -> RunOutcome:
    """`run` (a billing-to-posting run) with what keeps the entity's month from being done."""
    stopped = posting_stop_reason(instance, entity, month)
    findings = month_outcome(Warehouse(), current_config(), entity, month, stopped).findings
    return replace(run, findings=findings)


def sync_month(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    entity: str,
    month: date,
    rerate_fx: bool = False,
    *,
    verbose: bool = False,
) -> list[RunOutcome]:
    """Run extraction-to-normalized over the month's days, then billing-to-posting for the month.

    `rerate_fx` converts with today's ECB rates instead of the rates the month was first priced with.
    Billing never runs on a failed extraction.
    """
    settings = RunSettings(rerate_fx, verbose)
    extracted = extract_month(instance, defs, entity, month, settings)
    if extracted is not None and not extracted.success:
        return [extracted]
    trace_id = extracted.run_id if extracted else ""
    return [
        *([extracted] if extracted else []),
        bill_month(instance, defs, entity, month, settings, trace_id),
    ]


def close_group(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    month: date,
    rerate_fx: bool = False,
    *,
    verbose: bool = False,
) -> RunOutcome:
    """Consolidate a month over every entity's ledger export (run after their closes), then write its
    month report; the outcome of the first of the two that failed, else of the consolidation."""
    key = month.strftime("%Y-%m-01")
    settings = RunSettings(rerate_fx, verbose)
    result, error, seconds = _execute(
        instance,
        defs.resolve_job_def("consolidate_group"),
        settings,
        GROUP_TAGS,
        {"ops": {"consolidation__group_consolidation": {"config": {"rerate_fx": rerate_fx}}}},
        partition_key=key,
    )
    closed = RunOutcome("consolidate_group", key, result.run_id, result.success, error, [], seconds)
    if not closed.success:
        return closed
    report, error, more = _execute(
        instance, defs.resolve_job_def("write_month_report"), settings, GROUP_TAGS, {}, partition_key=key
    )
    if not report.success:
        return RunOutcome("write_month_report", key, report.run_id, False, error, [], seconds + more)
    return replace(closed, seconds=seconds + more)
