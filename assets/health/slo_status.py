"""`health/slo_status`: the published SLOs measured from the run history and the warehouses.

Each materialization measures every figure (rules/slo.py names them), appends the measurement to
`health.slo_status` in the group file (the history the UI and the weekly review can read), reports
one non-blocking check per SLO (WARN or ERROR as configured) and alerts once per breached SLO
through the chat webhook and the on-call route, each alert linking its runbook.
"""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import dagster as dg
import polars as pl

from assets.partitions import Partitions
from resources.alerts import send_alert
from resources.configuration import Settings
from resources.health_store import (
    SLO_HISTORY,
    last_heartbeat_success,
    last_measured_at,
    ledger_figures,
    record_slo_status,
)
from resources.warehouse import Warehouse
from rules.alert_payloads import Alert
from rules.schemas.catalog import table
from rules.settings import BillbridgeConfig
from rules.slo import SLO_NAMES, Breach, Objective, SloFigures, evaluate, minutes_between, success_rate

SLO_STATUS = dg.AssetKey(["health", "slo_status"])
SYNC_JOBS = frozenset({"extract_and_normalize", "bill_and_post"})
_DESCRIPTIONS = {
    "sync_success_rate": "Share of sync runs (extract_and_normalize, bill_and_post) that succeeded in the window.",
    "change_to_ledger_hours": "Slowest PM change to its booked document, in hours.",
    "unposted_documents": "Documents in the outbox not yet booked (pending or outcome unknown).",
    "dead_letter_growth": "Dead letters added since the previous measurement.",
    "reconciliation_mismatches": "Bank lines left as exceptions for people.",
    "heartbeat_age_minutes": "Minutes since the last successful synthetic heartbeat.",
}


def sync_runs(instance: dg.DagsterInstance, since: datetime) -> tuple[int, int]:
    """(succeeded, failed) sync runs that finished since `since`."""
    records = instance.get_run_records(
        dg.RunsFilter(
            statuses=[dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE], updated_after=since
        )
    )
    statuses = [r.dagster_run.status for r in records if r.dagster_run.job_name in SYNC_JOBS]
    return statuses.count(dg.DagsterRunStatus.SUCCESS), statuses.count(dg.DagsterRunStatus.FAILURE)


def measure(
    instance: dg.DagsterInstance, warehouse: Warehouse, config: BillbridgeConfig, now: datetime
) -> SloFigures:
    """Every SLO figure as it stands at `now`."""
    orchestration = config.orchestration
    window_start = now - timedelta(hours=orchestration.slo.window_hours)
    ledger = ledger_figures(
        warehouse, config.entity_ids, window_start, last_measured_at(warehouse) or window_start
    )
    heartbeat = orchestration.heartbeat
    age: Decimal | None = None
    if heartbeat.enabled:  # never succeeded: at least the whole window late
        last = last_heartbeat_success(warehouse, heartbeat.tenant_id) or window_start
        age = minutes_between(last.timestamp(), now.timestamp())
    return SloFigures(
        sync_success_rate=success_rate(*sync_runs(instance, window_start)),
        change_to_ledger_hours=ledger.change_to_ledger_hours,
        unposted_documents=ledger.unposted_documents,
        dead_letters=ledger.dead_letters,
        dead_letter_growth=ledger.new_dead_letters,
        reconciliation_mismatches=ledger.reconciliation_mismatches,
        heartbeat_age_minutes=age,
    )


def history_rows(
    figures: SloFigures, objectives: list[Objective], breaches: list[Breach], run_id: str, now: datetime
) -> pl.DataFrame:
    """One row per SLO for `health.slo_status`."""
    breached = {b.name for b in breaches}
    return pl.DataFrame(
        [
            {
                "measured_at": now,
                "slo": o.name,
                "figure": figures.value(o.name),
                "threshold": o.threshold,
                "severity": o.severity,
                "breached": o.name in breached,
                "run_id": run_id,
            }
            for o in objectives
        ],
        schema=table(SLO_HISTORY).polars_schema(),
    )


def _alert(breach: Breach, base: str) -> Alert:
    return Alert(
        summary=f"billbridge {breach.summary()}",
        severity=breach.severity,
        dedup_key=f"billbridge/slo/{breach.name}",
        runbook_url=f"{base}{breach.runbook}",
        details={"slo": breach.name, "figure": str(breach.figure), "threshold": str(breach.threshold)},
    )


def _number(value: Decimal | None) -> dg.MetadataValue:
    return dg.MetadataValue.float(float(value)) if value is not None else dg.MetadataValue.null()


def slo_status(
    context: dg.AssetExecutionContext, warehouse: Warehouse, settings: Settings
) -> dg.MaterializeResult:
    """Measure the SLOs, keep the measurement, check each SLO and alert on every breach."""
    orchestration = settings.orchestration
    now = datetime.now(UTC)
    figures = measure(context.instance, warehouse, settings, now)
    objectives = orchestration.objectives()
    breaches = evaluate(figures, objectives)
    record_slo_status(warehouse, history_rows(figures, objectives, breaches, context.run.run_id, now))
    base = orchestration.runbook_base_url
    for breach in breaches:
        context.log.warning(breach.line(base))
        for failure in send_alert(_alert(breach, base), orchestration):
            context.log.error(failure)
    by_name = {b.name: b for b in breaches}
    metadata: dict[str, Any] = {name: _number(figures.value(name)) for name in SLO_NAMES}
    metadata["dead_letters"] = dg.MetadataValue.int(figures.dead_letters)
    metadata["breaches"] = dg.MetadataValue.int(len(breaches))
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name=o.name,
                asset_key=SLO_STATUS,
                passed=o.name not in by_name,
                severity=dg.AssetCheckSeverity.ERROR if o.severity == "ERROR" else dg.AssetCheckSeverity.WARN,
                metadata={
                    "figure": _number(figures.value(o.name)),
                    "threshold": dg.MetadataValue.float(float(o.threshold)),
                    "detail": by_name[o.name].line(base) if o.name in by_name else "within objective",
                },
            )
            for o in objectives
        ],
    )


def build_slo_status(partitions: Partitions) -> dg.AssetsDefinition:
    """`health/slo_status` (unpartitioned: it measures the whole installation) with a check per SLO."""
    return dg.asset(
        key=SLO_STATUS,
        group_name="health",
        kinds={"duckdb"},
        owners=["team:finance-systems"],
        description="The published SLOs, measured from the run history and the warehouses (decision 0035).",
        check_specs=[
            dg.AssetCheckSpec(name, asset=SLO_STATUS, blocking=False, description=_DESCRIPTIONS[name])
            for name in SLO_NAMES
        ],
    )(slo_status)
