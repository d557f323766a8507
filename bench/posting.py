"""Posting throughput against the accounting sandbox at 600 calls/minute (Xero's 60, scaled up 10x).

The ceiling is 50 invoices a call times the calls allowed: 30,000 invoices a minute. Drafts
are generated straight into a temporary warehouse (no PM extraction), posted through the real
outbox to a separate sandbox tenant, and the run is long enough to pass one whole rate window,
so the figure is the steady-state rate rather than a first-minute burst.

`write_synthetic_drafts` is also what the posting tests use to set up a period's drafts.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import polars as pl

from resources.configuration import load_config
from resources.warehouse import Warehouse, replace_slice
from rules.settings import EntityConfig

BENCH_TENANT = "bench-tenant-posting"
CALLS_PER_MINUTE = 600
RATE = Decimal("150.0000")


def synthetic_drafts(
    entity: EntityConfig,
    period: str,
    count: int,
    *,
    first_client: int = 5001,
    bad_tax: frozenset[int] = frozenset(),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """`count` one-line drafts (client ids from `first_client`), hours x 150.00, no tax.

    Invoice `k` (0-based) bills `k % 37 + 1` hours; those in `bad_tax` carry the tax type BOGUS,
    which the accounting system rejects (the poison document).
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
                "contact_name": f"Bench Client {k % 5}", "currency": "USD", "invoice_date": month,
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


def bench_posting(invoices: int) -> None:
    """Post `invoices` drafts at 600 calls/min and print the rate as a share of the ceiling."""
    from assets.outbound_sources import DOCUMENT_SOURCES
    from assets.posting.outbox import post_period
    from resources.xero import XeroClient
    from sandbox.xero import XeroSandbox

    entity = load_config().entity("us").model_copy(update={"accounting_tenant_id": BENCH_TENANT})
    with tempfile.TemporaryDirectory() as home:
        os.environ["BILLBRIDGE_HOME"] = home
        warehouse = Warehouse(home=home)
        period = "2026-08"
        write_synthetic_drafts(warehouse, entity, period, invoices)
        with XeroSandbox(
            [BENCH_TENANT], db_path=os.path.join(home, "xero.sqlite"), minute_limit=CALLS_PER_MINUTE,
            day_limit=None, concurrent_limit=5,
        ) as sandbox:  # fmt: skip
            xero = XeroClient(
                base_url=sandbox.url, access_token="demo-xero-token", calls_per_minute=CALLS_PER_MINUTE,
                max_in_flight=5, calls_per_day=1_000_000, compress_requests=True,
            )  # fmt: skip
            started = datetime.now(UTC)
            t0 = time.perf_counter()
            outcome = post_period(
                entity, period, warehouse, xero, f"bench-{uuid.uuid4().hex[:8]}", sources=DOCUMENT_SOURCES
            )
            elapsed = time.perf_counter() - t0
            stored = len(sandbox.documents(BENCH_TENANT))
            calls = sandbox.request_count(BENCH_TENANT)
            limited = sandbox.rate_limited_count
        # Steady state: what was confirmed after the first full window, when the first minute's
        # burst allowance is spent and only the sliding window's refill remains.
        after = warehouse.query(
            entity.id,
            "SELECT count(*) AS n, max(updated_at) AS last FROM posting.outbox "
            "WHERE status = 'confirmed' AND updated_at >= ?",
            [started + timedelta(seconds=60)],
        )
    ceiling = 50 * CALLS_PER_MINUTE
    rate = len(outcome.posted_new) / elapsed * 60
    print(
        f"posting:      {len(outcome.posted_new):,} invoices in {elapsed:.1f}s ({calls} calls, {limited} answered 429, "
        f"{stored:,} in the ledger) = {rate:,.0f} invoices/min overall = {rate / ceiling:.0%} of the "
        f"{ceiling:,}/min ceiling (50 x {CALLS_PER_MINUTE} calls/min; the first minute includes the window's burst)"
    )
    steady_n, last = int(after["n"][0]), after["last"][0]
    if steady_n and last is not None:
        span = (last - (started + timedelta(seconds=60))).total_seconds()
        steady = steady_n / span * 60 if span > 0 else float("nan")
        print(
            f"steady state: {steady_n:,} invoices confirmed after the first minute in {span:.1f}s = "
            f"{steady:,.0f} invoices/min = {steady / ceiling:.0%} of the ceiling; 429 answers: {limited}"
        )
    else:
        print("steady state: the run finished inside the first window; pass more invoices to measure it")
