"""The one step that settles what is in doubt: look the documents up in the ledger by number.

Every kind goes through it (invoices, bills, credit notes, journals), before a pass reads its
documents and before every round of sends: whatever the ledger holds is confirmed with what the
ledger booked, never sent again; what it does not hold moves as rules/outbox/transitions.py says.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from assets.posting.posting_pass import PostingPass
from resources.outbox.store import Writes
from resources.xero import dumps_exact
from rules.documents import KINDS, number_prefix_of
from rules.outbox.events import Absent, Booked
from rules.outbox.ledger import LedgerDocument, ledger_document, number_of
from rules.outbox.rows import OutboxRow, Status


def look_up(posting: PostingPass, kind: str, numbers: list[str]) -> dict[str, LedgerDocument]:
    """The documents of `kind` among `numbers` that the ledger holds, one call per number prefix."""
    collection, number_field, _ = KINDS[kind]
    found: dict[str, LedgerDocument] = {}
    wanted = set(numbers)
    for prefix in sorted({number_prefix_of(number) for number in numbers}):
        booked = posting.xero.find_by_prefix(posting.tenant, collection, number_field, prefix)
        posting.outcome.requests += 1
        for value, element in booked.items():
            number = number_of(kind, value)
            if number in wanted:
                found.setdefault(number, ledger_document(kind, element))
    return found


def settle(
    posting: PostingPass, rows: dict[str, OutboxRow], bodies: Mapping[str, dict[str, Any]] | None = None
) -> dict[str, OutboxRow]:
    """Look `rows` up, apply what the ledger says, commit; returns the rows still open after it.

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
