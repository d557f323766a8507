"""Health history in the group file, and the SLO figures the entity warehouses hold.

The entity files are only read (read-only connections, as `billbridge report` reads them);
the history (`health.slo_status`, `health.heartbeat_steps`) is written to the group file,
never to an entity's file, so a heartbeat or a measurement cannot touch an entity's ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import polars as pl

from resources.warehouse import Warehouse, append

SLO_HISTORY = "health.slo_status"
HEARTBEAT_HISTORY = "health.heartbeat_steps"
HEARTBEAT_STEPS = 5  # extract, price, draft, post, look up: a heartbeat succeeded when all five did

# The slowest PM change to its booked document: per entity-period booked in the window, the time of
# the last booking minus the last PM `updated_at` among its time entries.
_CHANGE_TO_LEDGER = """
WITH booked AS (
    SELECT entity, period, max(updated_at) AS booked_at FROM posting.outbox
    WHERE status = 'confirmed' AND updated_at >= ? GROUP BY 1, 2
), changed AS (
    SELECT entity, strftime(day, '%Y-%m') AS period,
           max(TRY_CAST(json_extract_string(payload, '$.updated_at') AS TIMESTAMPTZ)) AS changed_at
    FROM raw.time_entries WHERE strftime(day, '%Y-%m') IN (SELECT period FROM booked) GROUP BY 1, 2
)
SELECT max(epoch(booked_at) - epoch(changed_at)) AS seconds
FROM booked JOIN changed USING (entity, period) WHERE booked_at >= changed_at
"""
_OUTBOX_COUNTS = """
SELECT count(*) FILTER (WHERE status IN ('pending', 'sent')) AS unposted,
       count(*) FILTER (WHERE status = 'dead_letter') AS dead_letters,
       count(*) FILTER (WHERE status = 'dead_letter' AND updated_at >= ?) AS new_dead_letters
FROM posting.outbox
"""
_MISMATCHES = "SELECT count(*) AS n FROM reconciliation.line_state WHERE status = 'exception'"


@dataclass(frozen=True)
class LedgerFigures:
    """What the entity files say, summed over entities (latency: the slowest)."""

    unposted_documents: int = 0
    dead_letters: int = 0
    new_dead_letters: int = 0
    reconciliation_mismatches: int = 0
    change_to_ledger_hours: Decimal | None = None


def ledger_figures(
    warehouse: Warehouse, entities: list[str], window_start: datetime, since_last: datetime
) -> LedgerFigures:
    """Backlog, dead letters (all, and new since `since_last`), mismatches and latency of every entity file."""
    reader = Warehouse(home=warehouse.home, read_only=True, lock_wait_s=warehouse.lock_wait_s)
    unposted = dead = new_dead = mismatches = 0
    slowest: Decimal | None = None
    for entity in entities:
        if not reader.exists(entity):
            continue
        counts = reader.query(entity, _OUTBOX_COUNTS, [since_last]).row(0, named=True)
        unposted += int(counts["unposted"])
        dead += int(counts["dead_letters"])
        new_dead += int(counts["new_dead_letters"])
        mismatches += int(reader.query(entity, _MISMATCHES)["n"][0])
        seconds = reader.query(entity, _CHANGE_TO_LEDGER, [window_start])["seconds"][0]
        if seconds is not None:
            hours = (Decimal(str(seconds)) / Decimal(3600)).quantize(Decimal("0.01"))
            slowest = hours if slowest is None else max(slowest, hours)
    return LedgerFigures(unposted, dead, new_dead, mismatches, slowest)


def last_measured_at(warehouse: Warehouse) -> datetime | None:
    """When the SLOs were last measured (None: never)."""
    frame = warehouse.group_query(f"SELECT max(measured_at) AS at FROM {SLO_HISTORY}")
    return frame["at"][0]


def record_slo_status(warehouse: Warehouse, rows: pl.DataFrame) -> None:
    """Append one measurement (a row per SLO) to the history."""
    with warehouse.group_transaction() as con:
        append(con, SLO_HISTORY, rows)


def record_heartbeat(warehouse: Warehouse, steps: pl.DataFrame) -> None:
    """Append one heartbeat's steps to the history."""
    with warehouse.group_transaction() as con:
        append(con, HEARTBEAT_HISTORY, steps)


def last_heartbeat_success(warehouse: Warehouse, tenant_id: str) -> datetime | None:
    """When the last heartbeat against `tenant_id` whose every step succeeded started (None: never)."""
    frame = warehouse.group_query(
        f"SELECT max(started_at) AS at FROM (SELECT run_id, min(started_at) AS started_at FROM {HEARTBEAT_HISTORY}"
        " WHERE tenant_id = ? GROUP BY run_id HAVING count(*) FILTER (WHERE ok) = ?)",
        [tenant_id, HEARTBEAT_STEPS],
    )
    return frame["at"][0]


def heartbeat_history(warehouse: Warehouse, limit: int = 20) -> pl.DataFrame:
    """The latest heartbeats, one row each: when, whether every step succeeded, total latency."""
    return warehouse.group_query(
        f"SELECT run_id, min(started_at) AS started_at, bool_and(ok) AND count(*) = ? AS ok,"
        f" sum(latency_ms) AS latency_ms FROM {HEARTBEAT_HISTORY} GROUP BY run_id"
        " ORDER BY started_at DESC LIMIT ?",
        [HEARTBEAT_STEPS, limit],
    )
