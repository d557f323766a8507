"""Settlement exactly once through the outbox, on the sandboxes: a demo month posted, its bank statement
generated from what the accounting sandbox holds, reconciled, the Payments posted, the invoices PAID.

The reconcile run is first killed with SIGKILL as the first payments' answer arrives (the provider has
booked them, the run never stored it); the rerun finds them by their Reference and sends only the rest;
a third run sends nothing. Every payment is in the sandbox ledger exactly once.
"""

from __future__ import annotations

import os
import signal
from collections import Counter
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from assets.posting.posting_pass import CRASH_ENV
from resources.bank_statements_decisions import current_items
from resources.bank_statements_inbox import inbox_folder
from resources.bank_statements_store import reconciliation_transaction
from resources.warehouse import Warehouse, default_home
from sandbox.bank_statement_files import render_camt053
from sandbox.bank_statements import demo_statement
from tests.conftest import Sandboxes
from tests.integration.test_reconciliation_end_to_end import TENANT, authorised_config, billbridge

pytestmark = pytest.mark.integration


def _payments(sandboxes: Sandboxes) -> Counter[str]:
    """How many live payments the sandbox ledger holds per Reference."""
    booked = sandboxes.xero.transactions(TENANT, "Payments")
    return Counter(str(p["Reference"]) for p in booked if p.get("Status") != "DELETED")


def test_payments_posted_exactly_once_through_a_kill(sandboxes: Sandboxes, tmp_path: Path) -> None:
    env = {**os.environ, **sandboxes.env, "BILLBRIDGE_CONFIG": str(authorised_config(tmp_path))}
    synced = billbridge(env, "sync", "--entity", "uk", "--period", "2026-09")
    assert synced.returncode == 0, synced.stdout[-2000:] + synced.stderr[-2000:]
    invoices = sandboxes.xero.documents(TENANT, "ACCREC")
    statement = demo_statement(invoices, date(2026, 10, 1), "GBP")
    (inbox_folder(default_home(), "uk") / "october.xml").write_bytes(render_camt053(statement))

    killed = billbridge(
        {**env, CRASH_ENV: "request_sent"}, "reconcile", "--entity", "uk", "--period", "2026-10"
    )
    assert killed.returncode == -signal.SIGKILL, killed.stdout[-2000:] + killed.stderr[-2000:]
    assert sum(_payments(sandboxes).values()) > 0  # booked by the provider, the answer never stored

    for _ in range(2):  # the rerun settles what the killed run sent and posts the rest; then nothing new
        rerun = billbridge(env, "reconcile", "--entity", "uk", "--period", "2026-10")
        assert rerun.returncode == 0, rerun.stdout[-2000:] + rerun.stderr[-2000:]

    warehouse = Warehouse()
    drafted = warehouse.query(
        "uk", "SELECT document_number, original_number, total FROM reconciliation.payment_documents"
    )
    outbox = warehouse.query(
        "uk", "SELECT document_number, status FROM posting.outbox WHERE document_kind = 'payment'"
    )
    assert drafted.height > 0
    assert sorted(outbox.rows()) == sorted((n, "confirmed") for n in drafted["document_number"])
    assert _payments(sandboxes) == Counter(dict.fromkeys(drafted["document_number"], 1))

    paid = {str(i["InvoiceNumber"]): i for i in sandboxes.xero.documents(TENANT, "ACCREC")}
    for number in set(drafted["original_number"]):
        invoice = paid[number]
        assert invoice["Status"] == "PAID", number
        assert Decimal(str(invoice["AmountDue"])) == 0
        assert Decimal(str(invoice["AmountPaid"])) == Decimal(str(invoice["Total"]))

    # The last run read the receivables after the payments were confirmed: what they paid counts once.
    with reconciliation_transaction(warehouse, "uk") as con:
        items = current_items(con, "uk")
    due = dict(zip(items["number"], items["amount_due"], strict=True))
    assert {number: due[number] for number in set(drafted["original_number"])} == dict.fromkeys(
        set(drafted["original_number"]), Decimal("0")
    )
