"""Statement files into a real DuckDB warehouse: kept with their hash, loaded once, bad ones quarantined whole."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path

import pytest

from resources.bank_statements_inbox import file_away, inbox_folder, pending_files
from resources.bank_statements_store import ReceivedFile, receive_file
from resources.warehouse import Warehouse
from sandbox.bank_statement_files import Statement, render_camt053, render_csv, render_mt940

pytestmark = pytest.mark.integration


def _line(day: int, amount: str, payer: str, text: str, month: int = 9) -> dict[str, object]:
    return {"booking_date": date(2026, month, day), "amount": D(amount), "currency": "GBP",
            "counterparty_name": payer, "remittance": text, "bank_reference": f"BR{day}", "charges": None}  # fmt: skip


SEPTEMBER = Statement("GB33BUKB20201555555555", "GBP", "S-2026-09", date(2026, 9, 1), date(2026, 9, 30),
                      D("1000.00"), (_line(3, "1200.00", "INITECH LTD", "BB-UK-202608-5101-GBP"),
                                     _line(5, "-250.50", "Landlord", "RENT")))  # fmt: skip
OCTOBER = Statement("GB33BUKB20201555555555", "GBP", "S-2026-10", date(2026, 10, 1), date(2026, 10, 31),
                    D("1949.50"), (_line(4, "99.99", "UMBRELLA PLC", "BB-UK-202609-5102-GBP", 10),))  # fmt: skip


def _drop(folder: Path, name: str, raw: bytes) -> None:
    (folder / name).write_bytes(raw)


def _process(warehouse: Warehouse, folder: Path) -> dict[str, tuple[str, str, int]]:
    outcomes = {}
    for path in pending_files(folder):
        outcome = receive_file(
            warehouse, ReceivedFile("uk", path.name, path.read_bytes(), date(2026, 10, 5), "t")
        )
        file_away(path, outcome)
        outcomes[path.name] = (outcome.status, outcome.reason, outcome.line_number)
    return outcomes


def test_files_are_loaded_once_and_bad_ones_quarantined_while_the_rest_proceed(tmp_path: Path) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    folder = inbox_folder(tmp_path, "uk")
    _drop(folder, "1-sept.xml", render_camt053(SEPTEMBER))
    _drop(folder, "2-sept-again.xml", render_camt053(SEPTEMBER))  # the very same bytes
    _drop(folder, "3-sept.mt940", render_mt940(SEPTEMBER))  # the same statement as MT940: an overlap
    _drop(folder, "4-broken.mt940", render_mt940(OCTOBER).replace(b":61:261004", b":61:26X004"))
    _drop(folder, "5-unbalanced.mt940", render_mt940(OCTOBER, closing=D("2000.00")))
    _drop(folder, "6-oct.csv", render_csv(OCTOBER))
    outcomes = _process(warehouse, folder)

    assert outcomes["1-sept.xml"][0] == "loaded"
    assert outcomes["2-sept-again.xml"][0] == "seen_before"
    assert outcomes["3-sept.mt940"][0] == "overlap"
    assert "same account, dates and balances as 1-sept.xml" in outcomes["3-sept.mt940"][1]
    assert outcomes["4-broken.mt940"][:1] == ("quarantined",) and outcomes["4-broken.mt940"][2] == 5
    # opening 1,949.50 + 99.99 = 2,049.49; the file says 2,000.00.
    assert outcomes["5-unbalanced.mt940"][0] == "unbalanced"
    assert "difference -49.49 GBP" in outcomes["5-unbalanced.mt940"][1]
    assert outcomes["6-oct.csv"][0] == "loaded"

    lines = warehouse.query(
        "uk", "SELECT amount, remittance FROM reconciliation.bank_lines ORDER BY booking_date"
    )
    assert lines["amount"].to_list() == [D("1200.00"), D("-250.50"), D("99.99")]  # nothing counted twice
    raw = warehouse.query(
        "uk", "SELECT file_name, raw FROM reconciliation.statement_files WHERE status = 'quarantined'"
    )
    assert (
        raw["raw"][0]
        == (tmp_path / "inbox/bank/uk/quarantine").glob("*4-broken.mt940").__next__().read_bytes()
    )
    assert pending_files(folder) == []
    assert sorted(p.name[13:] for p in (folder / "quarantine").iterdir()) == [
        "4-broken.mt940",
        "5-unbalanced.mt940",
    ]
