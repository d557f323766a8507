"""Runs enter the audit trail: who started each run, what it ran and how it ended.

Runs started from the CLI are audited by the command itself (pipelines/cli_access.py); these
sensors add the runs the daemon, a schedule or the Dagster UI start, reading the run's tags
(`billbridge/started_by`, `billbridge/source`, the partition). Like every sensor here they
ship stopped: start them in a deployment (`dagster sensor start audit_finished_runs
audit_failed_runs -w workspace.yaml`).
"""

from __future__ import annotations

import dagster as dg

from pipelines.concurrency import SOURCE_TAG, STARTED_BY_TAG
from resources.audit_log import AuditEvent, AuditLog
from rules.tracing import trace_id_of


def run_event(run: dg.DagsterRun, outcome: str) -> AuditEvent:
    """The audit entry of a finished run."""
    tags = run.tags
    return AuditEvent(
        actor=tags.get(STARTED_BY_TAG, "(not recorded: started in the Dagster UI)"),
        action=f"run.{run.job_name}",
        target=tags.get("dagster/partition", "") or tags.get("billbridge/entity", ""),
        outcome=outcome,
        detail={
            "run_id": run.run_id,
            "source": tags.get(SOURCE_TAG, "ui"),
            "trace_id": trace_id_of(tags, run.run_id),
        },
    )


# Listens for every successful run of this code location and appends who started it to the audit log.
@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    name="audit_finished_runs",
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Append each successful run (job, partition, who started it) to the audit trail.",
)
def audit_finished_runs(context: dg.RunStatusSensorContext) -> None:
    AuditLog().append(run_event(context.dagster_run, "ok"))


# Listens for every failed run, for the same record.
@dg.run_failure_sensor(
    name="audit_failed_runs",
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Append each failed run (job, partition, who started it) to the audit trail.",
)
def audit_failed_runs(context: dg.RunFailureSensorContext) -> None:
    AuditLog().append(run_event(context.dagster_run, "failed"))


AUDIT_SENSORS: list[dg.SensorDefinition] = [audit_finished_runs, audit_failed_runs]
