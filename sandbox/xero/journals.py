"""Manual journal validation: a narration, two or more lines with account codes, balancing to zero."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sandbox.xero.books import Books
from sandbox.xero.exact import ms_date, round_half_up
from sandbox.xero.pricing import TAX_RATES
from sandbox.xero.validation import Checked, document_date, line_amount_types, new_status, number

NEW_JOURNAL_STATUSES = ("DRAFT", "POSTED")
MAX_ACCOUNT_CODE_LENGTH = 10


def check_journal(books: Books, tenant: str, element: Any) -> Checked:
    """Validate one manual journal: a narration, two or more lines with account codes, balancing to zero."""
    checked = Checked(element)
    errors = checked.errors
    if not isinstance(element, dict):
        errors.append("Each element of ManualJournals must be an object.")
        return checked
    if element.get("ManualJournalID"):
        errors.append(
            "The sandbox does not update manual journals: send new journals without ManualJournalID."
        )
    narration = element.get("Narration")
    if not isinstance(narration, str) or not narration.strip():
        errors.append("Narration must be specified.")
    status = new_status(element, "manual journal", NEW_JOURNAL_STATUSES, errors)
    amount_types = line_amount_types(element, "NoTax", errors)
    issued = document_date(books, element, errors)
    if issued is not None and status != "DRAFT":
        books.check_lock_date(tenant, issued, errors)
    lines = _journal_lines(element.get("JournalLines"), errors)
    if errors or issued is None:
        return checked
    checked.document = {
        "ManualJournalID": None,
        "Narration": narration,
        "Date": ms_date(issued),
        "Status": status,
        "LineAmountTypes": amount_types,
        "JournalLines": lines,
        "ShowOnCashBasisReports": bool(element.get("ShowOnCashBasisReports", True)),
        "HasAttachments": False,
    }
    return checked


def _journal_lines(items: Any, errors: list[str]) -> list[dict[str, Any]]:
    """Each journal line checked; the lines must balance to zero."""
    if not isinstance(items, list) or len(items) < 2:
        errors.append("A manual journal must have at least two journal lines.")
        items = []
    lines: list[dict[str, Any]] = []
    for index, item in enumerate(items, start=1):
        line = _journal_line(item, f"Line {index}", errors)
        if line is not None:
            lines.append(line)
    if lines and sum((line["LineAmount"] for line in lines), Decimal(0)) != 0:
        errors.append("The total debits must equal the total credits: the journal lines do not balance.")
    return lines


def _journal_line(item: Any, where: str, errors: list[str]) -> dict[str, Any] | None:
    if not isinstance(item, dict):
        errors.append(f"{where}: each journal line must be an object.")
        return None
    amount = number(item.get("LineAmount"), "LineAmount", errors) if "LineAmount" in item else None
    if amount is None:
        errors.append(f"{where}: LineAmount must be specified.")
        return None
    account = item.get("AccountCode")
    if not isinstance(account, str) or not account.strip() or len(account) > MAX_ACCOUNT_CODE_LENGTH:
        errors.append(
            f"{where}: AccountCode must be specified (at most {MAX_ACCOUNT_CODE_LENGTH} characters)."
        )
    tax_type = item.get("TaxType", "NONE")
    if tax_type not in TAX_RATES:
        errors.append(f"{where}: The TaxType code '{tax_type}' does not exist.")
    line: dict[str, Any] = {
        "JournalLineID": str(uuid.uuid4()),
        "LineAmount": round_half_up(amount),
        "AccountCode": account,
        "TaxType": tax_type,
        "TaxAmount": Decimal("0.00"),
        "IsBlank": False,
    }
    if isinstance(item.get("Description"), str):
        line["Description"] = item["Description"]
    return line
