"""The synthetic transaction's pure steps: pick a PM entry, price it, draft its invoice, check the booking.

The heartbeat (`health/heartbeat`) runs these between its calls to the PM system and the
dedicated test tenant, so the path it proves is the product's own: the money rounding rule of
invoice lines and the accounting payload builder (rules/outbound_payloads.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl

from rules.health_settings import HeartbeatSettings
from rules.money import LINE_AMOUNT_RULE, MONEY, QUANTITY, round_decimal
from rules.outbound_payloads import outbound_document
from rules.settings import EntityConfig

STEPS = ("extract", "price", "draft", "post", "look_up")
NUMBER_PREFIX = "HB-"


@dataclass(frozen=True)
class StepResult:
    """One step of one heartbeat: whether it succeeded, how long it took, what it saw."""

    step: str
    ok: bool
    latency_ms: int
    detail: str
    document_number: str | None = None


@dataclass(frozen=True)
class SyntheticLine:
    """The priced line of the synthetic invoice."""

    entry_id: int
    hours: Decimal
    rate: Decimal
    amount: Decimal


def pick_entry(records: list[Any]) -> dict[str, Any] | None:
    """The first time entry with positive hours and a billable rate (None when the page has none)."""
    for record in records:
        if not isinstance(record, dict) or record.get("billable_rate") is None:
            continue
        try:
            if Decimal(str(record.get("hours"))) > 0:
                return record
        except InvalidOperation:
            continue
    return None


def price(entry: dict[str, Any], currency: str) -> SyntheticLine:
    """hours x billable rate, rounded by the invoice line rule (half up to the currency's minor units)."""
    hours = Decimal(str(entry["hours"]))
    rate = Decimal(str(entry["billable_rate"]))
    return SyntheticLine(
        int(entry["id"]), hours, rate, round_decimal(hours * rate, currency, LINE_AMOUNT_RULE)
    )


def heartbeat_number(started: datetime, run_id: str) -> str:
    """A number no real document has (`HB-` prefix), unique per heartbeat run."""
    return f"{NUMBER_PREFIX}{started:%Y%m%dT%H%M%S}-{run_id[:8]}"


def heartbeat_entity(settings: HeartbeatSettings) -> EntityConfig:
    """The test tenant as the payload builder sees an entity (untaxed: its tax code must be 0%)."""
    return EntityConfig(
        id="heartbeat",
        name="billbridge heartbeat",
        base_currency=settings.currency,
        timezone="UTC",
        accounting_tenant_id=settings.tenant_id,
        revenue_account_code=settings.account_code,
        tax_type=settings.tax_type,
        tax_rate_percent=Decimal(0),
        payment_terms_days=0,
        invoice_status="DRAFT",
    )


def draft(
    number: str, line: SyntheticLine, settings: HeartbeatSettings, contact_id: str, day: date
) -> dict[str, Any]:
    """The synthetic invoice as the accounting API receives it (a DRAFT, one line, no tax)."""
    header = {
        "document_kind": "invoice",
        "document_type": "ACCREC",
        "document_number": number,
        "reference": f"billbridge heartbeat, PM entry {line.entry_id}",
        "document_date": day,
        "due_date": day,
        "currency": settings.currency,
        "base_currency": settings.currency,
        "line_amount_types": "Exclusive",
    }
    lines = pl.DataFrame(
        {
            "line_no": [1],
            "description": [f"heartbeat: PM time entry {line.entry_id}"],
            "quantity": [line.hours],
            "unit_amount": [line.rate],
            "line_amount": [line.amount],
            "account_code": [settings.account_code],
            "tax_type": [settings.tax_type],
            "tax_amount": [Decimal(0)],
        },
        schema_overrides={
            "quantity": QUANTITY,
            "unit_amount": MONEY,
            "line_amount": MONEY,
            "tax_amount": MONEY,
        },
    )
    return outbound_document(header, lines, heartbeat_entity(settings), contact_id)


def booking_problem(found: dict[str, dict[str, Any]], number: str, line: SyntheticLine) -> str | None:
    """Why the look-up does not show the synthetic invoice as drafted (None when it does)."""
    document = found.get(number)
    if document is None:
        return f"{number} is not in the test tenant after posting"
    total = Decimal(str(document.get("Total", "nan")))
    if total != line.amount:
        return f"{number} is booked at {total}, drafted at {line.amount}"
    return None
