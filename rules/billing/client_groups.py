"""A month drafted in groups of whole clients (decision 0048): the groups, and their drafts put back
together as the month's (pure polars).

Every rule of drafting stays within one client: invoices are per client and currency, discounts per
project (a project has one client) or client, the rounding line and tax per invoice, retainers per
client and currency, and the rates per currency pair. So drafting contiguous ranges of client ids
one by one and concatenating the results in client order gives the drafts of the whole month:
lines and sources come out in invoice order, which sorts by client first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from rules.billing.drafting import Drafts

_FIRST, _LAST = -(2**63), 2**63 - 1  # BIGINT's bounds: the first and last groups are open-ended


@dataclass(frozen=True)
class ClientRange:
    """Client ids `first`..`last`, both included."""

    first: int
    last: int

    def holds(self, client_id: int) -> bool:
        """Whether `client_id` is in the range."""
        return self.first <= client_id <= self.last


def client_groups(lines_per_client: Mapping[int, int], max_lines: int) -> list[ClientRange]:
    """Contiguous client ranges, in order, of at most `max_lines` lines each (a client with more is a
    range of its own). Together they hold every client id, also those without lines (a retainer's
    top-up is drafted for a client without work)."""
    starts: list[int] = []
    held = 0
    for client in sorted(lines_per_client):
        count = lines_per_client[client]
        if starts and held + count <= max_lines:
            held += count
            continue
        starts.append(client)
        held = count
    if not starts:
        return [ClientRange(_FIRST, _LAST)]
    lasts = [start - 1 for start in starts[1:]] + [_LAST]
    return [ClientRange(first, last) for first, last in zip([_FIRST, *starts[1:]], lasts, strict=True)]


def merged_drafts(parts: Sequence[Drafts], retainer_ids: Sequence[str]) -> Drafts:
    """The drafts of consecutive client groups as one month's, in the order one draft of the whole month
    gives: headers by invoice number, lines and sources in invoice order, rates by pair, and the
    retainer balances in the order of `retainer_ids` (the accounts in force)."""
    if len(parts) == 1:
        return parts[0]
    # A group without invoices (nothing billable) adds no rows, and its empty frames may type their
    # columns differently: only groups with rows are concatenated.
    billed = [p for p in parts if p.invoices.height] or parts[:1]
    held = [p.retainer_balances for p in parts if p.retainer_balances.height] or [parts[0].retainer_balances]
    order = {retainer: position for position, retainer in enumerate(retainer_ids)}
    return Drafts(
        invoices=pl.concat([p.invoices for p in billed]).sort("invoice_number"),
        lines=pl.concat([p.lines for p in billed]),
        sources=pl.concat([p.sources for p in billed]),
        rates_used=pl.concat([p.rates_used for p in billed])
        .unique()
        .sort("day", "from_currency", "to_currency"),
        retainer_balances=pl.concat(held).sort(
            pl.col("retainer_id").replace_strict(order, return_dtype=pl.Int64), maintain_order=True
        ),
    )
