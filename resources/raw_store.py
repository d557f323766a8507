"""The raw layer's writes: an append-only log of every PM record version, the current version of each
record, and the records held back, all inside the caller's transaction.

A record's new version is logged when its payload differs from the current one; a record listed
before on the days an extraction covers and absent now is logged as deleted (a tombstone) and
leaves the current tables, so the change flows downstream like any other. A record rejected by
the screen keeps its last good version: a malformed answer is not a deletion.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

import duckdb
import polars as pl

from resources.field_crypto import encrypt_frame
from resources.warehouse import Warehouse, append
from rules.drift import PayloadProfile
from rules.pm_records import PRICED_DIRECTORY_KINDS
from rules.raw_slices import ExtractionScope

VERSIONS = "raw.record_versions"
REJECTED = "raw.rejected_records"
# The current table of each kind of record (the directory's kinds share raw.directory).
CURRENT_TABLES = {
    "time_entries": "raw.time_entries",
    "expenses": "raw.expenses",
    "intercompany_time_entries": "raw.intercompany_time_entries",
}
DIRECTORY_TABLE = "raw.directory"


def _table(window: ExtractionScope) -> str:
    """The current table of the window's kind."""
    return CURRENT_TABLES.get(window.kind, DIRECTORY_TABLE)


def _where(window: ExtractionScope, alias: str = "") -> tuple[str, list[Any]]:
    """The SQL condition selecting the window's current rows (its days, or its whole list), and its parameters."""
    prefix = f"{alias}." if alias else ""
    if window.days is None:
        return f"{prefix}entity = ? AND {prefix}kind = ?", [window.entity, window.kind]
    return (
        f"{prefix}entity = ? AND {prefix}day IN (SELECT unnest(?::DATE[]))",
        [window.entity, [d.isoformat() for d in window.days]],
    )


@dataclass(frozen=True)
class WriteCounts:
    """What one write changed."""

    new_versions: int
    tombstones: int
    current: int
    rejected: int


def _latest_versions(window: ExtractionScope) -> tuple[str, list[Any]]:
    return (
        f"(SELECT record_id, max(version) AS latest FROM {VERSIONS} WHERE entity = ? AND kind = ? GROUP BY 1)",
        [window.entity, window.kind],
    )


def _current_of_kind(window: ExtractionScope) -> tuple[str, list[Any]]:
    if window.days is None:
        return f"(SELECT * FROM {DIRECTORY_TABLE} WHERE entity = ? AND kind = ?)", [
            window.entity,
            window.kind,
        ]
    return f"(SELECT * FROM {_table(window)} WHERE entity = ?)", [window.entity]


def _log_new_versions(con: duckdb.DuckDBPyConnection, window: ExtractionScope) -> int:
    current, current_params = _current_of_kind(window)
    latest, latest_params = _latest_versions(window)
    day = "NULL::DATE" if window.days is None else "s.day"
    row = con.execute(
        f"""
        INSERT INTO {VERSIONS} BY NAME
        SELECT s.entity, ? AS kind, s.record_id, coalesce(v.latest, 0) + 1 AS version,
               CASE WHEN c.record_id IS NULL THEN 'created' ELSE 'changed' END AS change, {day} AS day,
               s.payload, s.payload_hash, s.source_payload, s.extracted_at AS seen_at, s.request_url,
               s.run_id, s.contract_version
        FROM _seen AS s
        LEFT JOIN {current} AS c ON c.record_id = s.record_id
        LEFT JOIN {latest} AS v ON v.record_id = s.record_id
        WHERE c.payload_hash IS DISTINCT FROM s.payload_hash
        """,
        [window.kind, *current_params, *latest_params],
    ).fetchone()
    return int(row[0]) if row else 0


def _log_tombstones(con: duckdb.DuckDBPyConnection, window: ExtractionScope, held: list[int]) -> int:
    where, params = _where(window, "c")
    latest, latest_params = _latest_versions(window)
    day = "NULL::DATE" if window.days is None else "c.day"
    listing = "the full listing" if window.days is None else "the listing of its day"
    row = con.execute(
        f"""
        INSERT INTO {VERSIONS} BY NAME
        SELECT c.entity, ? AS kind, c.record_id, coalesce(v.latest, 0) + 1 AS version, 'deleted' AS change,
               {day} AS day, ? AS seen_at, c.request_url, ? AS run_id, c.contract_version,
               ? AS note
        FROM {_table(window)} AS c LEFT JOIN {latest} AS v ON v.record_id = c.record_id
        WHERE {where} AND c.record_id NOT IN (SELECT record_id FROM _seen)
          AND c.record_id NOT IN (SELECT unnest(?::BIGINT[]))
        """,
        [
            window.kind,
            window.extracted_at,
            window.run_id,
            f"absent from {listing} in the PM system",
            *latest_params,
            *params,
            held,
        ],
    ).fetchone()
    return int(row[0]) if row else 0


def _replace_current(
    con: duckdb.DuckDBPyConnection, window: ExtractionScope, seen: pl.DataFrame, held: list[int]
) -> None:
    where, params = _where(window)
    kind_filter, kind_params = ("AND kind = ?", [window.kind]) if window.days is None else ("", [])
    con.execute(
        f"DELETE FROM {_table(window)} WHERE (({where}) OR (entity = ? {kind_filter} AND record_id IN "
        "(SELECT record_id FROM _seen))) AND record_id NOT IN (SELECT unnest(?::BIGINT[]))",
        [*params, window.entity, *kind_params, held],
    )
    append(con, _table(window), seen.drop("source_payload"), sealed=True)  # sealed by write_records


def write_records(
    con: duckdb.DuckDBPyConnection,
    window: ExtractionScope,
    seen: pl.DataFrame,
    held: AbstractSet[int],
    *,
    sealed: bool = False,
) -> WriteCounts:
    """Log new versions and tombstones for the window, and make `seen` its current records.

    `seen` has one row per record id (the current table's columns plus `source_payload`), its personal
    fields already sealed when `sealed`; `held` are ids rejected in this extraction, whose last good
    version stays current.
    """
    held_ids = sorted(held)
    if not sealed:  # the versions are written by SQL below, not through append
        seen = encrypt_frame(VERSIONS, seen)
    con.register("_seen", seen)
    try:
        versions = _log_new_versions(con, window)
        tombstones = _log_tombstones(con, window, held_ids)
        _replace_current(con, window, seen, held_ids)
    finally:
        con.unregister("_seen")
    return WriteCounts(versions, tombstones, seen.height, 0)


def write_rejections(
    con: duckdb.DuckDBPyConnection, window: ExtractionScope, rejections: pl.DataFrame
) -> int:
    """Replace the window's rejected records and pages with this extraction's."""
    if window.days is None:
        con.execute(f"DELETE FROM {REJECTED} WHERE entity = ? AND kind = ?", [window.entity, window.kind])
    else:
        days = [d.isoformat() for d in window.days]
        con.execute(
            f"DELETE FROM {REJECTED} WHERE entity = ? AND kind = ? AND (day IN (SELECT unnest(?::DATE[])) "
            "OR (day IS NULL AND window_from >= ? AND window_to <= ?))",
            [window.entity, window.kind, days, window.days[0], window.days[-1]],
        )
    append(con, REJECTED, rejections)
    return rejections.height


PROFILES = "raw.payload_profiles"


def latest_profile(con: duckdb.DuckDBPyConnection, entity: str, kind: str) -> PayloadProfile | None:
    """The payload profile of the entity's last extraction of `kind` (None before the first)."""
    rows = con.execute(
        f"SELECT records, field, present, nulls, types FROM {PROFILES} WHERE entity = ? AND kind = ? "
        f"AND run_id = (SELECT arg_max(run_id, seen_at) FROM {PROFILES} WHERE entity = ? AND kind = ?)",
        [entity, kind, entity, kind],
    ).fetchall()
    if not rows:
        return None
    fields = [{"field": f, "present": p, "nulls": n, "types": t} for _, f, p, n, t in rows]
    return PayloadProfile.from_rows(int(rows[0][0]), fields)


def write_profile(con: duckdb.DuckDBPyConnection, window: ExtractionScope, profile: PayloadProfile) -> None:
    """Keep this extraction's profile as the next one's baseline (an empty extraction keeps none)."""
    if profile.records == 0:
        return
    frame = pl.DataFrame(
        profile.rows(),
        schema={"field": pl.String, "present": pl.Int64, "nulls": pl.Int64, "types": pl.String},
    )
    append(
        con,
        PROFILES,
        frame.with_columns(
            pl.lit(window.entity).alias("entity"),
            pl.lit(window.kind).alias("kind"),
            pl.lit(window.run_id).alias("run_id"),
            pl.lit(window.extracted_at).cast(pl.Datetime("us", "UTC")).alias("seen_at"),
            pl.lit(profile.records).cast(pl.Int64).alias("records"),
        ),
    )


def priced_directory(warehouse: Warehouse, entity: str) -> pl.DataFrame:
    """The entity's directory records that pricing reads (`kind`, `payload`; rules/pm_records.py)."""
    return warehouse.query(
        entity,
        "SELECT kind, payload FROM raw.directory WHERE entity = ? AND list_contains(?, kind)",
        [entity, list(PRICED_DIRECTORY_KINDS)],
    )
