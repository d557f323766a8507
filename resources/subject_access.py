"""A subject access export (GDPR article 15): everything held about one person, decrypted, portable.

The person is named by their PM user id. Every entity's warehouse file is searched (raw
records they logged or that describe them, every stored version of those records, normalized
lines they worked, quarantined records), and so are the archives when there are any
(`$BILLBRIDGE_HOME/archive/<entity>/<period>/*.parquet`, docs/decisions/0033); personal fields
are decrypted and payloads restored to the bytes the PM system sent. A person who was erased
is said to be (the erasure register's entries, with the legal basis for what is kept), and
their fields read `[erased]`. The result is one JSON document, written owner-only.
"""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

import polars as pl

from resources.field_crypto import PM_RECORD_FIELDS, current_ring, decrypt_frame, decrypt_payload, person_of
from resources.person_keys import PersonKeyStore
from resources.private_files import PRIVATE_FILE_MODE
from resources.warehouse import Warehouse, default_home

_USER_ID = "try(json_extract({column}, '$.user.id'))::BIGINT = $1"
# (table, SQL condition naming the person through parameter $1) per place a person appears;
# the erasure (resources/erasure.py) re-seals exactly these rows.
PLACES: tuple[tuple[str, str], ...] = (
    ("raw.time_entries", _USER_ID.format(column="payload")),
    ("raw.expenses", _USER_ID.format(column="payload")),
    ("raw.intercompany_time_entries", _USER_ID.format(column="payload")),
    ("raw.directory", f"(kind = 'users' AND record_id = $1) OR {_USER_ID.format(column='payload')}"),
    (
        "raw.record_versions",
        f"(kind = 'users' AND record_id = $1) OR {_USER_ID.format(column='payload')} "
        f"OR {_USER_ID.format(column='source_payload')}",
    ),
    ("normalized.quarantine", _USER_ID.format(column="payload")),
    ("normalized.billable_lines", "person_id = $1"),
)
PAYLOAD_COLUMNS = ("payload", "source_payload")


def _opened(row: dict[str, Any]) -> dict[str, Any]:
    """A row with its payloads decrypted and parsed (a body that is not JSON stays text)."""
    for column in PAYLOAD_COLUMNS:
        if isinstance(row.get(column), str):
            with contextlib.suppress(json.JSONDecodeError):  # a body that never was JSON stays text
                row[column] = json.loads(decrypt_payload(row[column], PM_RECORD_FIELDS, current_ring()))
    return row


def archive_rows(home: Path, entity: str, person_id: int) -> dict[str, list[dict[str, Any]]]:
    """The person's rows in the entity's archives, by `<period>/<file stem>` (none when nothing is
    archived): a file's rows are theirs by `person_id` or by the person a payload is about."""
    found: dict[str, list[dict[str, Any]]] = {}
    for path in sorted((home / "archive" / entity).glob("*/*.parquet")):
        frame = pl.read_parquet(path)
        if "person_id" in frame.columns:
            mine = frame.filter(pl.col("person_id") == person_id)
        elif "payload" in frame.columns and frame.schema["payload"] == pl.String:
            kinds = frame["kind"].to_list() if "kind" in frame.columns else [None] * frame.height
            owners = [_payload_owner(p, k) for p, k in zip(frame["payload"].to_list(), kinds, strict=True)]
            mine = frame.filter(pl.Series(owners) == person_id)
        else:
            continue
        if mine.height:
            found[f"{path.parent.name}/{path.stem}"] = [_opened(r) for r in decrypt_frame(mine).to_dicts()]
    return found


def _payload_owner(payload: str | None, kind: str | None) -> int | None:
    try:
        return person_of(json.loads(payload), kind) if payload else None
    except json.JSONDecodeError:
        return None


def subject_access(warehouse: Warehouse, entities: list[str], person_id: int) -> dict[str, Any]:
    """Everything about PM user `person_id`, by entity and table (and archive), and any erasure."""
    found: dict[str, Any] = {"person_id": person_id, "entities": {}, "archives": {}}
    erasures = PersonKeyStore().erasures(person_id)
    if erasures:
        found["erased"] = [
            {"erased_at": e.erased_at, "reason": e.reason, "basis": e.basis, "kept": json.loads(e.kept)}
            for e in erasures
        ]
    home = Path(warehouse.home or default_home())
    for entity in entities:
        archived = archive_rows(home, entity, person_id)
        if archived:
            found["archives"][entity] = archived
        if not warehouse.exists(entity):
            continue
        tables = {}
        for table, condition in PLACES:
            rows = warehouse.query(entity, f"SELECT * FROM {table} WHERE {condition}", [person_id])
            if rows.height:
                tables[table] = [_opened(row) for row in rows.to_dicts()]
        if tables:
            found["entities"][entity] = tables
    return found


def write_export(document: dict[str, Any], path: Path) -> None:
    """The export as JSON, created owner-only."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, default=str, ensure_ascii=False)
