"""`PUT /CreditNotes/{id}/Allocations`: an authorised credit note allocated to authorised invoices of the
same contact and currency, never more than the remaining credit or the amount due."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from resources.http_server import Response
from sandbox.xero.answers import ok, problem, validation_exception, validation_messages
from sandbox.xero.books import Books, Write
from sandbox.xero.exact import ms_date
from sandbox.xero.kinds import CREDIT_NOTES, INVOICES
from sandbox.xero.settlement import invoice_ref, reduce_amount_due, reduce_remaining_credit
from sandbox.xero.validation import number, parse_date, request_elements


def allocate_credit_note(credit_note_id: str, books: Books, write: Write) -> Response:
    """Allocate an authorised credit note to invoices of the same contact and currency."""
    elements = request_elements(write.request, "Allocations")
    if isinstance(elements, Response):
        return elements
    credit = books.ledger.find_document(write.tenant, credit_note_id, CREDIT_NOTES.types)
    if credit is None:
        return problem(404, "NotFound", f"No credit note {credit_note_id} in this organisation")
    answers: list[dict[str, Any]] = []
    errors: list[str] = []
    updates: dict[str, dict[str, Any]] = {}  # invoices touched so far, by lower-case id
    for element in elements:
        answer = _allocate_one(books, write, credit, element, updates, errors)
        if answer is not None:
            answers.append(answer)
    if errors:
        return validation_exception([{"ValidationErrors": validation_messages(errors)}])
    credit["UpdatedDateUTC"] = ms_date(write.now)
    books.ledger.update_document(write.tenant, credit["CreditNoteID"], credit, write.now)
    for invoice in updates.values():
        books.ledger.update_document(write.tenant, invoice["InvoiceID"], invoice, write.now)
    return ok({"Allocations": answers}, write.now)


def _allocate_one(
    books: Books,
    write: Write,
    credit: dict[str, Any],
    element: Any,
    updates: dict[str, dict[str, Any]],
    errors: list[str],
) -> dict[str, Any] | None:
    """Apply one allocation element to the credit note and its invoice in memory; None when refused."""
    is_object = isinstance(element, dict)
    invoice_id = ((element or {}).get("Invoice") or {}).get("InvoiceID") if is_object else None
    amount = number(element.get("Amount"), "Amount", errors) if is_object else None
    stored = books.ledger.find_document(write.tenant, str(invoice_id), INVOICES.types) if invoice_id else None
    if stored is None:
        errors.append(f"Invoice {invoice_id} could not be found.")
        return None
    invoice = updates.get(str(invoice_id).lower()) or stored
    if amount is None or amount <= 0:
        errors.append("Allocation Amount must be greater than zero.")
        return None
    errors.extend(_allocation_errors(credit, invoice, amount))
    if errors:
        return None
    allocation_id = str(uuid.uuid4())
    issued = parse_date(element.get("Date"), "Date", errors) if element.get("Date") else None
    allocated_on = ms_date(issued) if issued is not None else ms_date(write.now)
    reduce_remaining_credit(credit, amount)
    credit.setdefault("Allocations", []).append(
        {
            "AllocationID": allocation_id,
            "Amount": amount,
            "Date": allocated_on,
            "Invoice": invoice_ref(invoice),
        }
    )
    reduce_amount_due(invoice, amount, "AmountCredited", allocated_on)
    updates[str(invoice["InvoiceID"]).lower()] = invoice
    return {
        "AllocationID": allocation_id,
        "Amount": amount,
        "Date": allocated_on,
        "Invoice": invoice_ref(invoice),
        "CreditNote": {
            "CreditNoteID": credit["CreditNoteID"],
            "CreditNoteNumber": credit.get("CreditNoteNumber", ""),
        },
    }


def _allocation_errors(credit: dict[str, Any], invoice: dict[str, Any], amount: Decimal) -> list[str]:
    """Xero's refusals of a credit allocation, all of them at once."""
    errors: list[str] = []
    if credit["Status"] != "AUTHORISED":
        errors.append("Only an authorised credit note can be allocated.")
    if invoice["Status"] != "AUTHORISED":
        errors.append("Only an authorised invoice can have a credit note allocated to it.")
    if invoice["Contact"]["ContactID"] != credit["Contact"]["ContactID"]:
        errors.append("The credit note and the invoice must have the same contact.")
    if invoice["CurrencyCode"] != credit["CurrencyCode"]:
        errors.append("The credit note and the invoice must be in the same currency.")
    if amount > Decimal(credit["RemainingCredit"]):
        errors.append(
            f"The allocation amount {amount} exceeds the remaining credit {credit['RemainingCredit']}."
        )
    if amount > Decimal(invoice["AmountDue"]):
        errors.append(
            f"The allocation amount {amount} exceeds the invoice's amount due {invoice['AmountDue']}."
        )
    return errors
