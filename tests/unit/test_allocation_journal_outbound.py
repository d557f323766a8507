"""Allocation journals -> outbound documents: numbers, reversals of superseded posted journals, refusals.

Expected frames are written out by hand. The drafts are September's hardware capitalization
(7,200.00 to account 710 from 429) and its first depreciation (200.00, 416 / 711).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from rules.allocation.journals import JournalPostingError, journal_documents_for_posting
from rules.documents import DOCUMENT_HEADER_SCHEMA, DOCUMENT_LINE_SCHEMA
from rules.schemas.catalog import table

CAPEX = "CAPEX-us-hardware-2026-09"
DEPR = "DEPR-us-hardware-2026-09-001"
# Numbers: BB-US-202609-MJ- + 10 hex of sha256("<journal ref>|<allocation run id>"), pinned here
# because the ledger is searched by them: a changed scheme would re-book every posted journal.
CAPEX_1, DEPR_1 = "BB-US-202609-MJ-FA7059555D", "BB-US-202609-MJ-C6E753E8A1"
DEPR_2 = "BB-US-202609-MJ-F4A42EE7EE"
DRAFT_SCHEMA = table("allocation.journal_drafts").polars_schema()
NO_ROWS = table("posting.posted_lines").empty()


def _drafts(run_id: str, depreciation: str = "200.00", capital: str = "7200.00") -> list[dict[str, Any]]:
    def line(
        ref: str, when: date, narration: str, no: int, account: str, what: str, amount: str
    ) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "entity": "us",
            "period": "2026-09",
            "journal_ref": ref,
            "journal_date": when,
            "narration": narration,
            "line_no": no,
            "account_code": account,
            "description": what,
            "line_amount": Decimal(amount),
            "currency": "USD",
            "rule_set_version": f"2026.11.1+{run_id}",
        }

    capex, depr = date(2026, 9, 30), date(2026, 10, 31)
    return [
        line(CAPEX, capex, "Capitalize hardware 2026-09", 1, "710", "hardware 2026-09 capitalized", capital),
        line(CAPEX, capex, "Capitalize hardware 2026-09", 2, "429", "hardware 2026-09 capitalized", f"-{capital}"),
        line(DEPR, depr, "Depreciation 1/36 of hardware 2026-09", 1, "416", "straight line 36 months", depreciation),
        line(DEPR, depr, "Depreciation 1/36 of hardware 2026-09", 2, "711", "straight line 36 months", f"-{depreciation}"),
    ]  # fmt: skip


def _frame(*runs: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame([row for run in runs for row in run], schema=DRAFT_SCHEMA)


def _booked(headers: pl.DataFrame, lines: pl.DataFrame) -> pl.DataFrame:
    """What posting.posted_lines holds once the outbox has confirmed these documents."""
    return lines.join(headers.select("document_number", "currency", "document_date"), on="document_number")


def _header(
    number: str, reference: str, when: date, total: str, run_id: str, original: str | None
) -> dict[str, Any]:
    return {
        "document_number": number, "document_kind": "manual_journal", "document_type": None, "entity": "us",
        "period": "2026-09", "contact_name": None, "reference": reference, "document_date": when, "due_date": None,
        "currency": "USD", "base_currency": "USD", "currency_rate": Decimal("1"), "line_amount_types": "NoTax",
        "subtotal": Decimal(total), "total_tax": Decimal("0"), "total": Decimal(total), "original_number": original,
        "rule_set_version": f"2026.11.1+{run_id}", "run_id": run_id,
    }  # fmt: skip


def _line(number: str, no: int, what: str, amount: str, account: str) -> dict[str, Any]:
    return {
        "document_number": number, "line_no": no, "entity": "us", "period": "2026-09", "description": what,
        "quantity": Decimal("1"), "unit_amount": Decimal(amount), "line_amount": Decimal(amount),
        "tax_type": "NONE", "tax_amount": Decimal("0"), "account_code": account,
    }  # fmt: skip


def _expect(
    headers: pl.DataFrame,
    lines: pl.DataFrame,
    want_headers: list[dict[str, Any]],
    want_lines: list[dict[str, Any]],
) -> None:
    """The documents equal the hand-written ones (content hashes are checked on their own)."""
    want = pl.DataFrame(want_headers, schema=DOCUMENT_HEADER_SCHEMA)
    assert_frame_equal(headers.drop("content_hash"), want.drop("content_hash"))
    assert_frame_equal(lines, pl.DataFrame(want_lines, schema=DOCUMENT_LINE_SCHEMA))


def test_first_posting_numbers_the_current_runs_journals_in_the_outbound_shape() -> None:
    headers, lines = journal_documents_for_posting(_frame(_drafts("run-1")), "run-1", NO_ROWS)
    _expect(
        headers,
        lines,
        [
            _header(CAPEX_1, f"Capitalize hardware 2026-09 [{CAPEX}]", date(2026, 9, 30), "7200.00", "run-1", None),
            _header(DEPR_1, f"Depreciation 1/36 of hardware 2026-09 [{DEPR}]", date(2026, 10, 31), "200.00", "run-1", None),
        ],
        [
            _line(CAPEX_1, 1, "hardware 2026-09 capitalized", "7200.00", "710"),
            _line(CAPEX_1, 2, "hardware 2026-09 capitalized", "-7200.00", "429"),
            _line(DEPR_1, 1, "straight line 36 months", "200.00", "416"),
            _line(DEPR_1, 2, "straight line 36 months", "-200.00", "711"),
        ],
    )  # fmt: skip
    # Deterministic content hash of what the ledger receives (pinned: the outbox keys on it).
    assert headers["content_hash"].to_list() == [
        "2b7c29d8bcc21141e90293191ca50bf1f17f737264aa9a546a9dff21005a94fd",
        "0634aac8b4b0bf6732f30bb061c1c30dad29beb54111b6f157bbddc681753d8f",
    ]
    again, _ = journal_documents_for_posting(_frame(_drafts("run-1")), "run-1", NO_ROWS)
    assert again["content_hash"].to_list() == headers["content_hash"].to_list()


def test_an_unchanged_rerun_keeps_the_posted_numbers_and_hashes_so_nothing_is_new() -> None:
    first_headers, first_lines = journal_documents_for_posting(_frame(_drafts("run-1")), "run-1", NO_ROWS)
    posted = _booked(first_headers, first_lines)
    # run-2: same journals under another rule-set version (provenance, not content).
    headers, lines = journal_documents_for_posting(
        _frame(_drafts("run-1"), _drafts("run-2")), "run-2", posted
    )
    assert headers["document_number"].to_list() == [CAPEX_1, DEPR_1]
    assert headers["content_hash"].to_list() == first_headers["content_hash"].to_list()
    assert headers["original_number"].to_list() == [None, None]
    assert_frame_equal(lines, first_lines)


def test_a_changed_rerun_reverses_the_superseded_posted_journal_before_its_new_one() -> None:
    first_headers, first_lines = journal_documents_for_posting(_frame(_drafts("run-1")), "run-1", NO_ROWS)
    posted = _booked(first_headers, first_lines)
    # run-2 depreciates 208.33 in the first month: the capitalization is unchanged.
    drafts = _frame(_drafts("run-1"), _drafts("run-2", depreciation="208.33"))
    headers, lines = journal_documents_for_posting(drafts, "run-2", posted)
    reversal = f"{DEPR_1}-REV"
    _expect(
        headers,
        lines,
        [
            _header(reversal, f"Reversal of {DEPR_1}: superseded by allocation run run-2", date(2026, 10, 31), "200.00", "run-2", DEPR_1),
            _header(CAPEX_1, f"Capitalize hardware 2026-09 [{CAPEX}]", date(2026, 9, 30), "7200.00", "run-2", None),
            _header(DEPR_2, f"Depreciation 1/36 of hardware 2026-09 [{DEPR}]", date(2026, 10, 31), "208.33", "run-2", None),
        ],
        [
            _line(reversal, 1, "straight line 36 months", "-200.00", "416"),
            _line(reversal, 2, "straight line 36 months", "200.00", "711"),
            _line(CAPEX_1, 1, "hardware 2026-09 capitalized", "7200.00", "710"),
            _line(CAPEX_1, 2, "hardware 2026-09 capitalized", "-7200.00", "429"),
            _line(DEPR_2, 1, "straight line 36 months", "208.33", "416"),
            _line(DEPR_2, 2, "straight line 36 months", "-208.33", "711"),
        ],
    )  # fmt: skip
    assert headers["content_hash"][1] == first_headers["content_hash"][0]  # the kept capitalization

    # Once all that is booked, run-3 with run-2's result adds nothing; the reversed journal is history.
    posted = pl.concat([posted, _booked(headers, lines)])
    drafts = pl.concat([drafts, _frame(_drafts("run-3", depreciation="208.33"))])
    later, _ = journal_documents_for_posting(drafts, "run-3", posted)
    assert later["document_number"].to_list() == [CAPEX_1, DEPR_2]
    assert later["content_hash"].to_list() == headers["content_hash"].to_list()[1:]


def test_a_journal_the_current_run_no_longer_drafts_is_reversed() -> None:
    first_headers, first_lines = journal_documents_for_posting(_frame(_drafts("run-1")), "run-1", NO_ROWS)
    posted = _booked(first_headers, first_lines)
    # run-2 has no capex at all (no journals), and a foreign manual journal of the month is ignored.
    foreign = posted.filter(pl.col("document_number") == CAPEX_1).with_columns(
        pl.lit("BB-US-202609-FX-1").alias("document_number")
    )
    headers, lines = journal_documents_for_posting(
        _frame(_drafts("run-1")), "run-2", pl.concat([posted, foreign])
    )
    assert headers["document_number"].to_list() == [f"{DEPR_1}-REV", f"{CAPEX_1}-REV"]
    assert headers["total"].to_list() == [Decimal("200.00"), Decimal("7200.00")]
    assert lines["line_amount"].to_list() == [
        Decimal("-200.00"),
        Decimal("200.00"),
        Decimal("-7200.00"),
        Decimal("7200.00"),
    ]


def test_an_unbalanced_draft_is_refused_with_the_journal_named() -> None:
    rows = _drafts("run-1")
    rows[3] = {**rows[3], "line_amount": Decimal("-199.99")}
    with pytest.raises(JournalPostingError, match=rf"run-1: journal {DEPR} \(us 2026-09\) does not balance: its lines sum to 0.0100"):  # fmt: skip
        journal_documents_for_posting(_frame(rows), "run-1", NO_ROWS)


def test_one_entity_month_at_a_time() -> None:
    other = [{**row, "entity": "uk"} for row in _drafts("run-1")]
    with pytest.raises(JournalPostingError, match="one entity-month at a time"):
        journal_documents_for_posting(_frame(_drafts("run-1"), other), "run-1", NO_ROWS)
