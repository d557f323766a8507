"""The lines the outbox keeps as booked (posting.posted_lines) when the ledger confirms a document (pure).

Amounts, descriptions, accounts and tax come from the ledger's own document; what the ledger
does not keep (line numbers, project, task, source kind, the invoice a correction corrects) comes
from the version the outbox sent, line by line in the order it sent them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from rules.outbox.ledger import LedgerDocument

# Trace columns taken from the sent version; the ledger has no place for them.
TRACE = ("line_no", "project_id", "task_id", "source_kind")
# A payment's record is its outbox row (id, amount): it has no lines of its own to keep, and its
# one line would otherwise count as booked on the invoice it pays (rules/billing/differences.py).
NO_LINES_KINDS = frozenset({"payment"})
AMOUNTS = ("description", "quantity", "unit_amount", "line_amount", "tax_type", "tax_amount", "account_code")


def booked_lines(
    document: LedgerDocument,
    sent: list[dict[str, Any]],
    *,
    row: dict[str, Any],
    posted_at: datetime,
) -> list[dict[str, Any]]:
    """posting.posted_lines rows for one confirmed document.

    `sent`: the sent version's lines (posting.outbox_lines, ordered by line_no), possibly empty for a
    row written before versions were kept; `row`: the outbox row (entity, period, kind, currency, run).
    """
    if row["document_kind"] in NO_LINES_KINDS:
        return []
    sent = sorted(sent, key=lambda line: line["line_no"])
    first = sent[0] if sent else {}
    number = row["document_number"]
    header = {
        "document_number": number,
        "document_kind": row["document_kind"],
        "document_type": document.document_type or first.get("document_type"),
        "original_number": first.get("original_number") or number,
        "entity": row["entity"],
        "period": row["period"],
        "currency": document.currency or first.get("currency") or row["currency"],
        "document_date": document.document_date or first.get("document_date") or date.min,
        "posted_at": posted_at,
        "run_id": row["run_id"],
    }
    if not document.lines:  # an answer without lines: the version sent is all there is to keep
        return [{**header, **{k: line[k] for k in (*TRACE, *AMOUNTS)}} for line in sent]
    lines = []
    for position, line in enumerate(document.lines):
        trace = sent[position] if position < len(sent) and len(sent) == len(document.lines) else {}
        lines.append(
            {
                **header,
                "line_no": trace.get("line_no", position + 1),
                "project_id": trace.get("project_id"),
                "task_id": trace.get("task_id"),
                "source_kind": trace.get("source_kind"),
                "description": line.description,
                "quantity": line.quantity,
                "unit_amount": line.unit_amount,
                "line_amount": line.line_amount,
                "tax_type": line.tax_type,
                "tax_amount": line.tax_amount,
                "account_code": line.account_code,
            }
        )
    return lines
