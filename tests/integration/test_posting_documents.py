"""Every outbound kind through the one outbox: invoices, bills, credit notes (allocated), journals, lock dates.

The documents are written straight into the producers' tables in the outbound shape; every
assertion reads the accounting sandbox's own ledger, with amounts written out here by hand.
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from assets.outbound_sources import DOCUMENT_SOURCES
from assets.posting.outbox import post_period
from resources.configuration import current_config
from resources.warehouse import Warehouse, append
from resources.xero import XeroClient
from rules.documents import DOCUMENT_HEADER_SCHEMA, DOCUMENT_LINE_SCHEMA
from rules.settings import EntityConfig
from sandbox.xero import Fault, XeroSandbox

pytestmark = pytest.mark.integration

PERIOD = "2026-08"
INVOICE = "BB-US-202608-5001-USD"
CREDIT = "BB-US-202608-5001-USD-CN1"
SUPPLEMENT = "BB-US-202608-5001-USD-S1"
BILL = "BB-UK-202608-IC-US"
JOURNAL = "BB-US-202608-MJ-RENT"


def _entity(tenant: str, status: str = "AUTHORISED") -> EntityConfig:
    return (
        current_config()
        .entity("us")
        .model_copy(update={"accounting_tenant_id": tenant, "invoice_status": status})
    )


def _header(number: str, kind: str, doc_type: str | None, total: str, **extra: Any) -> dict[str, Any]:
    values = {
        "document_number": number,
        "document_kind": kind,
        "document_type": doc_type,
        "entity": "us",
        "period": PERIOD,
        "contact_name": "Acme Corporation",
        "reference": f"ref {number}",
        "document_date": date(2026, 8, 31),
        "due_date": date(2026, 9, 30) if kind == "invoice" else None,
        "currency": "USD",
        "base_currency": "USD",
        "currency_rate": D("1"),
        "line_amount_types": "Exclusive",
        "subtotal": D(total),
        "total_tax": D("0"),
        "total": D(total),
        "original_number": None,
        "content_hash": hashlib.sha256(f"{number}:{total}".encode()).hexdigest(),
        "rule_set_version": "test",
        "run_id": "test",
    }
    values.update(extra)
    return values


def _line(
    number: str, line_no: int, quantity: str, unit: str, amount: str, account: str = "200"
) -> dict[str, Any]:
    return {
        "document_number": number,
        "line_no": line_no,
        "entity": "us",
        "period": PERIOD,
        "description": f"{number} line {line_no}",
        "quantity": D(quantity),
        "unit_amount": D(unit),
        "line_amount": D(amount),
        "tax_type": "NONE",
        "tax_amount": D("0"),
        "account_code": account,
    }


def _write(
    warehouse: Warehouse, table: str, headers: list[dict[str, Any]], lines: list[dict[str, Any]]
) -> None:
    """Write documents into a producer's tables, as that producer's asset would."""
    with warehouse.transaction("us") as con:
        append(con, f"{table}_documents", pl.DataFrame(headers, schema=DOCUMENT_HEADER_SCHEMA))
        append(con, f"{table}_document_lines", pl.DataFrame(lines, schema=DOCUMENT_LINE_SCHEMA))


def _write_invoice_draft(warehouse: Warehouse) -> None:
    """The original invoice, as the invoice-drafts asset writes it: 10 h at 150.00 = 1,500.00."""
    header = {
        "invoice_number": INVOICE, "entity": "us", "period": PERIOD, "client_id": 5001,
        "contact_name": "Acme Corporation", "currency": "USD", "invoice_date": date(2026, 8, 31),
        "due_date": date(2026, 9, 30), "reference": "US-ACM-01", "line_count": 1,
        "subtotal": D("1500"), "total_tax": D("0"), "total": D("1500"), "base_currency": "USD",
        "currency_rate": D("1"), "total_base": D("1500"), "content_hash": "h-invoice",
        "rule_set_version": "test", "run_id": "test", "line_amount_types": "Exclusive",
    }  # fmt: skip
    line = {
        "invoice_number": INVOICE, "line_no": 1, "entity": "us", "period": PERIOD,
        "description": "Website Rebuild: Design", "quantity": D("10"), "unit_amount": D("150"),
        "line_amount": D("1500"), "tax_type": "NONE", "tax_amount": D("0"), "account_code": "200",
        "project_id": 6001, "task_id": 7001, "source_kind": "time", "rate_source": "pm", "rule_set_version": "test",
        "rounding_rule": "line:half_up", "tax_rounding_rule": "line:half_up",
    }  # fmt: skip
    columns = warehouse.query("us", "SELECT * FROM billing.invoice_drafts LIMIT 0").columns
    line_columns = warehouse.query("us", "SELECT * FROM billing.invoice_draft_lines LIMIT 0").columns
    with warehouse.transaction("us") as con:
        append(con, "billing.invoice_drafts", pl.DataFrame([{c: header.get(c) for c in columns}]))
        append(con, "billing.invoice_draft_lines", pl.DataFrame([{c: line.get(c) for c in line_columns}]))


def _all_kinds(warehouse: Warehouse) -> None:
    """An invoice, its credit note (2 h over-billed: 300.00) and supplementary invoice (1 h: 150.00),
    an intercompany bill of 800.00 and a balanced rent journal of 1,000.00."""
    _write_invoice_draft(warehouse)
    _write(
        warehouse,
        "billing.correction",
        [
            _header(CREDIT, "credit_note", "ACCRECCREDIT", "300", original_number=INVOICE),
            _header(SUPPLEMENT, "invoice", "ACCREC", "150", original_number=INVOICE),
        ],
        [_line(CREDIT, 1, "2", "150", "300"), _line(SUPPLEMENT, 1, "1", "150", "150")],
    )
    _write(
        warehouse,
        "billing.intercompany",
        [_header(BILL, "invoice", "ACCPAY", "800", contact_name="Billbridge Ltd")],
        [_line(BILL, 1, "8", "100", "800", account="310")],
    )


@pytest.fixture
def tenant() -> str:
    return f"t-{uuid.uuid4().hex[:12]}"


def test_every_kind_posts_once_and_the_credit_note_settles_its_invoice(tmp_path: Path, tenant: str) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    _all_kinds(warehouse)
    entity = _entity(tenant)
    with XeroSandbox([tenant], base_currencies={tenant: "USD"}) as sandbox:
        xero = XeroClient(base_url=sandbox.url, access_token="demo-xero-token")
        first = post_period(entity, PERIOD, warehouse, xero, "r1", sources=DOCUMENT_SOURCES)
        second = post_period(entity, PERIOD, warehouse, xero, "r2", sources=DOCUMENT_SOURCES)
        invoices = {d["InvoiceNumber"]: d for d in sandbox.documents(tenant, "ACCREC")}
        bills = sandbox.documents(tenant, "ACCPAY")
        credits = sandbox.documents(tenant, "ACCRECCREDIT")
    assert sorted(first.posted_new) == sorted([INVOICE, SUPPLEMENT, BILL, CREDIT])
    assert first.allocated == [CREDIT]
    assert second.posted_new == [] and second.allocated == []
    assert sorted(second.already_posted) == sorted([INVOICE, SUPPLEMENT, BILL, CREDIT])
    # The original 1,500.00 less the 300.00 credit; the supplementary 150.00 is its own invoice.
    assert D(str(invoices[INVOICE]["AmountDue"])) == D("1200.00")
    assert D(str(invoices[INVOICE]["AmountCredited"])) == D("300.00")
    assert D(str(invoices[SUPPLEMENT]["Total"])) == D("150.00")
    assert [(b["InvoiceNumber"], D(str(b["Total"]))) for b in bills] == [(BILL, D("800.00"))]
    assert len(credits) == 1 and credits[0]["CreditNoteNumber"] == CREDIT
    assert D(str(credits[0]["RemainingCredit"])) == D("0.00") and credits[0]["Status"] == "PAID"
    posted = warehouse.query(
        "us",
        "SELECT document_number, document_kind, original_number, line_amount FROM posting.posted_lines ORDER BY 1",
    )
    assert posted.rows() == [
        (BILL, "invoice", BILL, D("800")),
        (INVOICE, "invoice", INVOICE, D("1500")),
        (CREDIT, "credit_note", INVOICE, D("300")),
        (SUPPLEMENT, "invoice", INVOICE, D("150")),
    ]


def test_journals_post_by_narration_and_a_lost_answer_is_found_not_resent(
    tmp_path: Path, tenant: str
) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    _write(
        warehouse,
        "billing.intercompany",  # any registered source carries journals the same way
        [_header(JOURNAL, "manual_journal", None, "1000", contact_name=None, reference="Rent August")],
        [
            _line(JOURNAL, 1, "1", "1000", "1000", account="477"),
            _line(JOURNAL, 2, "1", "-1000", "-1000", account="800"),
        ],
    )
    entity = _entity(tenant)
    with XeroSandbox([tenant], base_currencies={tenant: "USD"}) as sandbox:
        sandbox.inject(Fault("drop_after_commit", method="PUT", path="/ManualJournals"))
        xero = XeroClient(base_url=sandbox.url, access_token="demo-xero-token", timeout_s=2)
        outcome = post_period(entity, PERIOD, warehouse, xero, "r1", sources=DOCUMENT_SOURCES)
        journals = sandbox.documents(tenant, "MANUALJOURNAL")
    assert outcome.found_by_lookup == [JOURNAL] and outcome.posted_new == []
    assert len(journals) == 1
    assert journals[0]["Narration"] == f"{JOURNAL}: Rent August" and journals[0]["Status"] == "POSTED"
    assert [D(str(line["LineAmount"])) for line in journals[0]["JournalLines"]] == [
        D("1000.00"),
        D("-1000.00"),
    ]
    row = warehouse.query(
        "us", "SELECT status, posted_total FROM posting.outbox WHERE document_number = ?", [JOURNAL]
    )
    assert row.rows() == [("confirmed", D("1000"))]


def test_an_unbalanced_journal_is_refused_before_anything_is_sent(tmp_path: Path, tenant: str) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    _write(
        warehouse,
        "billing.intercompany",
        [_header(JOURNAL, "manual_journal", None, "1000", contact_name=None)],
        [_line(JOURNAL, 1, "1", "1000", "1000"), _line(JOURNAL, 2, "1", "-999.99", "-999.99")],
    )
    with XeroSandbox([tenant]) as sandbox:
        xero = XeroClient(base_url=sandbox.url, access_token="demo-xero-token")
        with pytest.raises(ValueError, match="do not balance"):
            post_period(_entity(tenant), PERIOD, warehouse, xero, "r1", sources=DOCUMENT_SOURCES)
        assert sandbox.request_count(tenant) == 0


def test_documents_dated_in_a_locked_period_wait_with_the_reason(tmp_path: Path, tenant: str) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    _all_kinds(warehouse)
    entity = _entity(tenant, status="DRAFT")
    with XeroSandbox([tenant], base_currencies={tenant: "USD"}) as sandbox:
        sandbox.set_lock_dates(tenant, period_lock=date(2026, 8, 31))
        xero = XeroClient(base_url=sandbox.url, access_token="demo-xero-token")
        held = post_period(entity, PERIOD, warehouse, xero, "r1", sources=DOCUMENT_SOURCES)
        assert sandbox.documents(tenant, None) == []
        reasons = warehouse.query("us", "SELECT DISTINCT status, last_error FROM posting.outbox")
        sandbox.set_lock_dates(tenant)  # the bookkeeper reopens August
        released = post_period(entity, PERIOD, warehouse, xero, "r2", sources=DOCUMENT_SOURCES)
        kinds = Counter(str(d.get("Type", "MANUALJOURNAL")) for d in sandbox.documents(tenant, None))
    assert sorted(held.held) == sorted([INVOICE, SUPPLEMENT, BILL, CREDIT]) and held.posted_new == []
    assert reasons.rows() == [
        ("pending", "held: dated 2026-08-31, on or before the tenant's lock date 2026-08-31")
    ]
    assert sorted(released.posted_new) == sorted([INVOICE, SUPPLEMENT, BILL, CREDIT])
    assert kinds == Counter({"ACCREC": 2, "ACCPAY": 1, "ACCRECCREDIT": 1})
    # Drafts cannot be allocated in the ledger: the row says the allocation waits.
    note = warehouse.query(
        "us", "SELECT allocation_note FROM posting.outbox WHERE document_number = ?", [CREDIT]
    )
    assert note["allocation_note"][0].startswith("waits: the ledger allocates approved documents only")


def test_outbound_documents_read_every_registered_source_in_kind_order(tmp_path: Path) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    _all_kinds(warehouse)
    headers, lines = DOCUMENT_SOURCES.read(warehouse, "us", PERIOD)
    assert headers.select("document_number", "document_kind", "document_type").rows() == [
        (BILL, "invoice", "ACCPAY"),
        (INVOICE, "invoice", "ACCREC"),
        (SUPPLEMENT, "invoice", "ACCREC"),
        (CREDIT, "credit_note", "ACCRECCREDIT"),
    ]
    traced = lines.filter(pl.col("document_number") == INVOICE)
    assert traced.select("project_id", "task_id", "source_kind").rows() == [(6001, 7001, "time")]


def _allocation_run(warehouse: Warehouse, run_id: str, amount: str, created: str) -> None:
    """An allocation run of us 2026-08 with one journal: rent of `amount` from the pool to a project."""
    with warehouse.transaction("us") as con:
        con.execute(
            "INSERT INTO allocation.runs VALUES (?, 'us', ?, 'v1', 'rules.yaml', 'in', ?, NULL, ?, 0, ?::TIMESTAMPTZ)",
            [run_id, PERIOD, f"result-{run_id}", D(amount), created],
        )
        for line_no, account, signed in ((1, "477", D(amount)), (2, "800", -D(amount))):
            con.execute(
                "INSERT INTO allocation.journal_drafts VALUES (?, 'us', ?, 'RENT', DATE '2026-08-31', "
                "'Rent allocated to projects', ?, ?, 'Rent', ?, 'USD', 'v1')",
                [run_id, PERIOD, line_no, account, signed],
            )


def test_a_reallocation_reverses_a_journal_whose_posting_was_in_doubt(tmp_path: Path, tenant: str) -> None:
    """Run A's journal was booked but its answer lost (the row still says 'sent'); re-allocating as
    run B must reverse A, not book B beside it: the ledger nets to B's 700.00 on each account."""
    warehouse = Warehouse(home=str(tmp_path))
    entity = _entity(tenant)
    _allocation_run(warehouse, "run-a", "600", "2026-09-01 08:00:00+00")
    with XeroSandbox([tenant], base_currencies={tenant: "USD"}) as sandbox:
        xero = XeroClient(base_url=sandbox.url, access_token="demo-xero-token")
        first = post_period(entity, PERIOD, warehouse, xero, "r1", sources=DOCUMENT_SOURCES)
        assert len(first.posted_new) == 1
        with warehouse.transaction("us") as con:  # the state a run killed after sending leaves behind
            con.execute("UPDATE posting.outbox SET status = 'sent', external_id = NULL")
            con.execute("DELETE FROM posting.posted_lines")
        _allocation_run(warehouse, "run-b", "700", "2026-09-02 08:00:00+00")
        second = post_period(entity, PERIOD, warehouse, xero, "r2", sources=DOCUMENT_SOURCES)
        journals = sandbox.documents(tenant, "MANUALJOURNAL")
    assert second.found_by_lookup == first.posted_new
    net: dict[str, D] = {}
    for journal in journals:
        for line in journal["JournalLines"]:
            net[line["AccountCode"]] = net.get(line["AccountCode"], D(0)) + D(str(line["LineAmount"]))
    assert len(journals) == 3  # A, A's reversal, B
    assert net == {"477": D("700.00"), "800": D("-700.00")}
    assert any(j["Narration"].startswith(f"{first.posted_new[0]}-REV: ") for j in journals)
