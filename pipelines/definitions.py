"""The one code location: every asset, check, job, schedule, sensor and resource of billbridge.

`make ui` loads this file through workspace.yaml. Secrets and endpoints come from the
environment (see .env.example); nothing is read from them until a run starts. Each
capability adds its pieces to the lists below, one line each.
"""

import os
from typing import Any

import dagster as dg

from assets.allocation.allocation_assets import cost_allocations
from assets.billing.correction_drafts import correction_drafts
from assets.billing.invoice_drafts import invoice_drafts
from assets.consolidation.group_consolidation import group_consolidation
from assets.consolidation.ledger_export import ledger_export
from assets.health.outcome_assets import month_outcome_asset, quarantine_share
from assets.intercompany.intercompany_charges import intercompany_charges
from assets.normalized.billable_lines import billable_lines
from assets.posting.posted_invoices import posted_invoices
from assets.raw.pm_extracts import pm_extracts
from assets.reconciliation.inputs import bank_statement_lines, receivables
from assets.reconciliation.matches import bank_matches
from assets.reconciliation.settlement_payments import settlement_payments
from pipelines.allocation_jobs import reallocate
from pipelines.audit_runs import AUDIT_SENSORS
from pipelines.jobs import bill_and_post, consolidate_group, export_ledger, extract_and_normalize
from pipelines.reconciliation_jobs import RECONCILIATION_JOBS, RECONCILIATION_SENSORS
from pipelines.review import weekly_review
from pipelines.schedules import SCHEDULES as ORCHESTRATION_SCHEDULES
from pipelines.sensors import SENSORS as ORCHESTRATION_SENSORS
from resources.fx import EcbRates
from resources.harvest import HarvestClient
from resources.secrets_file import secure_process
from resources.warehouse import Warehouse
from resources.xero import XeroClient

secure_process()  # owner-only files, secrets from the secrets file: before any resource reads them


def build_resources() -> dict[str, dg.ConfigurableResource]:
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
    }


ASSETS: list[dg.AssetsDefinition] = [
    pm_extracts,
    billable_lines,
    invoice_drafts,
    correction_drafts,
    intercompany_charges,
    posted_invoices,
    cost_allocations,
    ledger_export,
    group_consolidation,
    quarantine_share,
    month_outcome_asset,
    *(bank_statement_lines, receivables, bank_matches, settlement_payments),  # reconciliation (decision 0024)
]
ASSET_CHECKS: list[dg.AssetChecksDefinition] = []
JOBS: list[Any] = [  # asset jobs (unresolved until Definitions binds them) and op jobs
    extract_and_normalize,
    bill_and_post,
    reallocate,
    weekly_review,
    export_ledger,
    consolidate_group,
    *RECONCILIATION_JOBS,
]
SCHEDULES: list[dg.ScheduleDefinition] = [*ORCHESTRATION_SCHEDULES]
SENSORS: list[dg.SensorDefinition] = [*ORCHESTRATION_SENSORS, *AUDIT_SENSORS, *RECONCILIATION_SENSORS]

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=ASSET_CHECKS,
    jobs=JOBS,
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources=build_resources(),
)
