"""`health/heartbeat`: a synthetic transaction through the whole path, with its history.

Each materialization runs extract -> price -> draft -> post -> look up against the configured
dedicated test tenant (orchestration.heartbeat; refused at load when it is an entity's tenant),
appends the five timed steps to `health.heartbeat_steps` in the group file (never an entity's
file), and reports two non-blocking checks: `heartbeat_succeeded` (ERROR when a step failed)
and `heartbeat_on_time` (ERROR when the last success before this one is older than the
configured lateness). A failure or lateness alerts through the webhook and the on-call route.
"""

from datetime import UTC, datetime

import dagster as dg
import polars as pl

from assets.partitions import Partitions
from resources.alerts import send_alert
from resources.configuration import Settings
from resources.harvest import HarvestClient
from resources.health_store import HEARTBEAT_HISTORY, last_heartbeat_success, record_heartbeat
from resources.heartbeat import run_heartbeat
from resources.warehouse import Warehouse
from resources.xero import XeroClient
from rules.alert_payloads import Alert
from rules.heartbeat import StepResult
from rules.schemas.catalog import table
from rules.slo import HEARTBEAT_RUNBOOK, minutes_between

HEARTBEAT = dg.AssetKey(["health", "heartbeat"])
SUCCEEDED = "heartbeat_succeeded"
ON_TIME = "heartbeat_on_time"


def step_rows(results: list[StepResult], run_id: str, tenant_id: str, started: datetime) -> pl.DataFrame:
    """The steps as rows of `health.heartbeat_steps`."""
    return pl.DataFrame(
        [
            {
                "started_at": started,
                "run_id": run_id,
                "tenant_id": tenant_id,
                "step_no": number,
                "step": r.step,
                "ok": r.ok,
                "latency_ms": r.latency_ms,
                "detail": r.detail,
                "document_number": r.document_number,
            }
            for number, r in enumerate(results, start=1)
        ],
        schema=table(HEARTBEAT_HISTORY).polars_schema(),
    )


def _check(name: str, passed: bool, detail: str) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=name,
        asset_key=HEARTBEAT,
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={"detail": detail},
    )


def heartbeat(
    context: dg.AssetExecutionContext,
    harvest: HarvestClient,
    xero: XeroClient,
    warehouse: Warehouse,
    settings: Settings,
) -> dg.MaterializeResult:
    """Run one synthetic transaction against the test tenant, keep its steps, check and alert."""
    orchestration = settings.orchestration
    config = orchestration.heartbeat
    if not config.enabled:
        raise dg.Failure(
            "orchestration.heartbeat.tenant_id is empty: configure a dedicated test tenant first"
        )
    started = datetime.now(UTC)
    previous = last_heartbeat_success(warehouse, config.tenant_id)
    results = run_heartbeat(harvest, xero, config, context.run.run_id, started)
    record_heartbeat(warehouse, step_rows(results, context.run.run_id, config.tenant_id, started))
    failed = next((r for r in results if not r.ok), None)
    late_by = None if previous is None else minutes_between(previous.timestamp(), started.timestamp())
    late = late_by is not None and late_by > config.late_after_minutes
    problems = []
    if failed is not None:
        problems.append(f"heartbeat failed at {failed.step}: {failed.detail}")
    if late:
        problems.append(
            f"last successful heartbeat {late_by} minutes ago (limit {config.late_after_minutes})"
        )
    base = orchestration.runbook_base_url
    for problem in problems:
        context.log.error(f"{problem}  [runbook: {base}{HEARTBEAT_RUNBOOK}]")
        alert = Alert(
            summary=f"billbridge {problem}",
            severity="ERROR",
            dedup_key="billbridge/heartbeat",
            runbook_url=f"{base}{HEARTBEAT_RUNBOOK}",
            details={"tenant": config.tenant_id, "run_id": context.run.run_id},
        )
        for failure in send_alert(alert, orchestration):
            context.log.error(failure)
    return dg.MaterializeResult(
        metadata={
            "succeeded": dg.MetadataValue.bool(failed is None),
            "total_latency_ms": dg.MetadataValue.int(sum(r.latency_ms for r in results)),
            **{f"{r.step}_ms": dg.MetadataValue.int(r.latency_ms) for r in results},
            "steps": dg.MetadataValue.md(
                "\n".join(
                    f"- {r.step}: {'ok' if r.ok else 'FAILED'} ({r.latency_ms} ms) {r.detail}"
                    for r in results
                )
            ),
        },
        check_results=[
            _check(SUCCEEDED, failed is None, problems[0] if failed is not None else "every step succeeded"),
            _check(ON_TIME, not late, problems[-1] if late else "on time"),
        ],
    )


def build_heartbeat(partitions: Partitions) -> dg.AssetsDefinition:
    """`health/heartbeat` (unpartitioned) with its two checks."""
    return dg.asset(
        key=HEARTBEAT,
        group_name="health",
        kinds={"duckdb"},
        owners=["team:finance-systems"],
        description="A synthetic transaction (extract, price, draft, post, look up) against the test tenant.",
        check_specs=[
            dg.AssetCheckSpec(
                SUCCEEDED, asset=HEARTBEAT, blocking=False, description="Every step succeeded."
            ),
            dg.AssetCheckSpec(
                ON_TIME,
                asset=HEARTBEAT,
                blocking=False,
                description="The previous success is within orchestration.heartbeat.late_after_minutes.",
            ),
        ],
    )(heartbeat)
