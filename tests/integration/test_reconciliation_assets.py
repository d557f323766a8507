"""Reconciliation as Dagster runs over real DuckDB files and the accounting sandbox: inbox -> lines,
receivables read from the API, the month matched, every decision in the append-only match log."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path

import dagster as dg
import pytest

from assets.partitions import Partitions
from pipelines.definitions import defs
from pipelines.reconciliation_jobs import months_to_reconcile
from pipelines.runner import QUIET
from resources.bank_statements_inbox import inbox_folder
from resources.configuration import current_config
from resources.warehouse import Warehouse, default_home
from resources.xero import XeroClient
from rules.calendar import previous_local_day
from sandbox.bank_statement_files import Statement, render_camt053
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration
TENANT = "3f0c7a52-5e7a-4a8e-9d0e-000000000002"  # uk


def authorised_invoice(number: str, contact: str, unit: str) -> dict[str, object]:
    """An AUTHORISED GBP invoice dated 2026-09-30 of one line of `unit` plus 20% VAT (OUTPUT2)."""
    return {"Type": "ACCREC", "Contact": {"Name": contact}, "InvoiceNumber": number, "Date": "2026-09-30",
            "DueDate": "2026-10-30", "CurrencyCode": "GBP", "Status": "AUTHORISED", "LineAmountTypes": "Exclusive",
            "LineItems": [{"Description": "Work", "Quantity": D("1"), "UnitAmount": D(unit), "AccountCode": "200",
                           "TaxType": "OUTPUT2"}]}  # fmt: skip


def statement_line(day: int, amount: str, payer: str, text: str) -> dict[str, object]:
    """One October GBP statement line without stated charges."""
    return {"booking_date": date(2026, 10, day), "amount": D(amount), "currency": "GBP",
            "counterparty_name": payer, "remittance": text, "bank_reference": f"BR{day}", "charges": None}  # fmt: skip


def _run(job: str, key: dg.MultiPartitionKey, instance: dg.DagsterInstance) -> None:
    result = defs.resolve_job_def(job).execute_in_process(
        instance=instance, partition_key=str(key), run_config=QUIET, raise_on_error=False
    )
    assert result.success, job


def test_statement_to_match_log(sandboxes: Sandboxes) -> None:
    xero = XeroClient(
        base_url=sandboxes.env["XERO_BASE_URL"], access_token=sandboxes.env["XERO_ACCESS_TOKEN"]
    )
    # 1,000.00 + 20% VAT = 1,200.00 and 500.00 + 20% = 600.00.
    xero.send_documents(TENANT, "Invoices", [authorised_invoice("BB-UK-202609-5101-GBP", "Initech Ltd", "1000.00"),
                                             authorised_invoice("BB-UK-202609-5102-GBP", "Umbrella plc", "500.00")], "k1")  # fmt: skip
    statement = Statement("GB33BUKB20201555555555", "GBP", "OCT", date(2026, 10, 1), date(2026, 10, 31), D("0"),
                          (statement_line(12, "1200.00", "INITECH LIMITED", "INV BB-UK-202609-5101-GBP"),
                           statement_line(14, "600.00", "UMBRELLA", "THANK YOU"),
                           statement_line(15, "-80.00", "Office Supplies", "PAPER")))  # fmt: skip
    folder = inbox_folder(default_home(), "uk")
    (folder / "oct.xml").write_bytes(render_camt053(statement))

    timezone = current_config().entity("uk").timezone
    day = previous_local_day(datetime.now(UTC), timezone)
    with dg.DagsterInstance.ephemeral() as instance:
        _run("load_bank_statements", dg.MultiPartitionKey({"entity": "uk", "day": day.isoformat()}), instance)
        october = dg.MultiPartitionKey({"entity": "uk", "month": "2026-10-01"})
        _run("reconcile_bank", october, instance)
        _run("reconcile_bank", october, instance)  # a rerun decides nothing new

    warehouse = Warehouse()
    log = warehouse.query("uk", "SELECT * FROM reconciliation.match_log ORDER BY line_id")
    assert log.height == 3  # one decision per line, none repeated by the rerun
    by_text = {row["explanation"]: row for row in log.iter_rows(named=True)}
    auto = next(r for r in log.iter_rows(named=True) if r["status"] == "auto_accepted")
    assert (auto["confidence"], auto["decided_by"], auto["auto_accept_threshold"]) == (
        1.0,
        "billbridge:matcher",
        0.85,
    )
    assert '"amount": "1200.0000"' in auto["bank_line"] and "BB-UK-202609-5101-GBP" in auto["items"]
    assert auto["rule_version"].startswith("2026.12.1+")
    assert sorted(r["status"] for r in log.iter_rows(named=True)) == [
        "auto_accepted",
        "exception",
        "proposed",
    ]
    assert len(by_text) == 3
    settlements = warehouse.query("uk", "SELECT received, status FROM reconciliation.settlements")
    assert settlements.rows() == [(D("1200.0000"), "pending")]
    payments = warehouse.query("uk", "SELECT d.document_kind, d.original_number, d.total, l.account_code FROM "
                                     "reconciliation.payment_documents d JOIN reconciliation.payment_document_lines l "
                                     "USING (document_number)")  # fmt: skip
    assert payments.rows() == [("payment", "BB-UK-202609-5101-GBP", D("1200.0000"), "090")]
    assert [k.keys_by_dimension["month"] for k in months_to_reconcile("uk", date(2026, 10, 3), Partitions.of(current_config()).entity_month)] == [
        "2026-10-01", "2026-09-01",
    ]  # fmt: skip
    assert list((Path(default_home()) / "inbox/bank/uk/received").iterdir())

    from pipelines.report import format_table, summary

    figures = next(r for r in summary(current_config(), warehouse) if r["entity"] == "uk")["reconciliation"]
    # 1,200.00 paid 12 days after the 30 September invoice: DSO 12.0; the 600.00 proposal is cash not yet applied.
    assert figures == {"matched_automatically": 1, "matched_by_hand": 0, "proposed": 1, "open_exceptions": 1,
                       "rejected": 0, "unapplied_cash": {"GBP": "600.0000"}, "written_off": {"GBP": "0.0000"},
                       "dso_days": 12.0, "duplicate_parties": []}  # fmt: skip
    assert "uk: matched automatically 1, by hand 0, proposed 1, open exceptions 1" in format_table(
        summary(current_config(), warehouse)
    )
