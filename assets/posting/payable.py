"""The guard before a payment goes out: the ledger must hold what it pays as AUTHORISED.

Payments post after the invoices and credit notes they pay (rules/outbox/rows.py KIND_ORDER), but
what they pay may be from an earlier month, still a draft, voided, or already paid by hand. So
before every send the outbox looks the paid documents up by number (one call per number prefix,
as for its own documents) and sends a payment only for one the ledger holds as AUTHORISED, by the
ledger's id. Any other payment stays pending, saying why; the next pass looks again.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from assets.posting.posting_pass import PostingPass
from resources.outbox.store import Writes
from rules.documents import PAID_DOCUMENTS, number_prefix_of
from rules.outbox.events import Unpayable
from rules.outbox.ledger import unpayable_reason
from rules.outbox.rows import OutboxRow


def payable(
    posting: PostingPass, drafts: dict[str, dict[str, Any]], ready: dict[str, OutboxRow]
) -> dict[str, str]:
    """Payment number -> the ledger id of the AUTHORISED document it pays, for the payments of `ready`
    that may be sent; the others are held (still pending, with the reason) and left out."""
    wanted: dict[tuple[str, str], set[str]] = defaultdict(set)
    for number in ready:
        _, collection, number_field, _ = PAID_DOCUMENTS[drafts[number]["document_type"]]
        wanted[(collection, number_field)].add(drafts[number]["original_number"])
    held: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for (collection, number_field), numbers in wanted.items():
        found: dict[str, dict[str, Any]] = {}
        for prefix in sorted({number_prefix_of(n) for n in numbers}):
            found.update(posting.xero.find_by_prefix(
                posting.tenant, collection, number_field, prefix, recorder=posting.record
            ))  # fmt: skip
            posting.outcome.requests += 1
        held[(collection, number_field)] = found
    writes, paid_ids = Writes(), {}
    for number, row in ready.items():
        _, collection, number_field, id_field = PAID_DOCUMENTS[drafts[number]["document_type"]]
        paid = drafts[number]["original_number"]
        element = held[(collection, number_field)].get(paid)
        reason = unpayable_reason(paid, element)
        if reason is None and element is not None:
            paid_ids[number] = str(element[id_field])
        else:
            ready[number] = posting.apply(writes, row, Unpayable(f"payment of {reason}"))
            if number not in posting.outcome.held:  # held by an earlier pass too: the row is unchanged
                posting.outcome.held.append(number)
    posting.store.commit(writes)
    return paid_ids
