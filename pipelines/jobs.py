"""Jobs: extraction-to-normalized over entity-days, the close (billing to posting) over entity-months.

Both use the in-process executor: measured on two cores, a multiprocess run pays
seconds of process start-up per step (about 7 s for the extraction step, against 1.8 s
for the whole step in-process: `python -m bench.orchestration`) while these steps take
well under a second on demo-sized partitions, and every step of a run touches the same
entity file anyway.
"""

import dagster as dg

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
    # Allocation joins the close before posting: the outbox posts the month's journals, this month's
    # depreciation only (docs/decisions/0038-one-close-per-entity-month.md).
    selection=dg.AssetSelection.groups("billing", "allocation", "posting")
    | dg.AssetSelection.assets(LEDGER_EXPORT, MONTH_OUTCOME),
    executor_def=dg.in_process_executor,
    description=(
        "Close an entity-month: draft its documents, allocate its shared costs, post everything exactly "
        "once (this month's depreciation only) and export its ledger for the group "
        "(billing -> allocation -> posting -> reporting)."
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
