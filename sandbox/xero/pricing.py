"""Line items as Xero prices them: quantity x unit amount rounded half-up per line, tax per line, then summed."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sandbox.xero.exact import CENT, QUANTITY_STEP, round_half_up
from sandbox.xero.validation import number, optional_string

# Sandbox tax table (percent), standing in for each tenant's TaxRates. The codes follow Xero's
# regional ones: OUTPUT is AU/NZ-style 10 % GST, OUTPUT2 UK standard VAT 20 %, OUTPUT3 German
# standard VAT 19 %; NONE/EXEMPTOUTPUT/ZERORATEDOUTPUT carry no tax. Any other code is rejected
# with Xero's message, as a tenant without that tax rate would.
TAX_RATES: dict[str, Decimal] = {
    "NONE": Decimal(0),
    "EXEMPTOUTPUT": Decimal(0),
    "ZERORATEDOUTPUT": Decimal(0),
    "OUTPUT": Decimal(10),
    "OUTPUT2": Decimal(20),
    "OUTPUT3": Decimal(19),
}
UNIT_STEP_4DP = Decimal("0.0001")


def line_tax(line_amount: Decimal, rate_percent: Decimal, line_amount_types: str) -> Decimal:
    """Tax of one line, rounded half-up to cents (Xero taxes per line, then sums)."""
    if line_amount_types == "NoTax" or rate_percent == 0:
        return Decimal("0.00")
    rate = rate_percent / 100
    if line_amount_types == "Inclusive":
        return round_half_up(line_amount * rate / (1 + rate))
    return round_half_up(line_amount * rate)


def price_lines(lines: list[dict[str, Any]], line_amount_types: str) -> tuple[Decimal, Decimal, Decimal]:
    """SubTotal, TotalTax and Total of priced lines (each with LineAmount and TaxAmount set).

    Exclusive/NoTax: SubTotal = sum of line amounts. Inclusive: line amounts include tax, so
    SubTotal = sum of line amounts - tax. Always Total = SubTotal + TotalTax.
    """
    line_sum = sum((line["LineAmount"] for line in lines), Decimal("0.00"))
    total_tax = sum((line["TaxAmount"] for line in lines), Decimal("0.00"))
    sub_total = line_sum - total_tax if line_amount_types == "Inclusive" else line_sum
    return sub_total, total_tax, sub_total + total_tax


def check_lines(
    items: Any, unitdp4: bool, line_amount_types: str, errors: list[str], collection: str = "Invoices"
) -> list[dict[str, Any]]:
    """Validate and price each line: LineAmount = round_half_up(Quantity x UnitAmount, 2), tax per line."""
    if not isinstance(items, list) or not items:
        errors.append(f"{collection} must have at least one line item.")
        return []
    unit_step = UNIT_STEP_4DP if unitdp4 else CENT
    priced: list[dict[str, Any]] = []
    for index, item in enumerate(items, start=1):
        line = _check_line(item, f"Line {index}", unit_step, line_amount_types, errors)
        if line is not None:
            priced.append(line)
    return priced


def _check_line(
    item: Any, where: str, unit_step: Decimal, line_amount_types: str, errors: list[str]
) -> dict[str, Any] | None:
    """One line validated and priced, or None with its messages (prefixed `Line N:`) added to `errors`."""
    if not isinstance(item, dict):
        errors.append(f"{where}: each line item must be an object.")
        return None
    line_errors: list[str] = []
    description = item.get("Description")
    if not isinstance(description, str) or not description.strip():
        line_errors.append("Description needs to be at least 1 char long.")
    quantity = _required_number(item, "Quantity", line_errors)
    unit_amount = _required_number(item, "UnitAmount", line_errors)
    tax_type = item.get("TaxType", "NONE") if line_amount_types != "NoTax" else "NONE"
    if tax_type not in TAX_RATES:
        line_errors.append(
            f"The TaxType code '{tax_type}' does not exist or cannot be used for this type of transaction."
        )
    for name, limit in (("AccountCode", 10), ("ItemCode", 30)):
        optional_string(item, name, line_errors, limit)
    if quantity is not None and quantity < 0:
        line_errors.append(
            f"The quantity value '{round_half_up(quantity, QUANTITY_STEP)}' is invalid. "
            "Quantity must not be less than zero."
        )
    if line_errors or quantity is None or unit_amount is None or tax_type not in TAX_RATES:
        errors.extend(f"{where}: {message}" for message in line_errors)
        return None
    quantity = round_half_up(quantity, QUANTITY_STEP)
    unit_amount = round_half_up(unit_amount, unit_step)
    line_amount = round_half_up(quantity * unit_amount)
    tax_amount = line_tax(line_amount, TAX_RATES[tax_type], line_amount_types)
    _check_given_line_amount(item, where, line_amount, errors)
    tax_amount = _given_tax(item, where, tax_type, tax_amount, errors)
    line: dict[str, Any] = {
        "LineItemID": str(uuid.uuid4()),
        "Description": description,
        "Quantity": quantity,
        "UnitAmount": unit_amount,
        "TaxType": tax_type,
        "TaxAmount": tax_amount,
        "LineAmount": line_amount,
        "Tracking": [],
    }
    for name in ("AccountCode", "ItemCode"):
        if isinstance(item.get(name), str):
            line[name] = item[name]
    return line


def _required_number(item: dict[str, Any], name: str, line_errors: list[str]) -> Decimal | None:
    if name not in item:
        line_errors.append(f"{name} must be specified.")
        return None
    return number(item.get(name), name, line_errors)


def _check_given_line_amount(
    item: dict[str, Any], where: str, line_amount: Decimal, errors: list[str]
) -> None:
    """A LineAmount the client sends must be the one the sandbox computes."""
    given_line = item.get("LineAmount")
    if given_line is None:
        return
    given = number(given_line, "LineAmount", errors)
    if given is not None and given != line_amount:
        errors.append(
            f"{where}: The line total {round_half_up(given)} does not match the expected line total "
            f"of {line_amount}."
        )


def _given_tax(
    item: dict[str, Any], where: str, tax_type: str, tax_amount: Decimal, errors: list[str]
) -> Decimal:
    """The tax to book: a TaxAmount override within one minor unit of the per-line figure, else the figure."""
    given_tax = item.get("TaxAmount")
    if given_tax is None:
        return tax_amount
    given = number(given_tax, "TaxAmount", errors)
    if given is None:
        return tax_amount
    # An override within one minor unit of the per-line figure is booked as given
    # (per-invoice tax rounding); anything further off is refused.
    if abs(given - tax_amount) > CENT:
        errors.append(
            f"{where}: The tax amount {round_half_up(given)} does not match the expected tax amount "
            f"of {tax_amount} for TaxType {tax_type} ({TAX_RATES[tax_type]}%)."
        )
        return tax_amount
    return round_half_up(given)
