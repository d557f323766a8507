"""`/Invoices`, `/CreditNotes` and `/ManualJournals` creation: at most 50 per request, validated and priced
as Xero does, with `summarizeErrors` deciding whether one bad element refuses the whole request."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from resources.http_server import Response
from sandbox.xero.answers import (
    ERR_POST_DATA,
    api_error,
    ok,
    rejected_element,
    safe_echo,
    validation_exception,
)
from sandbox.xero.books import Books, Write
from sandbox.xero.contacts import create_planned_contact, resolve_contact
from sandbox.xero.exact import ms_date
from sandbox.xero.journals import check_journal
from sandbox.xero.kinds import CREDIT_NOTES, INVOICES, MANUAL_JOURNALS, DocumentKind
from sandbox.xero.ledger import NewDocument
from sandbox.xero.pricing import check_lines, price_lines
from sandbox.xero.reads import renderer
from sandbox.xero.validation import (
    Checked,
    PlannedContact,
    currency,
    document_date,
    line_amount_types,
    new_status,
    no_update,
    optional_string,
    parse_date,
    request_elements,
)

MAX_INVOICES_PER_REQUEST = 50  # the provider's documented batch limit
NEW_INVOICE_STATUSES = ("DRAFT", "SUBMITTED", "AUTHORISED")
AUTO_NUMBERED_TYPES = ("ACCREC", "ACCRECCREDIT")  # sales documents get the tenant's next number


@dataclass(frozen=True)
class _Header:
    """An invoice's or credit note's fields other than its contact and lines, as validated."""

    doc_type: Any
    status: Any
    line_amount_types: str
    issued: date | None
    due: date | None
    number: str | None
    reference: str | None
    currency: str
    rate: Decimal


def create_documents(kind: DocumentKind, books: Books, write: Write) -> Response:
    """Create invoices, credit notes or manual journals (at most 50 per request)."""
    elements = request_elements(write.request, kind.collection)
    if isinstance(elements, Response):
        return elements
    if len(elements) > MAX_INVOICES_PER_REQUEST:
        return api_error(
            400,
            ERR_POST_DATA,
            f"At most {MAX_INVOICES_PER_REQUEST} {kind.noun}s may be sent in one request; got {len(elements)}",
        )
    planned: dict[str, PlannedContact] = {}
    checked = [
        check_journal(books, write.tenant, element)
        if kind is MANUAL_JOURNALS
        else check_invoice(books, write, element, planned, kind)
        for element in elements
    ]
    if write.summarize and any(c.errors for c in checked):
        return validation_exception([error_element(kind, c) for c in checked])
    answers = [
        _store(kind, books, write, item)
        if not item.errors and item.document is not None
        else error_element(kind, item)
        for item in checked
    ]
    return ok({kind.collection: answers}, write.now)


def _store(kind: DocumentKind, books: Books, write: Write, item: Checked) -> dict[str, Any]:
    """Store one valid document (and the contact it names, when new); return it as answered."""
    document = item.document
    assert document is not None
    contact = item.contact
    create_planned_contact(books.ledger, write, contact)
    document[kind.id_field] = str(uuid.uuid4())
    if not document.get(kind.number_field) and document.get("Type") in AUTO_NUMBERED_TYPES:
        counter = "credit_note_number" if kind is CREDIT_NOTES else "invoice_number"
        document[kind.number_field] = books.ledger.next_number(write.tenant, counter)
    document["UpdatedDateUTC"] = ms_date(write.now)
    stored = NewDocument(
        tenant=write.tenant,
        doc_id=document[kind.id_field],
        doc_type=document.get("Type", kind.types[0]),
        number=document.get(kind.number_field),
        reference=document.get("Reference"),
        status=document["Status"],
        contact_id=contact.contact_id if contact is not None else "",
        contact_name=contact.name if contact is not None else "",
        request_element=item.element,
        body=document,
    )
    books.ledger.insert_document(stored, write.key, write.now)
    rendered = renderer(kind)(document, write.unitdp4, True)
    return {**rendered, "StatusAttributeString": "OK", "ValidationErrors": []}


def error_element(kind: DocumentKind, item: Checked) -> dict[str, Any]:
    """A document element as answered when it was not saved: echoed fields, a zero id, its errors."""
    echo = safe_echo(item.element, (kind.number_field, "Reference"))
    if isinstance(item.element, dict) and item.element.get("Type") in kind.types:
        echo["Type"] = item.element["Type"]
    if kind.number_field == "Narration":  # a ManualJournal's Narration is required, a rejected one's too
        echo.setdefault("Narration", "")
    return rejected_element(echo, kind.id_field, item.errors, "HasErrors")


def check_invoice(
    books: Books,
    write: Write,
    element: Any,
    planned: dict[str, PlannedContact],
    kind: DocumentKind = INVOICES,
) -> Checked:
    """Validate one invoice or credit-note element as Xero does and price it; nothing is written here."""
    checked = Checked(element)
    if not isinstance(element, dict):
        checked.errors.append(f"Each element of {kind.collection} must be an object.")
        return checked
    header = _check_header(books, write.tenant, checked, planned, kind)
    lines = check_lines(element.get("LineItems"), write.unitdp4, header.line_amount_types, checked.errors)
    if checked.errors or checked.contact is None or header.issued is None:
        return checked
    checked.document = _document(kind, header, checked.contact, lines)
    return checked


def _check_header(
    books: Books, tenant: str, checked: Checked, planned: dict[str, PlannedContact], kind: DocumentKind
) -> _Header:
    """Every field but the lines, checked in Xero's order; sets the checked element's contact."""
    element, errors, noun = checked.element, checked.errors, kind.noun
    no_update(element, kind.id_field, noun, errors)
    doc_type = element.get("Type")
    if doc_type is None:
        errors.append(f"{noun.capitalize()} Type must be specified.")
    elif doc_type not in kind.types:
        errors.append(f"{noun.capitalize()} Type {doc_type!r} is not valid; use {' or '.join(kind.types)}.")
    checked.contact = resolve_contact(books.ledger, tenant, element.get("Contact"), errors, planned)
    status = new_status(element, noun, NEW_INVOICE_STATUSES, errors)
    amount_types = line_amount_types(element, "Exclusive", errors)
    issued = document_date(books, element, errors)
    due = parse_date(element["DueDate"], "DueDate", errors) if "DueDate" in element else None
    if "DueDate" not in element and status != "DRAFT" and kind is INVOICES:
        errors.append("Due Date is required for an invoice that is not a draft.")
    if issued is not None and status != "DRAFT":
        books.check_lock_date(tenant, issued, errors)
    number = optional_string(element, kind.number_field, errors, 255)
    reference = optional_string(element, "Reference", errors, 255)
    code, rate = currency(books, tenant, element, errors)
    return _Header(doc_type, status, amount_types, issued, due, number, reference, code, rate)


def _document(
    kind: DocumentKind, header: _Header, contact: PlannedContact, lines: list[dict[str, Any]]
) -> dict[str, Any]:
    """The document to store, with Xero's totals and (for credit notes) its remaining credit."""
    assert header.issued is not None
    sub_total, total_tax, total = price_lines(lines, header.line_amount_types)
    balances: dict[str, Any] = (
        {"RemainingCredit": total, "Allocations": []}
        if kind is CREDIT_NOTES
        else {"AmountDue": total, "AmountPaid": Decimal("0.00"), "AmountCredited": Decimal("0.00")}
    )
    document: dict[str, Any] = {
        "Type": header.doc_type,
        kind.id_field: None,
        kind.number_field: header.number or "",
        "Reference": header.reference or "",
        "Contact": {"ContactID": contact.contact_id, "Name": contact.name},
        "Date": ms_date(header.issued),
        "DateString": f"{header.issued.isoformat()}T00:00:00",
        "Status": header.status,
        "LineAmountTypes": header.line_amount_types,
        "LineItems": lines,
        "SubTotal": sub_total,
        "TotalTax": total_tax,
        "Total": total,
        **balances,
        "CurrencyCode": header.currency,
        "CurrencyRate": header.rate,
        "IsDiscounted": False,
        "HasAttachments": False,
        "HasErrors": False,
    }
    if header.due is not None:
        document["DueDate"] = ms_date(header.due)
        document["DueDateString"] = f"{header.due.isoformat()}T00:00:00"
    return document
