"""What the ledger says about a document, read from the accounting API's elements (pure).

A ledger element is the JSON object the accounting API returns for an invoice, credit note or
manual journal, with amounts already parsed as Decimal. `ledger_document` reads one into a
LedgerDocument: the id, total, date and lines as the ledger holds them, which is what the
outbox records as booked (never the draft it sent).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from rules.documents import KINDS
from rules.outbound_payloads import number_from_narration

ZERO_GUID = "00000000-0000-0000-0000-000000000000"  # the provider's id for an element it did not save
_MS_DATE_RE = re.compile(r"^/Date\((-?\d+)([+-]\d{4})?\)/$")


@dataclass(frozen=True)
class LedgerLine:
    """One line as the ledger booked it (a journal line has no quantity: 1 x its amount)."""

    description: str
    quantity: Decimal
    unit_amount: Decimal
    line_amount: Decimal
    tax_type: str
    tax_amount: Decimal
    account_code: str


@dataclass(frozen=True)
class LedgerDocument:
    """A document the ledger holds: its id, what it booked, and when."""

    document_number: str
    external_id: str
    total: Decimal | None
    document_type: str | None
    currency: str | None
    document_date: date | None
    lines: tuple[LedgerLine, ...]


def parse_ms_date(value: str) -> date:
    """A date from Xero's `/Date(1546214400000+0000)/` form (or a plain ISO date)."""
    match = _MS_DATE_RE.match(value)
    if match is None:
        return date.fromisoformat(value[:10])
    return datetime.fromtimestamp(int(match.group(1)) / 1000, UTC).date()


def number_of(kind: str, value: str) -> str:
    """The document number a ledger element is known by (a journal's leads its Narration)."""
    return number_from_narration(value) if kind == "manual_journal" else value


def _money(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


def _line(line: dict[str, Any], *, journal: bool) -> LedgerLine:
    amount = _money(line.get("LineAmount"))
    return LedgerLine(
        description=str(line.get("Description") or ""),
        quantity=Decimal(1) if journal else _money(line.get("Quantity")),
        unit_amount=amount if journal else _money(line.get("UnitAmount")),
        line_amount=amount,
        tax_type=str(line.get("TaxType") or "NONE"),
        tax_amount=_money(line.get("TaxAmount")),
        account_code=str(line.get("AccountCode") or ""),
    )


def _lines(kind: str, element: dict[str, Any]) -> tuple[LedgerLine, ...]:
    journal = kind == "manual_journal"
    lines = element.get("JournalLines" if journal else "LineItems") or []
    return tuple(_line(line, journal=journal) for line in lines)


def booked_total(kind: str, element: dict[str, Any]) -> Decimal | None:
    """What the ledger booked: a document's Total; a journal's debits (it has no Total); a payment's Amount."""
    if kind == "payment":
        amount = element.get("Amount")
        return None if amount is None else Decimal(str(amount))
    if kind == "manual_journal":
        lines = element.get("JournalLines")
        if not lines:
            return None
        return sum(
            (_money(line["LineAmount"]) for line in lines if _money(line["LineAmount"]) > 0), Decimal(0)
        )
    total = element.get("Total")
    return None if total is None else Decimal(str(total))


def ledger_document(kind: str, element: dict[str, Any]) -> LedgerDocument:
    """A ledger element (from an answer or a look-up) as a LedgerDocument."""
    _, number_field, id_field = KINDS[kind]
    issued = element.get("Date")
    # A payment names its type `PaymentType` and carries the currency of the document it pays.
    paid = element.get("Invoice") or element.get("CreditNote") or {}
    return LedgerDocument(
        document_number=number_of(kind, str(element.get(number_field) or "")),
        external_id=str(element.get(id_field)),
        total=booked_total(kind, element),
        document_type=element.get("Type") or element.get("PaymentType"),
        currency=element.get("CurrencyCode") or paid.get("CurrencyCode"),
        document_date=parse_ms_date(str(issued)) if issued else None,
        lines=_lines(kind, element),
    )


def element_errors(element: dict[str, Any], id_field: str) -> list[str] | None:
    """Why the ledger refused an element of a batch answer, or None when it saved it."""
    errors = [str(e.get("Message", e)) for e in element.get("ValidationErrors") or []]
    saved = element.get(id_field) and element.get(id_field) != ZERO_GUID
    if errors or element.get("HasErrors") or not saved:
        return errors or ["rejected without a message"]
    return None


def unpayable_reason(number: str, element: dict[str, Any] | None) -> str | None:
    """Why a payment may not be sent for the document `number` as the ledger holds it (`element`, None
    when the ledger does not hold it), or None when it may: payments apply to AUTHORISED documents only."""
    if element is None:
        return f"{number} is not in the ledger"
    status = element.get("Status")
    if status != "AUTHORISED":
        return f"{number} is {status} in the ledger, not AUTHORISED"
    return None
