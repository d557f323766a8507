"""The close of month M posts the allocation journals dated within M, and no others.

Hand-written cases: September's hardware (7,200.00, 710 / 429) depreciated over three months
(2,400.00 a month, 416 / 711, dated at October's, November's and December's ends) and October's
printer (1,000.00, capitalized at October's end).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import polars as pl

from rules.allocation.close_month import AllocatedMonth, dated_within, journals_of_close
from rules.schemas.catalog import table

# The registered shapes, so a column added to either table reaches these cases.
DRAFT_SCHEMA = table("allocation.journal_drafts").polars_schema()
POSTED_SCHEMA = table("posting.posted_lines").polars_schema()
NOTHING_POSTED = pl.DataFrame(schema=POSTED_SCHEMA)


def _journal(
    run: str, period: str, ref: str, when: date, debit: str, credit: str, amount: str
) -> list[dict[str, Any]]:
    return [
        {
            "run_id": run,
            "entity": "us",
            "period": period,
            "journal_ref": ref,
            "journal_date": when,
            "narration": ref,
            "line_no": no,
            "account_code": account,
            "description": ref,
            "line_amount": Decimal(value),
            "currency": "USD",
            "rule_set_version": "2026.11.1",
        }
        for no, account, value in ((1, debit, amount), (2, credit, f"-{amount}"))
    ]


def _september(run: str, depreciation: str = "2400.00") -> AllocatedMonth:
    rows = _journal(run, "2026-09", "CAPEX-us-hardware-2026-09", date(2026, 9, 30), "710", "429", "7200.00")
    for n, when in enumerate((date(2026, 10, 31), date(2026, 11, 30), date(2026, 12, 31)), start=1):
        rows += _journal(run, "2026-09", f"DEPR-us-hardware-2026-09-00{n}", when, "416", "711", depreciation)
    return AllocatedMonth("2026-09", run, pl.DataFrame(rows, schema=DRAFT_SCHEMA))


def _october(run: str = "run-oct") -> AllocatedMonth:
    rows = _journal(run, "2026-10", "CAPEX-us-printer-2026-10", date(2026, 10, 31), "710", "429", "1000.00")
    return AllocatedMonth("2026-10", run, pl.DataFrame(rows, schema=DRAFT_SCHEMA))


def _summary(headers: pl.DataFrame) -> list[tuple[str, str, date, Decimal]]:
    """(reference, period, date, total) per journal, in number order."""
    ordered = headers.sort("document_number")
    return list(
        zip(ordered["reference"], ordered["period"], ordered["document_date"], ordered["total"], strict=True)
    )


def _booked(*closes: tuple[pl.DataFrame, pl.DataFrame]) -> pl.DataFrame:
    """posting.posted_lines as the outbox leaves them once the closes' documents are confirmed."""
    frames = []
    for headers, lines in closes:
        booked = lines.join(
            headers.select("document_number", "currency", "document_date"), on="document_number"
        )
        kept = [name for name in POSTED_SCHEMA if name in booked.columns]
        frames.append(booked.select(kept).cast({name: POSTED_SCHEMA[name] for name in kept}))
    return pl.concat([NOTHING_POSTED, *frames], how="diagonal")


def test_a_month_boundary_belongs_to_the_month_it_ends() -> None:
    headers = pl.DataFrame(
        {"document_date": [date(2026, 9, 30), date(2026, 10, 1), date(2026, 10, 31), date(2026, 11, 1)]}
    )
    assert dated_within(headers, "2026-10").to_list() == [False, True, True, False]


def test_the_allocation_month_posts_its_capitalization_and_no_depreciation() -> None:
    headers, lines = journals_of_close("us", "2026-09", [_september("run-a"), _october()], NOTHING_POSTED)
    assert _summary(headers) == [
        (
            "CAPEX-us-hardware-2026-09 [CAPEX-us-hardware-2026-09]",
            "2026-09",
            date(2026, 9, 30),
            Decimal("7200.00"),
        )
    ]
    assert headers["document_number"][0].startswith("BB-US-202609-MJ-")
    assert lines["line_amount"].to_list() == [Decimal("7200.00"), Decimal("-7200.00")]


def test_each_later_close_posts_that_months_depreciation_beside_its_own_capitalization() -> None:
    months = [_september("run-a"), _october()]
    october, october_lines = journals_of_close("us", "2026-10", months, NOTHING_POSTED)
    assert sorted(_summary(october), key=lambda j: j[0]) == [
        (
            "CAPEX-us-printer-2026-10 [CAPEX-us-printer-2026-10]",
            "2026-10",
            date(2026, 10, 31),
            Decimal("1000.00"),
        ),
        (
            "DEPR-us-hardware-2026-09-001 [DEPR-us-hardware-2026-09-001]",
            "2026-10",
            date(2026, 10, 31),
            Decimal("2400.00"),
        ),
    ]
    assert set(october_lines["period"]) == {"2026-10"}
    november, _ = journals_of_close("us", "2026-11", months, NOTHING_POSTED)
    assert _summary(november) == [
        (
            "DEPR-us-hardware-2026-09-002 [DEPR-us-hardware-2026-09-002]",
            "2026-11",
            date(2026, 11, 30),
            Decimal("2400.00"),
        )
    ]
    january, _ = journals_of_close("us", "2027-01", months, NOTHING_POSTED)
    assert january.height == 0  # the three months are over
    august, _ = journals_of_close("us", "2026-08", months, NOTHING_POSTED)
    assert august.height == 0  # nothing allocated yet


def test_a_rerun_close_finds_the_same_documents_and_the_next_close_posts_no_duplicate() -> None:
    months = [_september("run-a")]
    first = journals_of_close("us", "2026-10", months, NOTHING_POSTED)
    again = journals_of_close("us", "2026-10", months, _booked(first))
    assert (
        again[0]
        .select("document_number", "content_hash")
        .equals(first[0].select("document_number", "content_hash"))
    )
    november, _ = journals_of_close("us", "2026-11", months, _booked(first))
    assert set(november["document_number"]).isdisjoint(first[0]["document_number"])


def test_a_reallocation_reverses_the_posted_depreciation_in_its_own_month_only() -> None:
    booked = _booked(
        journals_of_close("us", "2026-09", [_september("run-a")], NOTHING_POSTED),
        journals_of_close("us", "2026-10", [_september("run-a")], NOTHING_POSTED),
    )
    # Re-allocated: the depreciation becomes 2,000.00 a month (the capitalization is unchanged).
    earlier, current = _september("run-a"), _september("run-b", depreciation="2000.00")
    months = [AllocatedMonth("2026-09", "run-b", pl.concat([earlier.drafts, current.drafts]))]
    september, _ = journals_of_close("us", "2026-09", months, booked)
    assert september.height == 1 and september["document_number"][0] in set(booked["document_number"])
    october, october_lines = journals_of_close("us", "2026-10", months, booked)
    reversal, replacement = october.row(0, named=True), october.row(1, named=True)
    assert reversal["document_number"].endswith("-REV") and reversal["original_number"] in set(
        booked["document_number"]
    )
    assert (reversal["document_date"], reversal["total"], reversal["period"]) == (
        date(2026, 10, 31),
        Decimal("2400.00"),
        "2026-10",
    )
    assert (replacement["document_date"], replacement["total"]) == (date(2026, 10, 31), Decimal("2000.00"))
    assert october_lines["line_amount"].to_list() == [
        Decimal("-2400.00"),
        Decimal("2400.00"),
        Decimal("2000.00"),
        Decimal("-2000.00"),
    ]
    november, _ = journals_of_close("us", "2026-11", months, booked)
    assert _summary(november) == [
        (
            "DEPR-us-hardware-2026-09-002 [DEPR-us-hardware-2026-09-002]",
            "2026-11",
            date(2026, 11, 30),
            Decimal("2000.00"),
        )
    ]
