"""Jobs: extraction-to-normalized over entity-days, billing-to-posting over entity-months.

Both use the in-process executor: measured on two cores, a multiprocess run pays
seconds of process start-up per step (about 7 s for the extraction step, against 1.8 s
for the whole step in-process: `python -m bench.orchestration`) while these steps take
well under a second on demo-sized partitions, and every step of a run touches the same
entity file anyway.
"""

import dagster as dg

extract_and_normalize = dg.define_asset_job(
    "extract_and_normalize",
    selection=dg.AssetSelection.groups("raw", "normalized"),
    executor_def=dg.in_process_executor,
    description="Extract an entity's days from the PM system and normalize them (raw -> normalized).",
)

bill_and_post = dg.define_asset_job(
    "bill_and_post",
    selection=dg.AssetSelection.groups("billing", "posting"),
    executor_def=dg.in_process_executor,
    description="Draft an entity-month's invoices and post them exactly once (billing -> posting).",
)
