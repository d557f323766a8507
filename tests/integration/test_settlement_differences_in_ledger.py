"""A bank fee and a write-off reach the accounting sandbox's ledger, end to end on the real sandboxes.

Two authorised invoices are in the ledger; the October statement pays one net of a known bank fee
(10.00, config/reconciliation_rules.yaml: uk fee_amounts) and the other 1.50 short (within the
write-off rule: <= 2.00 and <= 0.5% of 600.00 = 3.00). `billbridge reconcile` matches both, drafts
their Payments and posts them through the outbox; the ledger then holds each invoice PAID, the cash
from the bank account (090), the fee from the bank fees account (404) and the write-off from the
write-off account (480), to the cent, read back over HTTP. A rerun posts nothing twice.
"""

from __future__ import annotations

import os
from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from resources.bank_statements_inbox import inbox_folder
from resources.warehouse import Warehouse, default_home
from resources.xero import XeroClient
from sandbox.bank_statement_files import Statement, render_csv
from tests.conftest import Sandboxes
from tests.integration.test_reconciliation_assets import authorised_invoice, statement_line
from tests.integration.test_reconciliation_end_to_end import TENANT, authorised_config, billbridge

pytestmark = pytest.mark.integration
NET_OF_FEE, SHORT_PAID = "BB-UK-202609-5301-GBP", "BB-UK-202609-5302-GBP"


def _reconcile(env: dict[str, str]) -> None:
    done = billbridge(env, "reconcile", "--entity", "uk", "--period", "2026-10")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def test_fee_and_write_off_are_booked_on_their_accounts(sandboxes: Sandboxes, tmp_path: Path) -> None:
    env = {**os.environ, **sandboxes.env, "BILLBRIDGE_CONFIG": str(authorised_config(tmp_path))}
    xero = XeroClient(base_url=sandboxes.xero.url, access_token="demo-xero-token")
    invoices = [
        authorised_invoice(NET_OF_FEE, "Initech Ltd", "1000.00"),
        authorised_invoice(SHORT_PAID, "Umbrella plc", "500.00"),
    ]
    xero.send_documents(TENANT, "Invoices", invoices, "seed-invoices")
    lines = (
        statement_line(12, "1190.00", "INITECH LTD", NET_OF_FEE),
        statement_line(14, "598.50", "UMBRELLA PLC", SHORT_PAID),
    )
    statement = Statement("GB1", "GBP", "OCT", date(2026, 10, 1), date(2026, 10, 31), D("0"), lines)
    (inbox_folder(default_home(), "uk") / "october.csv").write_bytes(render_csv(statement))

    _reconcile(env)
    booked = xero.find_by_prefix(TENANT, "Payments", "Reference", "BB-UK-202610-PAY-")
    _reconcile(env)  # the rerun finds every payment booked and sends none again
    again = xero.find_by_prefix(TENANT, "Payments", "Reference", "BB-UK-202610-PAY-")

    paid = {
        (p["Invoice"]["InvoiceNumber"], p["Account"]["Code"], D(str(p["Amount"]))) for p in booked.values()
    }
    assert paid == {
        (NET_OF_FEE, "090", D("1190.00")),  # the cash the bank received
        (NET_OF_FEE, "404", D("10.00")),  # the bank fee, on the bank fees account
        (SHORT_PAID, "090", D("598.50")),
        (SHORT_PAID, "480", D("1.50")),  # the write-off, on the write-off account
    }
    assert again.keys() == booked.keys()
    everything = sandboxes.xero.transactions(TENANT, "Payments")
    assert len(everything) == 4  # nothing posted twice, not even under another reference

    ledger = xero.find_by_prefix(TENANT, "Invoices", "InvoiceNumber", "BB-UK-202609-")
    assert {n: (i["Status"], D(str(i["AmountPaid"])), D(str(i["AmountDue"]))) for n, i in ledger.items()} == {
        NET_OF_FEE: ("PAID", D("1200.00"), D("0.00")),
        SHORT_PAID: ("PAID", D("600.00"), D("0.00")),
    }

    warehouse = Warehouse()
    reasons = warehouse.query(
        "uk", "SELECT fee, write_off, reason FROM reconciliation.settlements ORDER BY booking_date"
    )
    assert reasons.rows() == [
        (D("10.00"), D("0.00"), "shortfall equals a known bank fee"),
        (D("0.00"), D("1.50"), "difference 1.50 within the write-off rule (<= 2.00 and <= 0.5%)"),
    ]
    logged = warehouse.query("uk", "SELECT status, decided_by FROM reconciliation.match_log")
    assert (
        logged.rows() == [("auto_accepted", "billbridge:matcher")] * 2
    )  # one row per decision, none on the rerun
    outbox = warehouse.query(
        "uk", "SELECT status, attempts FROM posting.outbox WHERE document_kind = 'payment'"
    )
    assert outbox.rows() == [("confirmed", 1)] * 4
