"""posting.dead_letters: documents the ledger refused or that ran out of attempts, until an operator acts.

Ids are `<entity>-<n>`. States: open, replayed (sent again through the outbox), discarded (closed
by an operator with a reason), booked (found in the ledger after all: closed, with a note).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import duckdb
import polars as pl

from resources.warehouse import Warehouse
from rules.outbox.rows import OutboxRow


class DeadLetterError(ValueError):
    """A dead letter that does not exist or is no longer open."""


def insert_letters(
    con: duckdb.DuckDBPyConnection, rows: list[OutboxRow], documents: dict[str, str], run_id: str
) -> None:
    """Open a dead letter for each row just moved to dead_letter (inside the caller's transaction)."""
    if not rows:
        return
    entity = rows[0].entity
    count = con.execute("SELECT count(*) FROM posting.dead_letters WHERE entity = ?", [entity]).fetchone()
    next_no = int(count[0]) + 1 if count else 1
    now = datetime.now(UTC)
    for offset, row in enumerate(rows):
        con.execute(
            "INSERT INTO posting.dead_letters VALUES (?, ?, ?, ?, ?, ?, ?, 'open', NULL, ?, NULL, ?)",
            [
                f"{entity}-{next_no + offset}",
                row.document_number,
                entity,
                row.period,
                documents.get(row.document_number) or last_sent_document(con, row.document_number),
                row.last_error or "rejected",
                row.attempts,
                now,
                run_id,
            ],
        )


def last_sent_document(con: duckdb.DuckDBPyConnection, number: str) -> str:
    """The document as it was last sent (from the request log), for a dead letter made without it at hand."""
    found = con.execute(
        "SELECT request_body FROM posting.requests WHERE method = 'PUT' "
        "AND list_contains(string_split(document_numbers, ','), ?) ORDER BY started_at DESC LIMIT 1",
        [number],
    ).fetchone()
    if found is None:
        return "{}"
    for elements in json.loads(found[0]).values():
        for element in elements if isinstance(elements, list) else []:
            if number in (element.get("InvoiceNumber"), element.get("CreditNoteNumber")) or str(
                element.get("Narration", "")
            ).startswith(f"{number}: "):
                return json.dumps(element, separators=(",", ":"))
    return "{}"


def close_letters(con: duckdb.DuckDBPyConnection, numbers: list[str], state: str, resolution: str) -> None:
    """Close the open dead letters of these documents (inside the caller's transaction)."""
    if numbers:
        con.execute(
            "UPDATE posting.dead_letters SET state = ?, resolution = ?, resolved_at = ? "
            "WHERE state = 'open' AND document_number IN (SELECT unnest(?::VARCHAR[]))",
            [state, resolution, datetime.now(UTC), numbers],
        )


def list_dead_letters(warehouse: Warehouse, entity: str, include_closed: bool = False) -> pl.DataFrame:
    """The entity's dead letters, newest last (open ones only unless include_closed)."""
    where = "" if include_closed else "WHERE state = 'open'"
    return warehouse.query(
        entity,
        "SELECT dead_letter_id, document_number, period, state, attempts, error, created_at, resolution "
        f"FROM posting.dead_letters {where} ORDER BY created_at, dead_letter_id",
    )


def show_dead_letter(warehouse: Warehouse, entity: str, dead_letter_id: str) -> dict[str, Any]:
    """One dead letter with its document and every request that carried it (secrets already redacted)."""
    rows = warehouse.query(
        entity, "SELECT * FROM posting.dead_letters WHERE dead_letter_id = ?", [dead_letter_id]
    )
    if rows.height == 0:
        raise DeadLetterError(f"no dead letter {dead_letter_id!r} in entity {entity!r}")
    letter = rows.row(0, named=True)
    requests = warehouse.query(
        entity,
        "SELECT request_id, method, url, request_headers, request_body, status_code, response_body, outcome, "
        "started_at, finished_at FROM posting.requests "
        "WHERE list_contains(string_split(document_numbers, ','), ?) ORDER BY started_at",
        [letter["document_number"]],
    )
    return {**letter, "requests": requests.to_dicts()}


def open_letter(warehouse: Warehouse, entity: str, dead_letter_id: str) -> dict[str, Any]:
    """An open dead letter, or DeadLetterError saying why it cannot be acted on."""
    letter = show_dead_letter(warehouse, entity, dead_letter_id)
    if letter["state"] != "open":
        raise DeadLetterError(
            f"dead letter {dead_letter_id} is already {letter['state']}: {letter['resolution']}"
        )
    return letter
