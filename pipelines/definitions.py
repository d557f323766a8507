"""The one code location: every asset, check, job, schedule, sensor and resource of billbridge.

`build_definitions(config)` builds them all from one configuration object: its entities and
billing start make the partitions, its schedules and sensors are built from it, and the object
itself reaches assets and ops as the `settings` resource. The module-level `defs` (what
`make ui` loads through workspace.yaml) is built from the configuration file; a test builds its
own from a configuration made in code. Secrets and endpoints come from the environment (see
.env.example); nothing is read from them until a run starts. Each capability adds its pieces to
the lists below, one line each.
"""

import os
from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg

from assets.allocation.allocation_assets import build_cost_allocations
from assets.billing.correction_drafts import build_correction_drafts
from assets.billing.invoice_drafts import build_invoice_drafts
from assets.billing.shadow_drafts import build_shadow_drafts
from assets.consolidation.group_consolidation import build_group_consolidation
from assets.consolidation.ledger_export import build_ledger_export
from assets.health.heartbeat import build_heartbeat
from assets.health.outcome_assets import build_month_outcome, build_quarantine_share
from assets.health.slo_status import build_slo_status
from assets.intercompany.intercompany_charges import build_intercompany_charges
from assets.month_report import build_month_report
from assets.normalized.billable_lines import build_billable_lines
from assets.outbound_sources import DOCUMENT_SOURCES
from assets.partitions import Partitions
from assets.posting.pm_write_back import build_pm_write_back
from assets.posting.posted_invoices import build_posted_invoices
from assets.raw.pm_consistency import build_pm_consistency
from assets.raw.pm_extracts import build_pm_extracts
from assets.reconciliation.inputs import build_bank_statement_lines, build_receivables
from assets.reconciliation.matches import build_bank_matches
from assets.reconciliation.settlement_payments import build_settlement_payments
from pipelines.allocation_jobs import build_reallocate
from pipelines.audit_runs import AUDIT_SENSORS
from pipelines.consistency import build_consistency_repairs, build_consistency_schedule, check_pm_consistency
from pipelines.health_jobs import HEALTH_JOBS, build_health_schedules
from pipelines.jobs import (
    CELERY_JOBS,
    bill_and_post,
    consolidate_group,
    export_ledger,
    extract_and_normalize,
    shadow_drafts,
    write_month_report,
)
from pipelines.reconciliation_jobs import RECONCILIATION_JOBS, build_reconciliation_sensors
from pipelines.retention_jobs import archive_closed_periods
from pipelines.review import weekly_review
from pipelines.schedules import build_schedules
from pipelines.sensors import build_sensors
from resources.configuration import SETTINGS, current_config
from resources.fx import EcbRates
from resources.harvest import HarvestClient
from resources.secrets_file import secure_process
from resources.warehouse import Warehouse
from resources.xero import XeroClient
from rules.settings import BillbridgeConfig

secure_process()  # owner-only files, secrets from the secrets file: before any resource reads them


def build_resources() -> dict[str, Any]:
    """The resources, bound to environment variables (secrets never appear in code or config files)."""
    return {
        "harvest": HarvestClient(
            base_url=dg.EnvVar("HARVEST_BASE_URL"),
            account_id=dg.EnvVar("HARVEST_ACCOUNT_ID"),
            access_token=dg.EnvVar("HARVEST_ACCESS_TOKEN"),
        ),
        # Credentials are read from the environment at call time (resources/oauth.bearer_auth).
        "xero": XeroClient(base_url=dg.EnvVar("XERO_BASE_URL")),
        "warehouse": Warehouse(),
        "fx": EcbRates(source_url=os.environ.get("BILLBRIDGE_FX_URL", "")),
        "document_sources": DOCUMENT_SOURCES,  # every producer of outbound documents, for the outbox
    }


# Each asset factory builds its assets over the configuration's partitions.
ASSET_FACTORIES: list[Callable[[Partitions], dg.AssetsDefinition]] = [
    build_pm_extracts,
    build_pm_consistency,
    build_billable_lines,
    build_invoice_drafts,
    build_shadow_drafts,  # decision 0039
    build_correction_drafts,
    build_intercompany_charges,
    build_posted_invoices,
    build_pm_write_back,  # decision 0031: booked invoices and payments back to Harvest, behind a switch
    build_cost_allocations,
    build_ledger_export,
    build_group_consolidation,
    build_quarantine_share,
    build_month_outcome,
    *(build_slo_status, build_heartbeat),  # decision 0035
    build_month_report,  # decision 0034
    *(
        build_bank_statement_lines,
        build_receivables,
        build_bank_matches,
        build_settlement_payments,
    ),  # decision 0024
]
# Definitions that do not depend on the configuration, one line each.
ASSETS: list[dg.AssetsDefinition] = []
ASSET_CHECKS: list[dg.AssetChecksDefinition] = []
# Asset jobs select by group or key, so they take the partitions of the assets they are bound to.
JOBS: list[Any] = [  # asset jobs (unresolved until Definitions binds them) and op jobs
    extract_and_normalize,
    bill_and_post,
    weekly_review,
    export_ledger,
    consolidate_group,
    *RECONCILIATION_JOBS,
    check_pm_consistency,
    *HEALTH_JOBS,
    archive_closed_periods,
    shadow_drafts,
    write_month_report,
    *CELERY_JOBS,  # decision 0037: the same jobs on Celery workers, for the team deployment
]
SCHEDULES: list[dg.ScheduleDefinition] = []
SENSORS: list[dg.SensorDefinition] = [*AUDIT_SENSORS]


def build_definitions(config: BillbridgeConfig, resources: Mapping[str, Any] | None = None) -> dg.Definitions:
    """Every definition of billbridge for `config`; `resources` replace the environment-bound defaults."""
    partitions = Partitions.of(config)
    return dg.Definitions(
        assets=[*(build(partitions) for build in ASSET_FACTORIES), *ASSETS],
        asset_checks=ASSET_CHECKS,
        jobs=[*JOBS, build_reallocate(config)],
        schedules=[
            *build_schedules(config),
            build_consistency_schedule(config),
            *build_health_schedules(config),
            *SCHEDULES,
        ],
        sensors=[
            *build_sensors(config, partitions),
            *build_reconciliation_sensors(config, partitions),
            build_consistency_repairs(partitions),
            *SENSORS,
        ],
        resources={**build_resources(), SETTINGS: config, **(resources or {})},
    )


defs = build_definitions(current_config())


def current_definitions() -> dg.Definitions:
    """The code location for the configuration the process holds now: `defs`, unless an entry point
    (the CLI, or a test of it) has loaded another configuration since."""
    config = current_config()
    return defs if (defs.resources or {}).get(SETTINGS) is config else build_definitions(config)
