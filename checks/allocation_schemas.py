"""pandera models of the allocation frames: the write gate before anything reaches `allocation.*`.

Derived from the registered tables (rules/schemas/tables_allocation.py) without the run metadata
(`run_id`, `entity`, `period`, `rule_set_version`) the writer adds. Money columns are Decimal(18,4)
(exact shares Decimal(38,8)); a float or rescaled column fails validation instead of reaching the
warehouse.
"""

from __future__ import annotations

from checks.registered import model_for

RUN_METADATA = ("run_id", "entity", "period", "rule_set_version")

AllocationSlices = model_for("allocation.slices", "AllocationSlices", without=RUN_METADATA)
PoolLines = model_for("allocation.pool_lines", "PoolLines", without=RUN_METADATA)
JournalDrafts = model_for("allocation.journal_drafts", "JournalDrafts", without=RUN_METADATA)
Profitability = model_for("allocation.profitability", "Profitability", without=RUN_METADATA)
