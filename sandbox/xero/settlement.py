"""How money lands on a document and leaves it again: the balances Xero keeps on invoices and credits.

An invoice's `AmountDue` falls as payments (`AmountPaid`) and credit allocations (`AmountCredited`)
land, and it is PAID, with its `FullyPaidOnDate`, once nothing is due; reversing a payment puts the
amount back and the invoice back to AUTHORISED. A credit note's, overpayment's or prepayment's
`RemainingCredit` falls the same way as it is allocated or refunded.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def reduce_amount_due(invoice: dict[str, Any], amount: Decimal, settled_by: str, settled_on: str) -> None:
    """Book `amount` against an invoice: `settled_by` (AmountPaid or AmountCredited) grows, AmountDue
    shrinks, and the invoice is PAID on `settled_on` (an MS JSON date) once nothing is due."""
    invoice[settled_by] = Decimal(invoice[settled_by]) + amount
    invoice["AmountDue"] = Decimal(invoice["AmountDue"]) - amount
    if invoice["AmountDue"] == 0:
        invoice["Status"] = "PAID"
        invoice["FullyPaidOnDate"] = settled_on


def restore_amount_due(invoice: dict[str, Any], amount: Decimal, settled_by: str) -> None:
    """Undo `reduce_amount_due` for a reversed payment: the amount is due again, and a PAID invoice is open."""
    invoice[settled_by] = Decimal(invoice[settled_by]) - amount
    invoice["AmountDue"] = Decimal(invoice["AmountDue"]) + amount
    if invoice["Status"] == "PAID" and invoice["AmountDue"] > 0:
        invoice["Status"] = "AUTHORISED"
        invoice.pop("FullyPaidOnDate", None)


def reduce_remaining_credit(credit: dict[str, Any], amount: Decimal) -> None:
    """Use `amount` of a credit; it is PAID once none remains."""
    credit["RemainingCredit"] = Decimal(credit["RemainingCredit"]) - amount
    if credit["RemainingCredit"] == 0:
        credit["Status"] = "PAID"


def restore_remaining_credit(credit: dict[str, Any], amount: Decimal) -> None:
    """Undo `reduce_remaining_credit` for a reversed refund."""
    credit["RemainingCredit"] = Decimal(credit["RemainingCredit"]) + amount
    if credit["Status"] == "PAID" and credit["RemainingCredit"] > 0:
        credit["Status"] = "AUTHORISED"


def invoice_ref(invoice: dict[str, Any]) -> dict[str, Any]:
    """The short reference to an invoice that allocations carry."""
    return {"InvoiceID": invoice["InvoiceID"], "InvoiceNumber": invoice.get("InvoiceNumber", "")}
