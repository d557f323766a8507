"""`/Payments`: money received against an authorised invoice, or refunded against an authorised credit note.

As Xero documents it: a payment names one Invoice or CreditNote (by id or number), an Account
(by AccountID or Code), a Date and an Amount; the document must be AUTHORISED ("Payments can only
be made against Authorised documents") and the amount may not exceed what is outstanding on it.
Each payment moves the document's balances (`settlement.py`): an invoice is PAID when nothing is
due. Deliberate differences: without `CurrencyRate` a payment takes the document's own rate (Xero
would look up the day's rate), and without `BankAmount` the bank amount is the amount (the sandbox
keeps no bank account currencies).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from resources.http_server import Response
from sandbox.xero.answers import (
    ok,
    rejected_element,
    safe_echo,
    validation_exception,
)
from sandbox.xero.books import Books, Write
from sandbox.xero.exact import CENT, loads_exact, ms_date
from sandbox.xero.kinds import CREDIT_NOTES, INVOICES, PAYMENTS, DocumentKind
from sandbox.xero.ledger import Ledger, NewTransaction
from sandbox.xero.settlement import reduce_amount_due, reduce_remaining_credit
from sandbox.xero.validation import (
    Checked,
    account,
    currency_rate,
    flag,
    new_status,
    no_update,
    number,
    optional_string,
    parse_date,
    request_elements,
)
from sandbox.xero.where import GUID_RE

# What a payment is called by the document it settles.
PAYMENT_TYPES = {
    "ACCREC": "ACCRECPAYMENT",
    "ACCPAY": "ACCPAYPAYMENT",
    "ACCRECCREDIT": "ARCREDITPAYMENT",
    "ACCPAYCREDIT": "APCREDITPAYMENT",
}
T = TypeVar("T")
NOT_AUTHORISED = "Payments can only be made against Authorised documents."
EXCEEDS_OUTSTANDING = "Payment amount exceeds the amount outstanding on this document."


@dataclass
class Settled:
    """The document a payment settles, as this request has left it so far."""

    kind: DocumentKind
    document: dict[str, Any]

    @property
    def doc_id(self) -> str:
        return str(self.document[self.kind.id_field])

    @property
    def outstanding(self) -> Decimal:
        field = "RemainingCredit" if self.kind is CREDIT_NOTES else "AmountDue"
        return Decimal(self.document[field])

    def reference(self) -> dict[str, Any]:
        """The document as a payment shows it."""
        return {
            "Type": self.document["Type"],
            self.kind.id_field: self.doc_id,
            self.kind.number_field: self.document.get(self.kind.number_field, ""),
            "Contact": dict(self.document["Contact"]),
            "CurrencyCode": self.document["CurrencyCode"],
        }


def create_payments(books: Books, write: Write) -> Response:
    """PUT/POST /Payments: every valid payment lands on its document; with summarizeErrors one bad one refuses all."""
    elements = _payment_elements(write)
    if isinstance(elements, Response):
        return elements
    touched: dict[str, Settled] = {}  # documents settled in this request, by lower-case id
    checked = [_check_payment(books, write, element, touched) for element in elements]
    if write.summarize and any(c.errors for c in checked):
        return validation_exception([_error_element(c) for c in checked])
    answers = []
    for item in checked:
        if item.errors or item.document is None:
            answers.append(_error_element(item))
            continue
        _store(books.ledger, write, item.document, item.element)
        answers.append({**item.document, "StatusAttributeString": "OK", "ValidationErrors": []})
    for settled in touched.values():
        settled.document["UpdatedDateUTC"] = ms_date(write.now)
        books.ledger.update_document(write.tenant, settled.doc_id, settled.document, write.now)
    return ok({"Payments": answers}, write.now)


def _payment_elements(write: Write) -> list[Any] | Response:
    """PUT sends `{"Payments": [...]}`; the contract's POST may also send one Payment object alone."""
    if write.request.method.upper() == "POST":
        try:
            payload = loads_exact(write.request.body) if write.request.body else None
        except (ValueError, UnicodeDecodeError):
            payload = None
        if isinstance(payload, dict) and "Payments" not in payload:
            return [payload]
    return request_elements(write.request, "Payments")


@dataclass(frozen=True)
class _Fields:
    """A payment's own fields, validated."""

    account: dict[str, str]
    paid_on: date
    amount: Decimal
    reference: str
    reconciled: bool


def _check_payment(books: Books, write: Write, element: Any, touched: dict[str, Settled]) -> Checked:
    """Validate one payment; when valid, land it on its document in `touched` and set the payment to store."""
    checked = Checked(element)
    errors = checked.errors
    if not isinstance(element, dict):
        errors.append("Each element of Payments must be an object.")
        return checked
    no_update(element, "PaymentID", "payment", errors)
    settled = _settled_document(books.ledger, write.tenant, element, touched, errors)
    fields = _check_fields(books, write.tenant, element, errors)
    if settled is None or fields is None:
        return checked
    document = settled.document
    base = books.base_currency(write.tenant)
    rate = currency_rate(
        element, document["CurrencyCode"], base, errors, default=Decimal(document["CurrencyRate"])
    )
    bank_amount = (
        _money(element["BankAmount"], "BankAmount", errors) if "BankAmount" in element else fields.amount
    )
    if document["Status"] != "AUTHORISED":
        errors.append(NOT_AUTHORISED)
    elif fields.amount > settled.outstanding:
        errors.append(EXCEEDS_OUTSTANDING)
    if errors:
        return checked
    payment = {
        "PaymentID": str(uuid.uuid4()),
        "Date": ms_date(fields.paid_on),
        "Amount": fields.amount,
        "BankAmount": bank_amount,
        "CurrencyRate": rate,
        "Reference": fields.reference,
        "IsReconciled": fields.reconciled,
        "Status": "AUTHORISED",
        "PaymentType": PAYMENT_TYPES[document["Type"]],
        "UpdatedDateUTC": ms_date(write.now),
        "HasAccount": True,
        "HasValidationErrors": False,
        "Account": fields.account,
        settled.kind.element: settled.reference(),
    }
    _land(settled, payment, fields)
    touched[settled.doc_id.lower()] = settled
    checked.document = payment
    return checked


def _check_fields(books: Books, tenant: str, element: dict[str, Any], errors: list[str]) -> _Fields | None:
    """Account, Date, Amount (all required), Status, Reference and IsReconciled; None when one is unusable."""
    paid_to = account(tenant, element.get("Account"), "Account", errors)
    paid_on = _required(element, "Date", errors, lambda v: parse_date(v, "Date", errors))
    amount = _required(element, "Amount", errors, lambda v: _money(v, "Amount", errors))
    new_status(element, "payment", ("AUTHORISED",), errors)
    reference = optional_string(element, "Reference", errors, 255)
    reconciled = flag(element, "IsReconciled", errors)
    if paid_on is not None:
        books.check_lock_date(tenant, paid_on, errors)
    if paid_to is None or paid_on is None or amount is None:
        return None
    return _Fields(paid_to, paid_on, amount, reference or "", reconciled)


def _land(settled: Settled, payment: dict[str, Any], fields: _Fields) -> None:
    """Move the document's balances by the payment and list the payment on it, as Xero shows it."""
    amount = fields.amount
    if settled.kind is CREDIT_NOTES:
        reduce_remaining_credit(settled.document, amount)
    else:
        reduce_amount_due(settled.document, amount, "AmountPaid", ms_date(fields.paid_on))
    settled.document.setdefault("Payments", []).append(
        {
            "PaymentID": payment["PaymentID"],
            "Date": payment["Date"],
            "Amount": amount,
            "Reference": payment["Reference"],
            "CurrencyRate": payment["CurrencyRate"],
            "HasAccount": True,
            "HasValidationErrors": False,
        }
    )


def _settled_document(
    ledger: Ledger, tenant: str, element: dict[str, Any], touched: dict[str, Settled], errors: list[str]
) -> Settled | None:
    """The one invoice or credit note the payment names, by id or number, as this request has left it."""
    if element.get("Overpayment") or element.get("Prepayment"):
        errors.append("The sandbox does not take refunds of overpayments or prepayments.")
        return None
    named = [kind for kind in (INVOICES, CREDIT_NOTES) if element.get(kind.element)]
    if len(named) != 1 or not isinstance(element[named[0].element], dict):
        errors.append("A payment must name one Invoice or one CreditNote.")
        return None
    kind = named[0]
    ref = element[kind.element]
    ident, doc_number = ref.get(kind.id_field), ref.get(kind.number_field)
    if ident is not None and (not isinstance(ident, str) or not GUID_RE.match(ident)):
        errors.append(f"{kind.element}.{kind.id_field} {ident!r} is not a valid GUID.")
        return None
    if ident:
        found = ledger.find_document(tenant, ident, kind.types)
    elif isinstance(doc_number, str) and doc_number:
        matches = ledger.documents_numbered(tenant, doc_number, kind.types)
        if len(matches) > 1:
            errors.append(
                f"{kind.number_field} {doc_number} names {len(matches)} documents: name it by {kind.id_field}."
            )
            return None
        found = matches[0] if matches else None
    else:
        errors.append(f"{kind.element} must have an {kind.id_field} or a {kind.number_field}.")
        return None
    if found is None:
        errors.append(f"{kind.noun.capitalize()} {ident or doc_number} could not be found.")
        return None
    return touched.get(str(found[kind.id_field]).lower()) or Settled(kind, found)


def _required(
    element: dict[str, Any], name: str, errors: list[str], parse: Callable[[Any], T | None]
) -> T | None:
    """A required field parsed by `parse`, or None with "must be specified"."""
    if element.get(name) is None:
        errors.append(f"{name} must be specified.")
        return None
    return parse(element[name])


def _money(value: Any, name: str, errors: list[str]) -> Decimal | None:
    """A positive amount in cents: a payment of a fraction of a cent cannot be booked."""
    amount = number(value, name, errors)
    if amount is None:
        return None
    if amount <= 0:
        errors.append(f"Payment {name} must be greater than zero.")
        return None
    if amount != amount.quantize(CENT):
        errors.append(f"Payment {name} {amount} has more than two decimal places.")
        return None
    return amount.quantize(CENT)


def _store(ledger: Ledger, write: Write, payment: dict[str, Any], element: Any) -> None:
    target = payment.get("Invoice") or payment["CreditNote"]
    kind = INVOICES if "Invoice" in payment else CREDIT_NOTES
    ledger.insert_transaction(
        NewTransaction(
            tenant=write.tenant,
            doc_id=payment["PaymentID"],
            doc_type=payment["PaymentType"],
            number=target.get(kind.number_field),
            reference=payment["Reference"],
            status=payment["Status"],
            contact_id=target["Contact"]["ContactID"],
            contact_name=target["Contact"]["Name"],
            request_element=element,
            body=payment,
            collection=PAYMENTS.collection,
            parent_id=target[kind.id_field],
        ),
        write.key,
        write.now,
    )


def _error_element(item: Checked) -> dict[str, Any]:
    return rejected_element(
        safe_echo(item.element, ("Reference",)), "PaymentID", item.errors, "HasValidationErrors"
    )
