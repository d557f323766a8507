"""Jobs: extraction-to-normalized over entity-days, billing-to-posting over entity-months.

Both use the in-process executor: measured on two cores, a multiprocess run pays
seconds of process start-up per step (about 7 s for the extraction step, against 1.8 s
for the whole step in-process: `python -m bench.orchestration`) while these steps take
well under a second on demo-sized partitions, and every step of a run touches the same
entity file anyway.
"""

import dagster as dg

from assets.billing.shadow_drafts import SHADOW_DRAFTS
from assets.consolidation.group_consolidation import GROUP_CONSOLIDATION
from assets.consolidation.ledger_export import LEDGER_EXPORT
from assets.health.outcome_assets import MONTH_OUTCOME, QUARANTINE_SHARE
from assets.month_report import MONTH_REPORT
from pipelines.concurrency import ENTITY_TAG

GROUP_TAGS = {ENTITY_TAG: "group"}  # one writer of the group file: group closes queue behind each other

extract_and_normalize = dg.define_asset_job(
    "extract_and_normalize",
    selection=dg.AssetSelection.groups("raw", "normalized") | dg.AssetSelection.assets(QUARANTINE_SHARE),
    executor_def=dg.in_process_executor,
    description="Extract an entity's days from the PM system and normalize them (raw -> normalized).",
)

bill_and_post = dg.define_asset_job(
    "bill_and_post",
    # The ledger export closes the entity's month: the group close reads it, never the entity's file.
    selection=dg.AssetSelection.groups("billing", "posting")
    | dg.AssetSelection.assets(LEDGER_EXPORT, MONTH_OUTCOME),
    executor_def=dg.in_process_executor,
    description=(
        "Draft an entity-month's documents, post them exactly once and export its ledger for the group "
        "(billing -> posting -> reporting)."
    ),
)

# Group consolidation (docs/decisions/0011): an entity-month's Parquet ledger export, run apart from
# billing so it never holds up an entity's close, and the group close over every entity's month.
export_ledger = dg.define_asset_job(
    "export_ledger",
    selection=dg.AssetSelection.assets(LEDGER_EXPORT),
    executor_def=dg.in_process_executor,
    description="Export an entity-month's ledger to Parquet for the group close (reads only its own file).",
)

consolidate_group = dg.define_asset_job(
    "consolidate_group",
    # The month report closes the month too: written once every entity's month is in, beside the group.
    selection=dg.AssetSelection.assets(GROUP_CONSOLIDATION, MONTH_REPORT),
    executor_def=dg.in_process_executor,
    description=(
        "Consolidate a month: translate every entity's export, book the translation difference, eliminate; "
        "then write the month report."
    ),
    tags=GROUP_TAGS,
)

# Shadow drafting (docs/decisions/0039): a candidate rule set's drafts beside the real ones, never
# in a posting job, so a shadow can neither hold up nor reach the outbox.
shadow_drafts = dg.define_asset_job(
    "shadow_drafts",
    selection=dg.AssetSelection.keys(SHADOW_DRAFTS),
    executor_def=dg.in_process_executor,
    description="Draft an entity-month with its candidate rules beside the serving ones and diff every money figure.",
)
