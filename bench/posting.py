"""Posting at the provider's real pace: Xero's 60 calls a minute, 5 in flight, per tenant.

The ceiling is 50 invoices a call times 60 calls: 3,000 invoices a minute per tenant. Drafts are
generated straight into a temporary warehouse per tenant (no PM extraction) and posted through the
real outbox, one thread per tenant in this process (so every tenant's CPU shares one interpreter),
to the accounting sandbox serving HTTP from a process of its own (bench/xero_process.py).

Two figures per run. The *window* share: invoices confirmed in the second minute, [60 s, 120 s),
over 3,000; the first minute is left out because a sliding window starts empty and allows a
burst, and each tenant has enough drafts to stay busy through the second. The *call* share:
invoices over 50 x calls spent (look-ups, contacts, the lock date, sends): what the run would reach
against a window that is already full, which is the figure for a first close of a short month.

`write_synthetic_drafts` is also what the posting tests use to set up a period's drafts.
"""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from decimal import Decimal

import polars as pl

from resources.warehouse import Warehouse, replace_slice
from rules.settings import EntityConfig

RATE = Decimal("150.0000")


def synthetic_drafts(
    entity: EntityConfig,
    period: str,
    count: int,
    *,
    first_client: int = 5001,
    bad_tax: frozenset[int] = frozenset(),
    contacts: int = 5,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`count` one-line drafts (client ids from `first_client`), hours x 150.00, no tax.

    Invoice `k` (0-based) bills `k % 37 + 1` hours, for the contact `Bench Client {k % contacts}`;
    those in `bad_tax` carry the tax type BOGUS, which the accounting system rejects (the poison document).
    """
    month = date.fromisoformat(f"{period}-01")
    headers, lines = [], []
    for k in range(count):
        client = first_client + k
        number = f"BB-{entity.id.upper()}-{period.replace('-', '')}-{client}-USD"
        hours = Decimal(k % 37 + 1).quantize(Decimal("0.0001"))
        amount = (hours * RATE).quantize(Decimal("0.0001"))
        tax_type = "BOGUS" if k in bad_tax else "NONE"
        digest = hashlib.sha256(f"{number}|{hours}|{RATE}|{tax_type}".encode()).hexdigest()
        headers.append(
            {
                "invoice_number": number, "entity": entity.id, "period": period, "client_id": client,
                "contact_name": f"Bench Client {k % contacts}", "currency": "USD", "invoice_date": month,
                "due_date": month + timedelta(days=30), "reference": f"P-{client}", "line_count": 1,
                "subtotal": amount, "total_tax": Decimal("0.0000"), "total": amount, "base_currency": "USD",
                "currency_rate": Decimal("1.00000000"), "total_base": amount, "content_hash": digest,
                "rule_set_version": "bench", "run_id": "bench", "line_amount_types": "Exclusive",
            }
        )  # fmt: skip
        lines.append(
            {
                "invoice_number": number, "line_no": 1, "entity": entity.id, "period": period,
                "description": f"Project {client}: consulting", "quantity": hours, "unit_amount": RATE,
                "line_amount": amount, "tax_type": tax_type, "tax_amount": Decimal("0.0000"),
                "account_code": entity.revenue_account_code, "project_id": client, "task_id": None,
                "source_kind": "time", "rate_source": "pm", "rule_set_version": "bench",
                "rounding_rule": "line:half_up", "tax_rounding_rule": "line:half_up",
            }
        )  # fmt: skip
    money = pl.Decimal(18, 4)
    header_frame = pl.DataFrame(headers).with_columns(
        pl.col("subtotal", "total_tax", "total", "total_base").cast(money),
        pl.col("currency_rate").cast(pl.Decimal(18, 8)),
    )
    line_frame = pl.DataFrame(lines, schema_overrides={"task_id": pl.Int64}).with_columns(
        pl.col("quantity", "unit_amount", "line_amount", "tax_amount").cast(money)
    )
    return header_frame, line_frame


def write_synthetic_drafts(
    warehouse: Warehouse, entity: EntityConfig, period: str, count: int, **options: object
) -> pl.DataFrame:
    """Replace the entity-period's drafts with synthetic ones; returns the invoice headers."""
    headers, lines = synthetic_drafts(entity, period, count, **options)  # type: ignore[arg-type]
    where, params = "entity = ? AND period = ?", [entity.id, period]
    with warehouse.transaction(entity.id) as con:
        replace_slice(con, "billing.invoice_drafts", headers, where, params)
        replace_slice(con, "billing.invoice_draft_lines", lines, where, params)
    return headers
