"""Dead letters: list, show, replay through the same exactly-once path, or discard with a reason."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import polars as pl

from assets.posting.outbox import PostingOutcome, post_period
from resources.warehouse import Warehouse
from resources.xero import XeroClient
from rules.settings import EntityConfig


class DeadLetterError(ValueError):
    """A dead letter that does not exist or is no longer open."""


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


def _open_letter(warehouse: Warehouse, entity: str, dead_letter_id: str) -> dict[str, Any]:
    letter = show_dead_letter(warehouse, entity, dead_letter_id)
    if letter["state"] != "open":
        raise DeadLetterError(
            f"dead letter {dead_letter_id} is already {letter['state']}: {letter['resolution']}"
        )
    return letter


def replay_dead_letters(
    entity: EntityConfig, ids: list[str], warehouse: Warehouse, xero: XeroClient, run_id: str | None = None
) -> PostingOutcome:
    """Send dead-lettered documents again from the current drafts (after the mapping was fixed).

    The outbox rows go back to pending and the normal posting pass runs for just those numbers,
    so a replay is looked up before it is sent and can never post a document twice.
    """
    run_id = run_id or f"dlq-replay-{uuid.uuid4().hex[:12]}"
    letters = [_open_letter(warehouse, entity.id, i) for i in ids]
    now = datetime.now(UTC)
    with warehouse.transaction(entity.id) as con:
        for letter in letters:
            con.execute(
                "UPDATE posting.outbox SET status = 'pending', attempts = 0, updated_at = ? "
                "WHERE document_number = ? AND status = 'dead_letter'",
                [now, letter["document_number"]],
            )
            con.execute(
                "UPDATE posting.dead_letters SET state = 'replayed', resolution = ?, resolved_at = ? "
                "WHERE dead_letter_id = ?",
                [f"replayed in run {run_id}", now, letter["dead_letter_id"]],
            )
    total = PostingOutcome()
    for period in sorted({letter["period"] for letter in letters}):
        numbers = [letter["document_number"] for letter in letters if letter["period"] == period]
        outcome = post_period(entity, period, warehouse, xero, run_id, only=numbers)
        for name in ("posted_new", "already_posted", "found_by_lookup", "dead_lettered", "unresolved"):
            getattr(total, name).extend(getattr(outcome, name))
        total.requests += outcome.requests
        total.skipped = total.skipped or outcome.skipped
        total.blocked_by = total.blocked_by or outcome.blocked_by
        total.stopped = total.stopped or outcome.stopped
    return total


def discard_dead_letter(warehouse: Warehouse, entity: str, dead_letter_id: str, reason: str) -> None:
    """Close a dead letter without sending it (e.g. billed by hand); the reason is kept."""
    if not reason.strip():
        raise DeadLetterError("a discard needs a reason")
    letter = _open_letter(warehouse, entity, dead_letter_id)
    now = datetime.now(UTC)
    with warehouse.transaction(entity) as con:
        con.execute(
            "UPDATE posting.dead_letters SET state = 'discarded', resolution = ?, resolved_at = ? "
            "WHERE dead_letter_id = ?",
            [f"discarded: {reason.strip()}", now, dead_letter_id],
        )
        con.execute(
            "UPDATE posting.outbox SET status = 'discarded', last_error = ?, updated_at = ? "
            "WHERE document_number = ? AND status = 'dead_letter'",
            [f"discarded: {reason.strip()}", now, letter["document_number"]],
        )
