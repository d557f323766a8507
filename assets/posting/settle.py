"""The one step that settles what is in doubt: look the documents up in the ledger by number.

Every kind goes through it (invoices, bills, credit notes, journals): at the start of a pass, for
every document whose send has no answer and every open dead letter, and before every round of
sends. Whatever the ledger holds is confirmed with what the ledger booked, never sent again;
what it does not hold moves as rules/outbox/transitions.py says (a send still in doubt waits).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from functools import partial
from typing import Any

from assets.posting.posting_pass import PostingPass
from resources.outbox.dead_letters import close_letters
from resources.outbox.store import Writes
from resources.xero import dumps_exact
from rules.documents import KINDS, number_prefix_of
from rules.outbound_payloads import idempotency_key
from rules.outbox.events import Absent, Booked, Replayed
from rules.outbox.ledger import LedgerDocument, ledger_document, number_of
from rules.outbox.rows import OutboxRow, Status


def look_up(posting: PostingPass, kind: str, numbers: list[str]) -> dict[str, LedgerDocument]:
    """The documents of `kind` among `numbers` that the ledger holds, one call per number prefix."""
    collection, number_field, _ = KINDS[kind]
    found: dict[str, LedgerDocument] = {}
    wanted = set(numbers)
    for prefix in sorted({number_prefix_of(number) for number in numbers}):
        booked = posting.xero.find_by_prefix(
            posting.tenant, collection, number_field, prefix, recorder=posting.record
        )
        posting.outcome.requests += 1
        for value, element in booked.items():
            number = number_of(kind, value)
            if number in wanted:
                found.setdefault(number, ledger_document(kind, element))
    return found


def settle(
    posting: PostingPass, rows: dict[str, OutboxRow], bodies: Mapping[str, dict[str, Any]] | None = None
) -> dict[str, OutboxRow]:
    """Look `rows` up, apply what the ledger says, commit; returns the rows still to be posted.

    `bodies`: the API elements built for these documents, kept with any that go to the dead letters.
    """
    by_kind: dict[str, list[str]] = defaultdict(list)
    for number, row in rows.items():
        by_kind[row.document_kind].append(number)
    writes = Writes()
    settled = dict(rows)
    for kind, numbers in by_kind.items():
        found = look_up(posting, kind, numbers)
        for number in numbers:
            answer = Booked(found[number], by_lookup=True) if number in found else Absent()
            settled[number] = posting.apply(writes, rows[number], answer)
            if settled[number].status is Status.DEAD_LETTER and bodies and number in bodies:
                writes.documents[number] = dumps_exact(bodies[number])
    posting.store.commit(writes)
    return {number: row for number, row in settled.items() if row.status in (Status.PENDING, Status.SENT)}


def replay(posting: PostingPass, letters: Mapping[str, str]) -> None:
    """Put dead letters (document number -> dead letter id) back in the outbox under new keys.

    Called right after the pass's first settle step has looked every open dead letter up: one the
    ledger holds is closed as booked there; one still a dead letter is proven absent, so a new
    idempotency key cannot duplicate it, while the old one would only fetch the provider's stored
    refusal. The key is recorded in the row and in the dead letter's resolution.
    """
    if not letters:
        return
    rows = posting.store.rows(posting.period, numbers=list(letters), statuses=(Status.DEAD_LETTER,))
    writes = Writes()
    for number, row in rows.items():
        key = idempotency_key(number, f"{row.content_hash}:replay:{letters[number]}")
        posting.apply(writes, row, Replayed(key))
        resolution = (
            f"replayed in run {posting.store.run_id} under the new idempotency key {key}, after a look-up "
            "found the document absent from the ledger"
        )
        writes.then.append(partial(close_letters, numbers=[number], state="replayed", resolution=resolution))
    posting.store.commit(writes)
