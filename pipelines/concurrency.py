"""Run tags that let the queued run coordinator serialize runs touching the same entity file.

DuckDB admits one writer process per file, and every run of our jobs writes one entity's
file. The deployment's `dagster.yaml` limits runs per unique value of ENTITY_TAG to one
(`tag_concurrency_limits` with `applyLimitPerUniqueValue`), so two runs of one entity queue
behind each other while runs of different entities proceed in parallel. Dagster itself tags
single-partition runs with `dagster/partition/entity`; the deployment limits that tag too, so
runs launched from the UI are covered, and ours carry ENTITY_TAG explicitly.
"""

from __future__ import annotations

from resources.access_config import current_identity
from resources.identity import IdentityProblem

# Who started a run and why (the audit trail), and the trace it belongs to: named in rules/tracing.py,
# where the assets that record runs read them too.
from rules.tracing import SOURCE_TAG as SOURCE_TAG
from rules.tracing import STARTED_BY_TAG as STARTED_BY_TAG
from rules.tracing import TRACE_TAG as TRACE_TAG

ENTITY_TAG = "billbridge/entity"
DAGSTER_ENTITY_TAG = "dagster/partition/entity"
CORRECTION_TAG = "billbridge/correction"


def started_by() -> str:
    """Who starts runs from this process: the CLI's person, or the account the daemon runs as."""
    try:
        identity = current_identity()
    except IdentityProblem:
        return "(unverified identity token)"
    return f"{identity.user} ({identity.source})"


def entity_tags(entity: str, source: str) -> dict[str, str]:
    """The tags every run billbridge requests carries: its entity (the concurrency key) and who asked."""
    return {ENTITY_TAG: entity, SOURCE_TAG: source, STARTED_BY_TAG: started_by()}
