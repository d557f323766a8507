"""The write gate and money invariant every invoice draft passes in the asset, asserted in unit tests."""

from __future__ import annotations

from checks.schemas import InvoiceDraftLines, InvoiceDrafts, RetainerBalances, validate
from rules.billing.drafting import Drafts
from rules.invariants import lines_sum_to_totals


def passes_the_gates(drafts: Drafts) -> Drafts:
    """`drafts`, once every frame passed its pandera model and every invoice totals its lines."""
    validate(InvoiceDrafts, drafts.invoices)
    validate(InvoiceDraftLines, drafts.lines)
    validate(RetainerBalances, drafts.retainer_balances)
    assert lines_sum_to_totals(drafts.invoices, drafts.lines)[0]
    return drafts
