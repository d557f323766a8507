"""The demo's ledger fingerprint is the same for two runs of one release, and moves with money."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from bench.demo_ledger import fingerprint

JOURNAL = {"Narration": "Depreciation [DEPR-us-hardware-2026-09-001]", "Date": "2026-09-30",
           "JournalLines": [{"LineAmount": "200.00", "AccountCode": "416"},
                            {"LineAmount": "-200.00", "AccountCode": "711"}]}  # fmt: skip


def _ledger(path: Path, number: str, journal: dict[str, object]) -> Path:
    with sqlite3.connect(path) as con:
        con.execute("CREATE TABLE documents (tenant, doc_type, number, reference, contact_name, body)")
        con.execute(
            "INSERT INTO documents VALUES ('t-us', 'ManualJournal', ?, 'DEPR [x]', '', ?)",
            (number, json.dumps(journal)),
        )
    return path


def test_two_allocation_runs_of_one_release_give_one_fingerprint(tmp_path: Path) -> None:
    # The numbers end in a hash of each run's id (decision 0038): different on every run.
    first = fingerprint(_ledger(tmp_path / "a.sqlite", "BB-US-202609-MJ-FA7059555D", JOURNAL))
    second = fingerprint(_ledger(tmp_path / "b.sqlite", "BB-US-202609-MJ-C6E753E8A1", JOURNAL))
    assert first == second
    assert "BB-US-202609-MJ-* " in first[0]


def test_a_changed_amount_changes_the_fingerprint(tmp_path: Path) -> None:
    moved = {**JOURNAL, "JournalLines": [{"LineAmount": "200.01", "AccountCode": "416"}]}
    first = fingerprint(_ledger(tmp_path / "a.sqlite", "BB-US-202609-MJ-FA7059555D", JOURNAL))
    second = fingerprint(_ledger(tmp_path / "b.sqlite", "BB-US-202609-MJ-FA7059555D", moved))
    assert first != second
