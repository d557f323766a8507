"""Dead letters: replay through the same exactly-once path, or discard with a reason, never blind.

Both look the document up in the ledger first (under the entity-period's claim): one the ledger
holds is closed as booked, whatever the operator asked; a replay of one it does not hold gets a
new, recorded idempotency key; a discard of one it does not hold closes it with the reason.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict

from assets.posting.outbox import post_period
from assets.posting.posting_pass import ClaimHeldError, claimed_pass, new_store
from assets.posting.settle import settle
from resources.outbox.dead_letters import DeadLetterError, close_letters, open_letter
from resources.outbox.sources import DocumentSources
from resources.outbox.store import Writes
from resources.warehouse import Warehouse
from resources.xero import XeroClient
from rules.outbox.events import Discarded
from rules.outbox.outcome import PostingOutcome
from rules.outbox.rows import Status
from rules.settings import EntityConfig


def replay_dead_letters(
    entity: EntityConfig,
    ids: list[str],
    warehouse: Warehouse,
    xero: XeroClient,
    sources: DocumentSources,
    run_id: str | None = None,
) -> PostingOutcome:
    """Send dead-lettered documents again from the current drafts (after the cause was fixed).

    The pass looks them up first: one the ledger holds is closed as booked; the rest go out under
    a new idempotency key, so a provider that remembers the old key cannot answer its stored refusal.
    """
    run_id = run_id or f"dlq-replay-{uuid.uuid4().hex[:12]}"
    by_period: dict[str, dict[str, str]] = defaultdict(dict)
    for letter in (open_letter(warehouse, entity.id, i) for i in ids):
        by_period[letter["period"]][letter["document_number"]] = letter["dead_letter_id"]
    total = PostingOutcome()
    for period, letters in sorted(by_period.items()):
        total.add(
            post_period(
                entity,
                period,
                warehouse,
                xero,
                run_id,
                sources=sources,
                only=list(letters),
                replaying=letters,
            )
        )
    return total


def discard_dead_letter(
    entity: EntityConfig, dead_letter_id: str, reason: str, warehouse: Warehouse, xero: XeroClient
) -> None:
    """Close a dead letter without sending it (e.g. billed by hand), keeping the reason.

    Refused (DeadLetterError) when the ledger holds the document: it is closed as booked instead,
    since discarding it and billing by hand would bill the customer twice.
    """
    if not reason.strip():
        raise DeadLetterError("a discard needs a reason")
    letter = open_letter(warehouse, entity.id, dead_letter_id)
    number, period = letter["document_number"], letter["period"]
    store = new_store(warehouse, entity.id, period, f"dlq-discard-{uuid.uuid4().hex[:12]}")
    try:
        with claimed_pass(entity, period, store, xero, log=logging.getLogger(__name__)) as posting:
            row = store.rows(period, numbers=[number])[number]
            settle(posting, {number: row})
            row = store.rows(period, numbers=[number])[number]
            if row.status is Status.CONFIRMED:
                raise DeadLetterError(
                    f"dead letter {dead_letter_id}: the ledger holds {number} (id {row.external_id}); "
                    "closed it as booked instead of discarding it. Do not bill it by hand."
                )
            writes = Writes()
            posting.apply(writes, row, Discarded(reason.strip()))
            writes.then.append(
                lambda con: close_letters(con, [number], "discarded", f"discarded: {reason.strip()}")
            )
            store.commit(writes)
    except ClaimHeldError as exc:
        raise DeadLetterError(f"dead letter {dead_letter_id}: {exc}; try again when it has finished") from exc
