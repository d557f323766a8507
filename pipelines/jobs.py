"""Jobs: extraction-to-normalized over entity-days, the close (billing to posting) over entity-months.

Both use the in-process executor: measured on two cores, a multiprocess run pays
seconds of process start-up per step (about 7 s for the extraction step, against 1.8 s
for the whole step in-process: `python -m bench.orchestration`) while these steps take
well under a second on demo-sized partitions, and every step of a run touches the same
entity file anyway. The team deployment also gets the same jobs on Dagster's Celery executor
with entity-affine queues (`*_celery`, docs/decisions/0037): `billbridge_jobs(executor)` builds
either set.
"""

from typing import Any

import dagster as dg

from assets.billing.shadow_drafts import SHADOW_DRAFTS
from assets.consolidation.group_consolidation import GROUP_CONSOLIDATION
from assets.consolidation.ledger_export import LEDGER_EXPORT
from assets.health.outcome_assets import MONTH_OUTCOME, QUARANTINE_SHARE
from assets.month_report import MONTH_REPORT
from pipelines.celery_executor import entity_affine_celery_executor
from pipelines.concurrency import ENTITY_TAG

GROUP_TAGS = {ENTITY_TAG: "group"}  # one writer of the group file: group closes queue behind each other

CELERY_SUFFIX = "_celery"


def billbridge_jobs(executor: dg.ExecutorDefinition, suffix: str = "") -> list[Any]:
    """The four jobs of an entity's month and the group close on `executor`, named `<job><suffix>`."""
    return [
        dg.define_asset_job(
            f"extract_and_normalize{suffix}",
            selection=dg.AssetSelection.groups("raw", "normalized")
            | dg.AssetSelection.assets(QUARANTINE_SHARE),
            executor_def=executor,
            description="Extract an entity's days from the PM system and normalize them (raw -> normalized).",
        ),
        dg.define_asset_job(
            f"bill_and_post{suffix}",
            # The ledger export closes the entity's month: the group close reads it, never the entity's file.
            # Allocation joins the close before posting: the outbox posts the month's journals, this month's
            # depreciation only (docs/decisions/0038-one-close-per-entity-month.md).
            selection=dg.AssetSelection.groups("billing", "allocation", "posting")
            | dg.AssetSelection.assets(LEDGER_EXPORT, MONTH_OUTCOME),
            executor_def=executor,
            description=(
                "Close an entity-month: draft its documents, allocate its shared costs, post everything exactly "
                "once (this month's depreciation only) and export its ledger for the group "
                "(billing -> allocation -> posting -> reporting)."
            ),
        ),
        # Group consolidation (docs/decisions/0011): an entity-month's Parquet ledger export, run apart from
        # billing so it never holds up an entity's close, and the group close over every entity's month.
        dg.define_asset_job(
            f"export_ledger{suffix}",
            selection=dg.AssetSelection.assets(LEDGER_EXPORT),
            executor_def=executor,
            description="Export an entity-month's ledger to Parquet for the group close (reads only its own file).",
        ),
        dg.define_asset_job(
            f"consolidate_group{suffix}",
            selection=dg.AssetSelection.assets(GROUP_CONSOLIDATION),
            executor_def=executor,
            description=(
                "Consolidate a month: translate every entity's export, book the translation difference, eliminate."
            ),
            tags=GROUP_TAGS,
        ),
    ]


extract_and_normalize, bill_and_post, export_ledger, consolidate_group = billbridge_jobs(
    dg.in_process_executor
)

# The month report (docs/decisions/0034) reads every entity's file, so it runs after the group close and
# apart from it: the group close never opens an entity's file and never waits for a busy one.
write_month_report = dg.define_asset_job(
    "write_month_report",
    selection=dg.AssetSelection.assets(MONTH_REPORT),
    executor_def=dg.in_process_executor,
    description="Write the month's HTML report from every entity's warehouse (run after the group close).",
)

# Shadow drafting (docs/decisions/0039): a candidate rule set's drafts beside the real ones, never
# in a posting job, so a shadow can neither hold up nor reach the outbox.
shadow_drafts = dg.define_asset_job(
    "shadow_drafts",
    selection=dg.AssetSelection.assets(SHADOW_DRAFTS),
    executor_def=dg.in_process_executor,
    description="Draft an entity-month with its candidate rules beside the serving ones and diff every money figure.",
)

# The team deployment's variants (not the default): every step on its entity's Celery worker.
CELERY_JOBS = billbridge_jobs(entity_affine_celery_executor, CELERY_SUFFIX)
