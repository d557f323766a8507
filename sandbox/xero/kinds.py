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
