"""The external payloads we read, as registered shapes: the fields we use, their JSON types and which
ones money depends on. Raw screening, drift detection and the contract test all read these.

Types follow the vendored contract (contracts/harvest-openapi.yaml): every Harvest field is
nullable there, so `required` marks only what we cannot key a raw row without (the id, the day).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

INTEGER, NUMBER, STRING, BOOLEAN, OBJECT, ARRAY, NULL = (
    "integer",
    "number",
    "string",
    "boolean",
    "object",
    "array",
    "null",
)
# Formats beyond the JSON type that the screen enforces.
ID = "id"  # an integer in 1 .. 2^63 - 1 (a BIGINT key)
DATE = "date"  # YYYY-MM-DD, a real calendar day
AMOUNT = "amount"  # a finite number our DECIMAL(18,4) columns can hold (at most 12 integer digits)


@dataclass(frozen=True)
class PayloadField:
    """One field of a payload: its dotted path, the JSON types the contract allows, and its format."""

    path: str
    types: frozenset[str]
    format: str | None = None
    required: bool = False  # absent or null: the record is rejected
    priced: bool = False  # money depends on it: a type change blocks (drift detection)

    @cached_property
    def parts(self) -> tuple[str, ...]:
        """The path's keys, outermost first (split once: screening looks up every field of every record)."""
        return tuple(self.path.split("."))

    @cached_property
    def accepted(self) -> frozenset[str]:
        """The JSON types a value may have: the allowed ones, and an integer wherever a number is."""
        return self.types | {INTEGER} if NUMBER in self.types else self.types


def field(
    path: str, *types: str, format: str | None = None, required: bool = False, priced: bool = False
) -> PayloadField:
    """A field that may also be null unless `required`."""
    allowed = frozenset(types) if required else frozenset({*types, NULL})
    return PayloadField(path, allowed, format, required, priced)


@dataclass(frozen=True)
class PayloadSchema:
    """A registered external payload: name, semantic version, and the fields we rely on."""

    name: str
    version: str
    fields: tuple[PayloadField, ...]

    def field_named(self, path: str) -> PayloadField | None:
        """The registered field at `path`, if any."""
        return next((f for f in self.fields if f.path == path), None)


def _reference(name: str, *, priced: bool = False) -> tuple[PayloadField, ...]:
    return (field(name, OBJECT), field(f"{name}.id", INTEGER, priced=priced), field(f"{name}.name", STRING))


_DATED_COMMON = (
    field("id", INTEGER, format=ID, required=True, priced=True),
    field("spent_date", STRING, format=DATE, required=True, priced=True),
    field("billable", BOOLEAN, priced=True),
    field("is_closed", BOOLEAN, priced=True),
    field("is_locked", BOOLEAN),
    field("locked_reason", STRING),
    *_reference("client", priced=True),
    field("client.currency", STRING, priced=True),
    *_reference("project", priced=True),
    field("project.code", STRING),
    *_reference("user"),
    field("updated_at", STRING),
)

HARVEST_TIME_ENTRY = PayloadSchema(
    "harvest.time_entry",
    "2.0.0",
    (
        *_DATED_COMMON,
        *_reference("task"),
        field("hours", NUMBER, format=AMOUNT, priced=True),
        field("billable_rate", NUMBER, format=AMOUNT, priced=True),
        field("cost_rate", NUMBER, format=AMOUNT, priced=True),
        field("started_time", STRING),
    ),
)
HARVEST_EXPENSE = PayloadSchema(
    "harvest.expense",
    "2.0.0",
    (
        *_DATED_COMMON,
        field("total_cost", NUMBER, format=AMOUNT, priced=True),
        field("units", NUMBER, format=AMOUNT),
        field("expense_category", OBJECT),
        field("expense_category.name", STRING),
    ),
)
_DIRECTORY_ID = field("id", INTEGER, format=ID, required=True)
HARVEST_DIRECTORY = {
    "clients": PayloadSchema(
        "harvest.client",
        "2.0.0",
        (_DIRECTORY_ID, field("name", STRING), field("currency", STRING, priced=True)),
    ),
    "projects": PayloadSchema(
        "harvest.project",
        "2.0.0",
        (
            _DIRECTORY_ID,
            field("code", STRING),
            field("is_billable", BOOLEAN, priced=True),
            *_reference("client"),
        ),
    ),
    "tasks": PayloadSchema("harvest.task", "2.0.0", (_DIRECTORY_ID, field("name", STRING))),
    "users": PayloadSchema("harvest.user", "2.0.0", (_DIRECTORY_ID, field("first_name", STRING))),
    "user_assignments": PayloadSchema(
        "harvest.user_assignment", "2.0.0", (_DIRECTORY_ID, *_reference("project"), *_reference("user"))
    ),
    "task_assignments": PayloadSchema(
        "harvest.task_assignment", "2.0.0", (_DIRECTORY_ID, *_reference("project"), *_reference("task"))
    ),
}

# Every Harvest list we read, by its resource name (the list's key in the envelope).
HARVEST_PAYLOADS: dict[str, PayloadSchema] = {
    "time_entries": HARVEST_TIME_ENTRY,
    "expenses": HARVEST_EXPENSE,
    **HARVEST_DIRECTORY,
}

# The documents we write to the accounting system (rules/outbound_payloads.py), against the vendored
# Xero Accounting API 16.1.0 contract: the fields we send, so a change to them is versioned too.
XERO_CONTRACT = "xero-accounting 16.1.0 (contracts/xero_accounting.yaml, XeroAPI e952d0b)"
_XERO_LINE_ITEMS = (
    field("LineItems", ARRAY, required=True),
    field("LineItems.Description", STRING, required=True),
    field("LineItems.Quantity", NUMBER, required=True),
    field("LineItems.UnitAmount", NUMBER, required=True),
    field("LineItems.LineAmount", NUMBER, required=True),
    field("LineItems.AccountCode", STRING, required=True),
    field("LineItems.TaxType", STRING, required=True),
    field("LineItems.TaxAmount", NUMBER, required=True),
)
_XERO_DOCUMENT = (
    field("Type", STRING, required=True),
    field("Contact.ContactID", STRING),
    field("Reference", STRING, required=True),
    field("Date", STRING, format=DATE, required=True),
    field("DueDate", STRING, format=DATE),
    field("CurrencyCode", STRING, required=True),
    field("CurrencyRate", NUMBER),
    field("Status", STRING, required=True),
    field("LineAmountTypes", STRING, required=True),
    *_XERO_LINE_ITEMS,
)
XERO_DOCUMENTS: dict[str, PayloadSchema] = {
    "invoice": PayloadSchema(
        "xero.invoice", "1.0.0", (field("InvoiceNumber", STRING, required=True), *_XERO_DOCUMENT)
    ),
    "credit_note": PayloadSchema(
        "xero.credit_note", "1.0.0", (field("CreditNoteNumber", STRING, required=True), *_XERO_DOCUMENT)
    ),
    "manual_journal": PayloadSchema(
        "xero.manual_journal",
        "1.0.0",
        (
            field("Narration", STRING, required=True),
            field("Date", STRING, format=DATE, required=True),
            field("Status", STRING, required=True),
            field("LineAmountTypes", STRING, required=True),
            field("JournalLines", ARRAY, required=True),
            field("JournalLines.Description", STRING, required=True),
            field("JournalLines.LineAmount", NUMBER, required=True),
            field("JournalLines.AccountCode", STRING, required=True),
            field("JournalLines.TaxType", STRING, required=True),
        ),
    ),
}
