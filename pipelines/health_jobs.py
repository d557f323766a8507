"""The SLO measurement and the synthetic heartbeat: their jobs and schedules (docs/decisions/0035).

Both schedules are STOPPED by default, like every schedule here; the heartbeat's also skips
while no test tenant is configured (`orchestration.heartbeat.tenant_id`), so a production
configuration without one never posts anything synthetic. Their runs carry the group's
concurrency tag: both write history to the group file, which the group close writes too.
"""

from __future__ import annotations

import dagster as dg

from assets.health.heartbeat import HEARTBEAT
from assets.health.slo_status import SLO_STATUS
from pipelines.jobs import GROUP_TAGS
from rules.settings import BillbridgeConfig

measure_slos = dg.define_asset_job(
    "measure_slos",
    selection=dg.AssetSelection.assets(SLO_STATUS),
    executor_def=dg.in_process_executor,
    tags=GROUP_TAGS,
    description="Measure the published SLOs, keep the measurement and alert on breaches.",
)
heartbeat = dg.define_asset_job(
    "heartbeat",
    selection=dg.AssetSelection.assets(HEARTBEAT),
    executor_def=dg.in_process_executor,
    tags=GROUP_TAGS,
    description="One synthetic transaction (extract, price, draft, post, look up) against the test tenant.",
)
HEALTH_JOBS = [measure_slos, heartbeat]


def build_health_schedules(config: BillbridgeConfig) -> list[dg.ScheduleDefinition]:
    """The SLO measurement and the heartbeat, at the configured UTC crons."""
    orchestration = config.orchestration

    @dg.schedule(
        name="heartbeat_schedule",
        cron_schedule=orchestration.heartbeat.cron,
        execution_timezone="UTC",
        job=heartbeat,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="The synthetic heartbeat against orchestration.heartbeat.tenant_id (skips while unset).",
    )
    def heartbeat_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
        if not orchestration.heartbeat.enabled:
            return dg.SkipReason("no test tenant configured (orchestration.heartbeat.tenant_id)")
        return dg.RunRequest(tags={"billbridge/schedule": "heartbeat"})

    slo_schedule = dg.ScheduleDefinition(
        name="slo_schedule",
        cron_schedule=orchestration.slo.cron,
        execution_timezone="UTC",
        job=measure_slos,
        default_status=dg.DefaultScheduleStatus.STOPPED,
        description="Measure the SLOs and alert on breaches.",
    )
    return [heartbeat_schedule, slo_schedule]
