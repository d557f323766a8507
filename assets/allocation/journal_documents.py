"""Journal drafts -> ManualJournals elements of the accounting contract (pure), ready for a posting path.

Amounts stay Decimal (the Xero connector writes them exactly); debits are positive and
credits negative, as ManualJournalLine.LineAmount expects. Status is DRAFT: an accountant
reviews capitalization and depreciation before they reach the ledger.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import polars as pl


def _plain(value: Decimal) -> Decimal:
    """Drop the stored scale's trailing zeros (1000.0000 -> 1000) without changing the value."""
    normalized = value.normalize()
    return normalized.quantize(Decimal(1)) if normalized == normalized.to_integral() else normalized


def manual_journal_documents(journals: pl.DataFrame) -> list[dict[str, Any]]:
    """One ManualJournal element per journal_ref, lines in line order, sorted by date then ref."""
    documents = []
    for (ref,), rows in sorted(
        journals.sort("journal_ref", "line_no").group_by(["journal_ref"], maintain_order=True),
        key=lambda item: (item[1]["journal_date"][0], item[0][0]),
    ):
        first = rows.row(0, named=True)
        documents.append(
            {
                "Narration": f"{first['narration']} [{ref}]",
                "Date": first["journal_date"].isoformat(),
                "Status": "DRAFT",
                "LineAmountTypes": "NoTax",
                "JournalLines": [
                    {
                        "LineAmount": _plain(line["line_amount"]),
                        "AccountCode": line["account_code"],
                        "Description": line["description"],
                    }
                    for line in rows.iter_rows(named=True)
                ],
            }
        )
    return documents
