"""`/BankTransactions`: money spent or received outside invoices, and the overpayments and prepayments it makes.

A bank transaction names its Type, Contact (by id, or by name: matched or created), BankAccount
(by AccountID or Code) and priced LineItems, as invoices are priced. A RECEIVE-/SPEND-OVERPAYMENT
or -PREPAYMENT also creates the credit it leaves, listed under `/Overpayments` or `/Prepayments`
with its `RemainingCredit`, as Xero creates them. Transfers are refused: Xero makes those through
`/BankTransfers`, which the sandbox does not serve.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from resources.http_server import Response
from sandbox.xero.answers import (
    ok,
    rejected_element,
    safe_echo,
    validation_exception,
)
from sandbox.xero.books import Books, Write
from sandbox.xero.contacts import create_planned_contact, resolve_contact
from sandbox.xero.exact import ms_date
from sandbox.xero.kinds import BANK_TRANSACTIONS, OVERPAYMENTS, PREPAYMENTS, TransactionKind
from sandbox.xero.ledger import NewTransaction
from sandbox.xero.pricing import check_lines, price_lines
from sandbox.xero.validation import (
    Checked,
    PlannedContact,
    account,
    currency,
    document_date,
    flag,
    line_amount_types,
    new_status,
    no_update,
    optional_string,
    request_elements,
    spoken_list,
)

CREDIT_KINDS: dict[str, TransactionKind] = {
    "RECEIVE-OVERPAYMENT": OVERPAYMENTS,
    "SPEND-OVERPAYMENT": OVERPAYMENTS,
    "RECEIVE-PREPAYMENT": PREPAYMENTS,
    "SPEND-PREPAYMENT": PREPAYMENTS,
}
BANK_TRANSACTION_TYPES = ("RECEIVE", "SPEND", *CREDIT_KINDS)
TRANSFER_TYPES = ("RECEIVE-TRANSFER", "SPEND-TRANSFER")


@dataclass(frozen=True)
class _Header:
    """A bank transaction's fields other than its contact and lines, as validated."""

    tx_type: str
    bank_account: dict[str, str] | None
    line_amount_types: str
    issued: date | None
    reference: str
    reconciled: bool
    currency: str
    rate: Decimal


def create_bank_transactions(books: Books, write: Write) -> Response:
    """PUT/POST /BankTransactions."""
    elements = request_elements(write.request, BANK_TRANSACTIONS.collection)
    if isinstance(elements, Response):
        return elements
    planned: dict[str, PlannedContact] = {}
    checked = [_check(books, write, element, planned) for element in elements]
    # An element whose Type cannot be read fails the whole request, as a body Xero cannot deserialise
    # does: there is no BankTransaction to answer for it (Type is required; found by contract fuzzing).
    unreadable = any(c.errors and not _known_type(c.element) for c in checked)
    if (write.summarize or unreadable) and any(c.errors for c in checked):
        return validation_exception([_error_element(c) for c in checked])
    answers = [
        _store(books, write, item) if not item.errors and item.document is not None else _error_element(item)
        for item in checked
    ]
    return ok({BANK_TRANSACTIONS.collection: answers}, write.now)


def _check(books: Books, write: Write, element: Any, planned: dict[str, PlannedContact]) -> Checked:
    """Validate and price one bank transaction; nothing is written here."""
    checked = Checked(element)
    if not isinstance(element, dict):
        checked.errors.append("Each element of BankTransactions must be an object.")
        return checked
    header = _check_header(books, write.tenant, checked, planned)
    lines = check_lines(
        element.get("LineItems"), write.unitdp4, header.line_amount_types, checked.errors, "BankTransactions"
    )
    if checked.errors or checked.contact is None or header.issued is None or header.bank_account is None:
        return checked
    sub_total, total_tax, total = price_lines(lines, header.line_amount_types)
    checked.document = {
        "Type": header.tx_type,
        "BankTransactionID": None,
        "Contact": {"ContactID": checked.contact.contact_id, "Name": checked.contact.name},
        "BankAccount": header.bank_account,
        "IsReconciled": header.reconciled,
        "Date": ms_date(header.issued),
        "DateString": f"{header.issued.isoformat()}T00:00:00",
        "Reference": header.reference,
        "CurrencyCode": header.currency,
        "CurrencyRate": header.rate,
        "Status": "AUTHORISED",
        "LineAmountTypes": header.line_amount_types,
        "LineItems": lines,
        "SubTotal": sub_total,
        "TotalTax": total_tax,
        "Total": total,
        "HasAttachments": False,
    }
    return checked


def _check_header(books: Books, tenant: str, checked: Checked, planned: dict[str, PlannedContact]) -> _Header:
    """Every field but the lines; sets the checked element's contact."""
    element, errors = checked.element, checked.errors
    no_update(element, "BankTransactionID", "bank transaction", errors)
    tx_type = element.get("Type")
    if tx_type is None:
        errors.append("Type must be specified.")
    elif tx_type in TRANSFER_TYPES:
        errors.append(f"A {tx_type} is made through BankTransfers, which the sandbox does not serve.")
    elif tx_type not in BANK_TRANSACTION_TYPES:
        errors.append(f"Type {tx_type!r} is not valid; use {spoken_list(BANK_TRANSACTION_TYPES)}.")
    checked.contact = resolve_contact(books.ledger, tenant, element.get("Contact"), errors, planned)
    bank_account = account(tenant, element.get("BankAccount"), "BankAccount", errors)
    new_status(element, "bank transaction", ("AUTHORISED",), errors)
    amount_types = line_amount_types(element, "Exclusive", errors)
    issued = document_date(books, element, errors)
    if issued is not None:
        books.check_lock_date(tenant, issued, errors)
    reference = optional_string(element, "Reference", errors, 255) or ""
    reconciled = flag(element, "IsReconciled", errors)
    code, rate = currency(books, tenant, element, errors)
    return _Header(str(tx_type), bank_account, amount_types, issued, reference, reconciled, code, rate)


def _store(books: Books, write: Write, item: Checked) -> dict[str, Any]:
    """Store one bank transaction (its new contact first, and the credit it leaves); return it as answered."""
    document = item.document
    assert document is not None and item.contact is not None
    create_planned_contact(books.ledger, write, item.contact)
    document["BankTransactionID"] = str(uuid.uuid4())
    document["UpdatedDateUTC"] = ms_date(write.now)
    credit_kind = CREDIT_KINDS.get(document["Type"])
    if credit_kind is not None:
        credit = _credit(credit_kind, document)
        document[credit_kind.id_field] = credit[credit_kind.id_field]
        _insert(books, write, credit_kind, credit, item)
    _insert(books, write, BANK_TRANSACTIONS, document, item)
    return {**document, "StatusAttributeString": "OK", "ValidationErrors": []}


def _credit(kind: TransactionKind, transaction: dict[str, Any]) -> dict[str, Any]:
    """The overpayment or prepayment a bank transaction leaves: all of it still to allocate."""
    kept = ("Type", "Contact", "Date", "LineAmountTypes", "LineItems", "SubTotal", "TotalTax", "Total")
    return {
        kind.id_field: str(uuid.uuid4()),
        **{name: transaction[name] for name in kept},
        "Status": "AUTHORISED",
        "RemainingCredit": transaction["Total"],
        "CurrencyCode": transaction["CurrencyCode"],
        "CurrencyRate": transaction["CurrencyRate"],
        "Reference": transaction["Reference"],
        "Allocations": [],
        "Payments": [],
        "HasAttachments": False,
        "UpdatedDateUTC": transaction["UpdatedDateUTC"],
    }


def _insert(books: Books, write: Write, kind: TransactionKind, body: dict[str, Any], item: Checked) -> None:
    contact = body["Contact"]
    row = NewTransaction(
        tenant=write.tenant,
        doc_id=body[kind.id_field],
        doc_type=body["Type"],
        number=body.get("BankAccount", {}).get("Code"),
        reference=body["Reference"],
        status=body["Status"],
        contact_id=contact["ContactID"],
        contact_name=contact["Name"],
        request_element=item.element,
        body=body,
        collection=kind.collection,
        parent_id="",
    )
    books.ledger.insert_transaction(row, write.key, write.now)


def _error_element(item: Checked) -> dict[str, Any]:
    echo = safe_echo(item.element, ("Reference",))
    if _known_type(item.element):
        echo["Type"] = item.element["Type"]
    # The contract requires LineItems and BankAccount on every BankTransaction, a rejected one too.
    account = item.element.get("BankAccount") if isinstance(item.element, dict) else None
    echo["BankAccount"] = safe_echo(account, ("Code", "AccountID"))
    echo["LineItems"] = []
    return rejected_element(echo, "BankTransactionID", item.errors, None)


def _known_type(element: Any) -> bool:
    return isinstance(element, dict) and element.get("Type") in (*BANK_TRANSACTION_TYPES, *TRANSFER_TYPES)
