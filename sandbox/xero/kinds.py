"""The document collections the ledger stores: their stored types, number and id fields, and `where` filters."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sandbox.xero.where import Fields

INVOICE_TYPES = ("ACCREC", "ACCPAY")
CREDIT_NOTE_TYPES = ("ACCRECCREDIT", "ACCPAYCREDIT")

INVOICE_FIELDS: Fields = {
    "InvoiceNumber": ("number", "string"),
    "Reference": ("reference", "string"),
    "Type": ("doc_type", "string"),
    "Status": ("status", "string"),
    "InvoiceID": ("doc_id", "guid"),
    "Contact.ContactID": ("contact_id", "guid"),
    "Contact.Name": ("contact_name", "string"),
}
CONTACT_FIELDS: Fields = {
    "Name": ("name", "string"),
    "ContactID": ("contact_id", "guid"),
    "ContactStatus": ("status", "string"),
}
CREDIT_NOTE_FIELDS: Fields = {
    "CreditNoteNumber": ("number", "string"),
    "Reference": ("reference", "string"),
    "Type": ("doc_type", "string"),
    "Status": ("status", "string"),
    "CreditNoteID": ("doc_id", "guid"),
    "Contact.ContactID": ("contact_id", "guid"),
    "Contact.Name": ("contact_name", "string"),
}
# A journal has no number: its Narration is stored in the number column, so `Narration.StartsWith` works.
JOURNAL_FIELDS: Fields = {
    "Narration": ("number", "string"),
    "Status": ("status", "string"),
    "ManualJournalID": ("doc_id", "guid"),
}


@dataclass(frozen=True)
class DocumentKind:
    """One document collection of the ledger: its name, stored types, number and id fields, filters."""

    collection: str
    types: tuple[str, ...]
    number_field: str
    id_field: str
    fields: Mapping[str, tuple[str, str]]
    noun: str

    @property
    def element(self) -> str:
        """The name of one element of the collection (`Invoice`), as a payment names its document."""
        return self.id_field.removesuffix("ID")


INVOICES = DocumentKind("Invoices", INVOICE_TYPES, "InvoiceNumber", "InvoiceID", INVOICE_FIELDS, "invoice")
CREDIT_NOTES = DocumentKind(
    "CreditNotes", CREDIT_NOTE_TYPES, "CreditNoteNumber", "CreditNoteID", CREDIT_NOTE_FIELDS, "credit note"
)
MANUAL_JOURNALS = DocumentKind(
    "ManualJournals", ("MANUALJOURNAL",), "Narration", "ManualJournalID", JOURNAL_FIELDS, "manual journal"
)
KINDS: dict[str, DocumentKind] = {
    "invoices": INVOICES,
    "creditnotes": CREDIT_NOTES,
    "manualjournals": MANUAL_JOURNALS,
}

# -- money movements (stored in the `transactions` table) --------------------------------------------

PAYMENT_FIELDS: Fields = {
    "PaymentID": ("doc_id", "guid"),
    "PaymentType": ("doc_type", "string"),
    "Status": ("status", "string"),
    "Reference": ("reference", "string"),
    "Invoice.InvoiceID": ("parent_id", "guid"),
    "Invoice.InvoiceNumber": ("number", "string"),
    "CreditNote.CreditNoteID": ("parent_id", "guid"),
    "CreditNote.CreditNoteNumber": ("number", "string"),
    "Invoice.Contact.ContactID": ("contact_id", "guid"),
}
BANK_TRANSACTION_FIELDS: Fields = {
    "BankTransactionID": ("doc_id", "guid"),
    "Type": ("doc_type", "string"),
    "Status": ("status", "string"),
    "Reference": ("reference", "string"),
    "BankAccount.Code": ("number", "string"),
    "Contact.ContactID": ("contact_id", "guid"),
    "Contact.Name": ("contact_name", "string"),
}


def _credit_fields(id_field: str) -> Fields:
    return {
        id_field: ("doc_id", "guid"),
        "Type": ("doc_type", "string"),
        "Status": ("status", "string"),
        "Reference": ("reference", "string"),
        "Contact.ContactID": ("contact_id", "guid"),
        "Contact.Name": ("contact_name", "string"),
    }


@dataclass(frozen=True)
class TransactionKind:
    """One collection of the `transactions` table: its name, id field, filters and whether it has lines."""

    collection: str
    id_field: str
    fields: Mapping[str, tuple[str, str]]
    noun: str
    has_lines: bool


PAYMENTS = TransactionKind("Payments", "PaymentID", PAYMENT_FIELDS, "payment", has_lines=False)
BANK_TRANSACTIONS = TransactionKind(
    "BankTransactions", "BankTransactionID", BANK_TRANSACTION_FIELDS, "bank transaction", has_lines=True
)
OVERPAYMENTS = TransactionKind(
    "Overpayments", "OverpaymentID", _credit_fields("OverpaymentID"), "overpayment", has_lines=True
)
PREPAYMENTS = TransactionKind(
    "Prepayments", "PrepaymentID", _credit_fields("PrepaymentID"), "prepayment", has_lines=True
)
TRANSACTION_KINDS: dict[str, TransactionKind] = {
    kind.collection.lower(): kind for kind in (PAYMENTS, BANK_TRANSACTIONS, OVERPAYMENTS, PREPAYMENTS)
}
