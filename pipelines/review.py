"""The weekly sync-log review: exceptions per entity and week, as one markdown table in the UI.

An op job rather than an asset: it reads every entity's warehouse and the event inbox and
stores nothing new, so there is no data for downstream assets to depend on; its output is
the run's metadata, visible in the UI, and the same rows are in the run's log.
"""

from typing import Any

import dagster as dg
import duckdb

from resources.configuration import Settings
from resources.event_inbox import EventInbox
from resources.warehouse import Warehouse, WarehouseBusyError

# One SELECT per exception source: (week, kind, reason, count) for one entity's file.
EXCEPTION_QUERIES = {
    "quarantine": "SELECT date_trunc('week', day) AS week, reason, count(*) AS n"
    " FROM normalized.quarantine GROUP BY ALL",
    "failed check": "SELECT date_trunc('week', checked_at::DATE) AS week, check_name AS reason, count(*) AS n"
    " FROM quality.check_results WHERE NOT passed GROUP BY ALL",
    "dead letter": "SELECT date_trunc('week', updated_at::DATE) AS week, coalesce(last_error, '') AS reason,"
    " count(*) AS n FROM posting.outbox WHERE status = 'dead_letter' GROUP BY ALL",
}


def entity_exceptions(warehouse: Warehouse, entity: str) -> list[dict[str, Any]]:
    """Exception counts of one entity by week, kind and reason (empty when it has no file yet)."""
    if not warehouse.exists(entity):
        return []
    rows: list[dict[str, Any]] = []
    for kind, sql in EXCEPTION_QUERIES.items():
        for week, reason, n in warehouse.query(entity, sql).iter_rows():
            rows.append(
                {"entity": entity, "week": str(week)[:10], "kind": kind, "reason": reason, "count": n}
            )
    return rows


def markdown(rows: list[dict[str, Any]]) -> str:
    """The review as a markdown table, newest week first."""
    if not rows:
        return "No exceptions."
    ordered = sorted(rows, key=lambda r: (r["week"], r["entity"], r["kind"], r["reason"]), reverse=True)
    lines = ["| week | entity | kind | reason | count |", "| --- | --- | --- | --- | --- |"]
    lines += [
        f"| {r['week']} | {r['entity']} | {r['kind']} | {r['reason']} | {r['count']} |" for r in ordered
    ]
    return "\n".join(lines)


@dg.op(description="Collect exceptions per entity and week from every warehouse and the event inbox.")
def review_exceptions(context: dg.OpExecutionContext, settings: Settings) -> dg.Output[int]:
    # Read-only and briefly: the review must never take an entity's file from a run writing it.
    warehouse = Warehouse(read_only=True, lock_wait_s=5.0)
    rows: list[dict[str, Any]] = []
    busy: list[str] = []
    for entity in settings.entity_ids:
        try:
            rows += entity_exceptions(warehouse, entity)
        except (duckdb.Error, WarehouseBusyError) as exc:  # a run holds the file: review the others
            busy.append(entity)
            context.log.warning(f"{entity}: warehouse busy, left out of this review: {exc}")
    inbox = EventInbox()
    for event_id, event_type, reason in inbox.rejected(limit=1000):
        rows.append({"entity": "-", "week": "-", "kind": "rejected event", "reason": reason, "count": 1})
        context.log.info(f"rejected event {event_id} ({event_type}): {reason}")
    total = sum(int(r["count"]) for r in rows)
    return dg.Output(
        total,
        metadata={
            "exceptions": total,
            "entities_busy": ", ".join(busy) or "none",
            "review": dg.MetadataValue.md(markdown(rows)),
        },
    )


@dg.job(description="Weekly sync-log review: exceptions per entity and week.")
def weekly_review() -> None:
    review_exceptions()
