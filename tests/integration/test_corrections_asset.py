"""`billing/correction_drafts` through real Dagster on a real DuckDB warehouse (no posting).

The invoice drafts are materialized from normalized lines, then "booked" the way the outbox
snapshots a confirmed document (rows inserted into posting.posted_lines and posting.outbox);
hours are edited and an entry deleted; the corrections asset drafts the credit note and the
supplementary invoice, written out here by hand. Booking those, a rerun issues nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import pytest

from assets.billing.correction_drafts import RECONCILES_CHECK, TOTALS_CHECK, build_correction_drafts
from assets.billing.invoice_drafts import build_invoice_drafts
from assets.partitions import Partitions, month_key
from pipelines.report import entity_summary, format_table
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from resources.fx import EcbRates
from resources.ledger_trace import trace_entry, trace_invoice
from resources.warehouse import Warehouse, append
from resources.xero import XeroClient
from rules.normalizing import normalize_lines
from rules.settings import BillbridgeConfig
from sandbox.xero import XeroSandbox
from tests.factories import directory, fx_snapshot, raw_frame, time_entry

pytestmark = pytest.mark.integration

DEMO = load_config(DEFAULT_CONFIG_PATH)
AUGUST = date(2026, 8, 1)
INVOICE = "BB-UK-202608-5101-GBP"
RATES = fx_snapshot({day: {"USD": "1.25", "GBP": "0.8"} for day in (date(2026, 7, 31), date(2026, 8, 31))})


def _entry(entry_id: int, hours: float, rate: float, task: int) -> dict[str, Any]:
    return time_entry(entry_id, hours, rate, client=5101, project=6101, task=task, currency="GBP")


def _normalized(warehouse: Warehouse, entries: list[dict[str, Any]], config: BillbridgeConfig = DEMO) -> None:
    """Replace the month's normalized lines (what extraction and normalization would have written)."""
    result = normalize_lines(
        raw_frame(entries, "uk"),
        raw_frame([], "uk"),
        directory({6101: True}, {5101: "GBP"}),
        config.entity("uk"),
        config,
        RATES,
        "normalize-run",
    )
    assert result.quarantine.height == 0
    with warehouse.transaction("uk") as con:
        con.execute("DELETE FROM normalized.billable_lines WHERE entity = 'uk'")
        append(con, "normalized.billable_lines", result.lines)


@pytest.fixture
def ledger() -> Iterator[XeroSandbox]:
    """The UK tenant's accounting ledger, for its lock date (no lock unless a test sets one)."""
    with XeroSandbox([DEMO.entity("uk").accounting_tenant_id]) as sandbox:
        yield sandbox


def _materialize(
    instance: dg.DagsterInstance,
    warehouse: Warehouse,
    ledger: XeroSandbox,
    lock_date: str = "",
    config: BillbridgeConfig = DEMO,
) -> dg.ExecuteInProcessResult:
    partitions = Partitions.of(config)
    result = dg.materialize(
        [build_invoice_drafts(partitions), build_correction_drafts(partitions)],
        partition_key=str(month_key("uk", AUGUST)),
        instance=instance,
        resources={
            "warehouse": warehouse,
            "fx": EcbRates(),
            "xero": XeroClient(base_url=ledger.url, access_token="demo-xero-token"),
            "settings": config,
        },
        run_config={"ops": {"billing__correction_drafts": {"config": {"lock_date": lock_date}}}},
    )
    assert result.success
    return result


# The month's documents as the outbox reads them (assets/posting/document_sources.py): headers, lines.
INVOICES = (
    "SELECT invoice_number AS document_number, 'invoice' AS document_kind, 'ACCREC' AS document_type, "
    "invoice_number AS original_number, entity, period, currency, invoice_date AS document_date, content_hash, "
    "total FROM billing.invoice_drafts",
    "SELECT invoice_number AS document_number, line_no, entity, period, description, quantity, unit_amount, "
    "line_amount, tax_type, tax_amount, account_code, project_id, task_id, source_kind "
    "FROM billing.invoice_draft_lines",
)
CORRECTIONS = (
    "SELECT document_number, document_kind, document_type, original_number, entity, period, currency, "
    "document_date, content_hash, total FROM billing.correction_documents",
    "SELECT * FROM billing.correction_document_lines",  # no trace columns: the outbox has none for them
)


def _book(warehouse: Warehouse, source: tuple[str, str]) -> None:
    """What the outbox does on confirmation: the booked lines into posting.posted_lines, the rows confirmed."""
    headers, lines = source
    with warehouse.transaction("uk") as con:
        con.execute(
            f"""INSERT INTO posting.posted_lines BY NAME
                SELECT l.*, h.document_kind, h.document_type, h.original_number, h.currency, h.document_date,
                       now() AS posted_at, 'booked' AS run_id
                FROM ({lines}) l JOIN ({headers}) h USING (document_number)"""
        )
        con.execute(
            f"""INSERT INTO posting.outbox BY NAME
                SELECT document_number, entity, period, content_hash, 'key-' || document_number AS idempotency_key,
                       'confirmed' AS status, 1 AS attempts, 'ext-' || document_number AS external_id,
                       total AS posted_total, total AS draft_total, currency, now() AS created_at,
                       now() AS updated_at, 'booked' AS run_id, document_kind
                FROM ({headers})"""
        )


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def test_edits_after_posting_become_a_credit_note_and_a_supplementary_invoice(
    tmp_path: Path, ledger: XeroSandbox
) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    # Booked: 10 h x 95.00 = 950.00 (tax 20% 190.00) and 4 h x 120.00 = 480.00 (tax 96.00).
    _normalized(warehouse, [_entry(1, 10, 95, 7001), _entry(2, 4, 120, 7002)])
    with dg.instance_for_test() as instance:
        first = _materialize(instance, warehouse, ledger)
        assert warehouse.query("uk", "SELECT total FROM billing.invoice_drafts").rows() == [(D("1716.00"),)]
        # Nothing booked yet: nothing to correct.
        assert warehouse.query("uk", "SELECT count(*) AS n FROM billing.correction_documents").item() == 0
        assert _checks(first) == {
            "invoice_total_equals_sum_of_lines": True, "no_time_entry_billed_twice": True,
            TOTALS_CHECK: True, RECONCILES_CHECK: True,
        }  # fmt: skip
        _book(warehouse, INVOICES)

        # After posting: entry 1 edited to 8 h, entry 2 deleted, entry 3 (1.5 h of task 7003) added.
        _normalized(warehouse, [_entry(1, 8, 95, 7001), _entry(3, 1.5, 95, 7003)])
        second = _materialize(instance, warehouse, ledger)
        assert _checks(second)[RECONCILES_CHECK] and _checks(second)[TOTALS_CHECK]
        documents = warehouse.query(
            "uk",
            "SELECT document_number, document_type, original_number, reference, document_date, due_date, "
            "contact_name, subtotal, total_tax, total FROM billing.correction_documents ORDER BY 1",
        )
        assert documents.rows() == [
            (f"{INVOICE}-CN1", "ACCRECCREDIT", INVOICE, f"Correction of {INVOICE}", date(2026, 8, 31), None,
             "Initech Ltd", D("670.00"), D("134.00"), D("804.00")),
            (f"{INVOICE}-S1", "ACCREC", INVOICE, f"Correction of {INVOICE}", date(2026, 8, 31), date(2026, 9, 30),
             "Initech Ltd", D("142.50"), D("28.50"), D("171.00")),
        ]  # fmt: skip
        lines = warehouse.query(
            "uk",
            "SELECT document_number, line_no, description, quantity, unit_amount, line_amount, tax_amount "
            "FROM billing.correction_document_lines ORDER BY 1, 2",
        )
        assert lines.rows() == [
            (f"{INVOICE}-CN1", 1, "Project 6101: Task 7001", D("2"), D("95"), D("190.00"), D("38.00")),
            (f"{INVOICE}-CN1", 2, "Project 6101: Task 7002", D("4"), D("120"), D("480.00"), D("96.00")),
            (f"{INVOICE}-S1", 1, "Project 6101: Task 7003", D("1.5"), D("95"), D("142.50"), D("28.50")),
        ]
        traced = warehouse.query(
            "uk",
            "SELECT document_number, line_no, correction_amount, len(current_line_ids) AS n "
            "FROM billing.correction_sources ORDER BY 1, 2",
        )
        assert traced.rows() == [
            (f"{INVOICE}-CN1", 1, D("-190.00"), 1),
            (f"{INVOICE}-CN1", 2, D("-480.00"), 0),
            (f"{INVOICE}-S1", 1, D("142.50"), 1),
        ]
        # `billbridge trace` reads the same (docs/decisions/0036): CN1's line 1 back to entry 1 as it is now,
        # and entry 1 forward to its invoice line and the credit note line drawing on it.
        back = trace_invoice(warehouse, "uk", f"{INVOICE}-CN1", 1)
        assert back is not None and back["document"]["original_number"] == INVOICE
        [line] = back["lines"]
        assert (line["billed_quantity"], line["current_quantity"], line["correction_amount"]) == (
            D("10"), D("8"), D("-190.00"),
        )  # fmt: skip
        assert [(s["source_kind"], s["source_id"]) for s in line["sources"]] == [("time", 1)]
        forward = trace_entry(warehouse, "uk", 1)
        assert forward is not None
        assert [(ln["invoice_number"], ln["line_no"]) for ln in forward["lines"]] == [(INVOICE, 1)]
        touching = [
            (c["document_number"], c["line_no"]) for c in forward["corrections"] if c["touches_entry"]
        ]
        assert touching == [(f"{INVOICE}-CN1", 1)]
        event = second.asset_materializations_for_node("billing__correction_drafts")[0]
        metadata = {k: v.value for k, v in event.metadata.items()}
        assert metadata["credit_notes"] == 1 and metadata["supplementary_invoices"] == 1
        assert metadata["credited_total"] == {"GBP": "804.0000"}
        assert metadata["supplementary_total"] == {"GBP": "171.0000"}

        # Booked: the next run has nothing to correct, and the booked documents' traces stay.
        _book(warehouse, CORRECTIONS)
        third = _materialize(instance, warehouse, ledger)
        assert _checks(third)[RECONCILES_CHECK]
        assert warehouse.query("uk", "SELECT count(*) AS n FROM billing.correction_documents").item() == 0
        assert warehouse.query("uk", "SELECT count(*) AS n FROM billing.correction_sources").item() == 3

        # Undo the deletion: entry 2 is back, so CN1's 480.00 is re-billed on S2.
        _normalized(warehouse, [_entry(1, 8, 95, 7001), _entry(2, 4, 120, 7002), _entry(3, 1.5, 95, 7003)])
        fourth = _materialize(instance, warehouse, ledger)
        assert _checks(fourth)[RECONCILES_CHECK]
        assert warehouse.query(
            "uk", "SELECT document_number, total FROM billing.correction_documents"
        ).rows() == [(f"{INVOICE}-S2", D("576.00"))]


@pytest.fixture
def uk_waits(tmp_path: Path) -> BillbridgeConfig:
    """The shipped configuration with the UK's corrections set to wait out a locked period."""
    shipped = Path(DEFAULT_CONFIG_PATH)
    mapping = (shipped.parent / "mapping.yaml").read_text()
    old = "corrections:\n  locked_period: move_to_open_period\n  entities: []\n"
    assert old in mapping
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "mapping.yaml").write_text(
        mapping.replace(old, "corrections:\n  entities:\n    - { entity: uk, locked_period: wait }\n")
    )
    (folder / "billbridge.yaml").write_text(shipped.read_text())
    config = load_config(folder / "billbridge.yaml")
    assert config.mapping.corrections.settings("uk").locked_period == "wait"
    return config


def test_a_locked_period_holds_the_correction_and_the_report_says_why(
    tmp_path: Path, ledger: XeroSandbox, uk_waits: BillbridgeConfig
) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    _normalized(warehouse, [_entry(1, 10, 95, 7001)], uk_waits)
    with dg.instance_for_test() as instance:
        _materialize(instance, warehouse, ledger, config=uk_waits)
        _book(warehouse, INVOICES)
        _normalized(warehouse, [_entry(1, 9, 95, 7001)], uk_waits)
        held = _materialize(instance, warehouse, ledger, lock_date="2026-09-30", config=uk_waits)
        assert held.success
    assert warehouse.query("uk", "SELECT count(*) AS n FROM billing.correction_documents").item() == 0
    holds = warehouse.query(
        "uk", "SELECT document_number, status, total, reason FROM billing.correction_holds"
    )
    assert holds.rows() == [
        (
            f"{INVOICE}-CN1",
            "held",
            D("114.00"),  # 1 h x 95.00 + 20% tax 19.00
            "dated 2026-08-31, on or before the tenant's lock date 2026-09-30: waits until the period is reopened (policy wait)",
        )
    ]
    summary = entity_summary(warehouse, "uk")
    assert summary["corrections_held"] == [
        f"{INVOICE}-CN1: held: dated 2026-08-31, on or before the tenant's lock date 2026-09-30: waits until the "
        "period is reopened (policy wait)"
    ]
    # The summary lists it under what needs attention, as waiting on purpose (~), with its reason.
    assert f"~ uk correction {INVOICE}-CN1: held: dated 2026-08-31" in format_table([summary])


def test_a_bad_lock_date_in_run_config_stops_with_the_key(tmp_path: Path, ledger: XeroSandbox) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            [build_correction_drafts(Partitions.of(DEMO))],
            partition_key=str(month_key("uk", AUGUST)),
            instance=instance,
            resources={
                "warehouse": warehouse,
                "xero": XeroClient(base_url=ledger.url, access_token="x"),
                "settings": DEMO,
            },
            run_config={"ops": {"billing__correction_drafts": {"config": {"lock_date": "30/09/2026"}}}},
            raise_on_error=False,
        )
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "run config lock_date: expected a date YYYY-MM-DD, got '30/09/2026'" in str(
        failure.event_specific_data
    )


def test_the_posted_snapshot_keys_match_the_frame_the_lead_writes() -> None:
    """posting.posted_lines as this asset reads it has the columns the outbox snapshot writes."""
    from resources.outbox.tables import POSTED_LINES_SCHEMA

    columns = Warehouse().query("us", "SELECT * FROM posting.posted_lines LIMIT 0").columns
    assert columns == POSTED_LINES_SCHEMA.names()
    assert pl.Schema(dict(POSTED_LINES_SCHEMA))["line_no"] == pl.Int32()


def test_a_vanished_invoice_is_credited_in_full_on_the_first_open_day(
    tmp_path: Path, ledger: XeroSandbox
) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    _normalized(warehouse, [_entry(1, 10, 95, 7001), _entry(2, 4, 120, 7002)])
    with dg.instance_for_test() as instance:
        _materialize(instance, warehouse, ledger)
        _book(warehouse, INVOICES)
        # Every entry moved away: no draft for the invoice any more; the tenant locked September in its
        # own ledger (read from the accounting API, not configured here).
        _normalized(warehouse, [])
        ledger.set_lock_dates(DEMO.entity("uk").accounting_tenant_id, period_lock=date(2026, 9, 30))
        result = _materialize(instance, warehouse, ledger)
        assert _checks(result)[RECONCILES_CHECK]
    assert warehouse.query("uk", "SELECT count(*) AS n FROM billing.invoice_drafts").item() == 0
    # The contact comes from the mapping (client 5101), the rate is 1 (GBP is the UK's base currency).
    assert warehouse.query(
        "uk",
        "SELECT document_number, contact_name, currency_rate, document_date, subtotal, total_tax, total "
        "FROM billing.correction_documents",
    ).rows() == [
        (f"{INVOICE}-CN1", "Initech Ltd", D("1"), date(2026, 10, 1), D("1430.00"), D("286.00"), D("1716.00"))
    ]
    assert warehouse.query("uk", "SELECT status, document_date FROM billing.correction_holds").rows() == [
        ("moved", date(2026, 10, 1))
    ]
