"""Dead letters: replay through the same exactly-once path, or discard with a reason."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from assets.posting.outbox import post_period
from resources.outbox.dead_letters import DeadLetterError, open_letter
from resources.outbox.sources import DocumentSources
from resources.warehouse import Warehouse
from resources.xero import XeroClient
from rules.outbox.outcome import PostingOutcome
from rules.settings import EntityConfig


def replay_dead_letters(
    entity: EntityConfig,
    ids: list[str],
    warehouse: Warehouse,
    xero: XeroClient,
    sources: DocumentSources,
    run_id: str | None = None,
) -> PostingOutcome:
    """Send dead-lettered documents again from the current drafts (after the mapping was fixed).

    The outbox rows go back to pending and the normal posting pass runs for just those numbers,
    so a replay is looked up before it is sent and can never post a document twice.
    """
    run_id = run_id or f"dlq-replay-{uuid.uuid4().hex[:12]}"
    letters = [open_letter(warehouse, entity.id, i) for i in ids]
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
        total.add(post_period(entity, period, warehouse, xero, run_id, sources=sources, only=numbers))
    return total


def discard_dead_letter(warehouse: Warehouse, entity: str, dead_letter_id: str, reason: str) -> None:
    """Close a dead letter without sending it (e.g. billed by hand); the reason is kept."""
    if not reason.strip():
        raise DeadLetterError("a discard needs a reason")
    letter = open_letter(warehouse, entity, dead_letter_id)
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
