"""End to end on the sandboxes: a demo month posted, its bank statement generated from what the accounting
sandbox holds, reconciled; the CLI runs in child processes with the entity issuing authorised invoices."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from resources.bank_statements_inbox import inbox_folder
from resources.configuration import DEFAULT_CONFIG_PATH
from resources.warehouse import Warehouse, default_home
from sandbox.bank_statement_files import render_camt053
from sandbox.bank_statements import demo_statement
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration
TENANT = "3f0c7a52-5e7a-4a8e-9d0e-000000000002"  # uk


def authorised_config(tmp_path: Path) -> Path:
    """The demo configuration with invoices created AUTHORISED (payments apply only to those)."""
    text = DEFAULT_CONFIG_PATH.read_text().replace("invoice_status: DRAFT", "invoice_status: AUTHORISED")
    text = text.replace("mapping: mapping.yaml", f"mapping: {DEFAULT_CONFIG_PATH.parent / 'mapping.yaml'}")
    path = tmp_path / "billbridge.yaml"
    path.write_text(text)
    return path


def billbridge(env: dict[str, str], *args: str, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a child process."""
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout, check=False)  # fmt: skip


def test_posted_month_statement_reconciled(sandboxes: Sandboxes, tmp_path: Path) -> None:
    env = {**os.environ, **sandboxes.env, "BILLBRIDGE_CONFIG": str(authorised_config(tmp_path))}
    synced = billbridge(env, "sync", "--entity", "uk", "--period", "2026-09")
    assert synced.returncode == 0, synced.stdout[-2000:] + synced.stderr[-2000:]
    invoices = sandboxes.xero.documents(TENANT, "ACCREC")
    assert invoices and all(i["Status"] == "AUTHORISED" for i in invoices)

    statement = demo_statement(invoices, date(2026, 10, 1), "GBP")
    (inbox_folder(default_home(), "uk") / "october.xml").write_bytes(render_camt053(statement))
    reconciled = billbridge(env, "reconcile", "--entity", "uk", "--period", "2026-10")
    assert reconciled.returncode == 0, reconciled.stdout[-2000:] + reconciled.stderr[-2000:]

    warehouse = Warehouse()
    states = warehouse.query("uk", "SELECT s.status, b.remittance FROM reconciliation.line_state s "
                                   "JOIN reconciliation.bank_lines b USING (line_id)")  # fmt: skip
    by_text = dict(zip(states["remittance"], states["status"], strict=True))
    quoted = [str(i["InvoiceNumber"]) for i in invoices]
    assert any(by_text.get(n) == "auto_accepted" for n in quoted)
    assert by_text["RENT"] == "exception"
    pending = warehouse.query(
        "uk", "SELECT count(*) AS n FROM reconciliation.settlements WHERE status = 'pending'"
    )
    assert pending["n"][0] == sum(1 for s in by_text.values() if s == "auto_accepted")
