"""A small reconciled ledger in a real warehouse file, for the workbench's tests (no sandbox needed)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D

import polars as pl

from resources.bank_statements_decisions import current_items, record_matcher_decisions, undecided_lines
from resources.bank_statements_rules import load_reconciliation_rules
from resources.bank_statements_store import ReceivedFile, receive_file, reconciliation_transaction
from resources.warehouse import Warehouse, append
from rules.reconciliation.frames import OPEN_ITEM_SCHEMA
from rules.reconciliation.ladder import match_lines
from rules.reconciliation.match_log import MATCHER, Actor
from sandbox.bank_statement_files import Statement, render_csv


def _item(item_id: str, number: str, contact: str, due: str) -> dict[str, object]:
    return {"item_id": item_id, "item_kind": "invoice", "number": number, "entity": "uk", "contact_name": contact,
            "currency": "GBP", "currency_rate": D(1), "issue_date": date(2026, 9, 30), "due_date": date(2026, 10, 30),
            "total": D(due), "amount_due": D(due), "status": "AUTHORISED", "credited": D(0)}  # fmt: skip


ITEMS = [
    _item("inv-1", "BB-UK-202609-5101-GBP", "Initech Ltd", "1200.00"),
    _item("inv-2", "BB-UK-202609-5102-GBP", "Umbrella plc", "600.00"),
    _item("inv-3", "BB-UK-202609-5103-GBP", "Hooli Ltd", "450.00"),
    _item("inv-4", "BB-UK-202609-5104-GBP", "Pied Piper Ltd", "990.00"),
]


def _line(day: int, amount: str, payer: str, text: str) -> dict[str, object]:
    return {"booking_date": date(2026, 10, day), "amount": D(amount), "currency": "GBP", "counterparty_name": payer,
            "remittance": text, "bank_reference": f"BR{day}", "charges": None}  # fmt: skip


LINES = (
    _line(10, "1200.00", "INITECH", "BB-UK-202609-5101-GBP"),  # auto-accepted
    _line(11, "600.00", "UMBRELLA", "THANK YOU"),  # proposed: name and amount only
    _line(12, "450.00", "HOOLI", "PAYMENT"),  # proposed
    _line(13, "990.00", "PIED PIPER", "OCTOBER"),  # proposed
    _line(14, "35.00", "STRANGER SA", "REF 1"),  # exception
)


def seed(warehouse: Warehouse) -> None:
    """Load one October statement for `uk`, the receivables, and let the matcher decide."""
    statement = Statement("GB1", "GBP", "OCT", date(2026, 10, 1), date(2026, 10, 31), D("0"), LINES)
    receive_file(warehouse, ReceivedFile("uk", "oct.csv", render_csv(statement), date(2026, 11, 1), "seed"))
    rules = load_reconciliation_rules()
    items = pl.DataFrame(ITEMS, schema=OPEN_ITEM_SCHEMA).with_columns(
        day=pl.lit(date(2026, 11, 1)), read_at=pl.lit(datetime.now(UTC)), run_id=pl.lit("seed")
    )
    with reconciliation_transaction(warehouse, "uk") as con:
        append(con, "reconciliation.receivables", items)
        lines = undecided_lines(con, "uk", date(2026, 10, 1), date(2026, 10, 31))
        current = current_items(con, "uk")
        decisions = match_lines(lines, current, rules, "uk")
        record_matcher_decisions(con, decisions, lines, current, rules, Actor(MATCHER, datetime.now(UTC), "seed"),
                                 "2026-10")  # fmt: skip
