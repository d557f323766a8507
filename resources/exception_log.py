"""Exceptions an entity's file records, counted by week, kind and reason: the weekly review and the month
report read the same rows (quarantined records by the work's day, failed checks and dead letters by when
they happened)."""

from __future__ import annotations

from typing import Any

from resources.warehouse import Warehouse

# One SELECT per exception source: (week, reason, count) for one entity's file.
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
