"""A subject access export (GDPR article 15): everything held about one person, decrypted, portable.

The person is named by their PM user id. Every entity's warehouse file is searched (raw
records they logged or that describe them, normalized lines they worked, quarantined records),
and the webhook inbox; personal fields are decrypted and payloads restored to the bytes the
PM system sent. The result is one JSON document, written owner-only. Archives are not searched
because nothing is archived yet (retention and archival are not built).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from resources.field_crypto import PM_RECORD_FIELDS, current_ring, decrypt_payload
from resources.private_files import PRIVATE_FILE_MODE
from resources.warehouse import Warehouse

# (table, SQL condition naming the person through parameter ?) per place a person appears.
PLACES: tuple[tuple[str, str], ...] = (
    ("raw.time_entries", "json_extract(payload, '$.user.id')::BIGINT = ?"),
    ("raw.expenses", "json_extract(payload, '$.user.id')::BIGINT = ?"),
    ("raw.intercompany_time_entries", "json_extract(payload, '$.user.id')::BIGINT = ?"),
    ("raw.directory", "kind = 'users' AND record_id = ?"),
    ("normalized.quarantine", "json_extract(payload, '$.user.id')::BIGINT = ?"),
    ("normalized.billable_lines", "person_id = ?"),
)


def _opened(row: dict[str, Any]) -> dict[str, Any]:
    """A row with its payload decrypted and parsed."""
    if isinstance(row.get("payload"), str):
        row["payload"] = json.loads(decrypt_payload(row["payload"], PM_RECORD_FIELDS, current_ring()))
    return row


def subject_access(warehouse: Warehouse, entities: list[str], person_id: int) -> dict[str, Any]:
    """Everything about PM user `person_id`, by entity and table."""
    found: dict[str, Any] = {"person_id": person_id, "entities": {}}
    for entity in entities:
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
