"""Corrections after invoicing, hand-computed: credit notes and supplementary invoices per line key,
tax on corrections, numbering across rounds, lock dates (move and wait), reversal and idempotence.

Every expected amount is written out here; nothing is recomputed by the code under test.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from checks.schemas import (
    CorrectionDocumentLines,
    CorrectionDocuments,
    CorrectionHolds,
    CorrectionSources,
    validate,
)
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.billing.correction_check import reconciles
from rules.billing.corrections import (
    BLOCKED,
    ORIGINAL_SCHEMA,
    BookedInvoices,
    CorrectionRound,
    Corrections,
    correct_invoices,
    next_number,
)
from rules.billing.differences import KEY_MAP_SCHEMA
from rules.billing.lock_dates import HELD, MOVED, binding_lock_date, date_outside_lock
from rules.config_types import ConfigurationError
from rules.invariants import lines_sum_to_totals
from rules.settings import BillbridgeConfig, EntityConfig

PERIOD = "2026-08"
INVOICE_DATE = date(2026, 8, 31)
ACME = "BB-US-202608-5001-USD"
GLOBEX = "BB-US-202608-5003-USD"
UK = "BB-UK-202608-5101-GBP"

POSTED_SCHEMA = pl.Schema(
    {
        "document_number": pl.String(), "document_kind": pl.String(), "document_type": pl.String(),
        "original_number": pl.String(), "entity": pl.String(), "period": pl.String(), "line_no": pl.Int32(),
        "description": pl.String(), "quantity": pl.Decimal(18, 4), "unit_amount": pl.Decimal(18, 4),
        "line_amount": pl.Decimal(18, 4), "tax_type": pl.String(), "tax_amount": pl.Decimal(18, 4),
        "account_code": pl.String(), "project_id": pl.Int64(), "task_id": pl.Int64(), "source_kind": pl.String(),
        "currency": pl.String(), "document_date": pl.Date(), "posted_at": pl.Datetime("us", "UTC"),
        "run_id": pl.String(),
    }
)  # fmt: skip
DRAFT_LINE_SCHEMA = pl.Schema(
    {
        "invoice_number": pl.String(), "line_no": pl.Int32(), "entity": pl.String(), "period": pl.String(),
        "description": pl.String(), "quantity": pl.Decimal(18, 4), "unit_amount": pl.Decimal(18, 4),
        "line_amount": pl.Decimal(18, 4), "tax_type": pl.String(), "tax_amount": pl.Decimal(18, 4),
        "account_code": pl.String(), "project_id": pl.Int64(), "task_id": pl.Int64(), "source_kind": pl.String(),
    }
)  # fmt: skip
SOURCE_SCHEMA = pl.Schema(
    {"invoice_number": pl.String(), "line_no": pl.Int32(), "entity": pl.String(), "period": pl.String(),
     "line_id": pl.String()}
)  # fmt: skip


@pytest.fixture(scope="module")
def config() -> BillbridgeConfig:
    return load_config(DEFAULT_CONFIG_PATH)


def line(
    description: str,
    quantity: str,
    unit: str,
    amount: str,
    tax: str = "0",
    *,
    tax_type: str = "NONE",
    project: int = 6001,
    task: int | None = 7001,
    kind: str = "time",
    ids: tuple[str, ...] = (),
) -> dict[str, Any]:
    """One invoice line as drafting prices it (amount and tax written out by hand)."""
    return {
        "description": description, "quantity": D(quantity), "unit_amount": D(unit), "line_amount": D(amount),
        "tax_type": tax_type, "tax_amount": D(tax), "account_code": "200", "project_id": project,
        "task_id": task, "source_kind": kind, "ids": ids,
    }  # fmt: skip


def drafts(invoices: dict[str, list[dict[str, Any]]]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """billing.invoice_draft_lines and billing.invoice_line_sources of the month."""
    rows, sources = [], []
    for number, lines in invoices.items():
        entity = number.split("-")[1].lower()
        for no, item in enumerate(lines, start=1):
            fields = {k: v for k, v in item.items() if k != "ids"}
            rows.append(
                {"invoice_number": number, "line_no": no, "entity": entity, "period": PERIOD, **fields}
            )
            sources += [
                {"invoice_number": number, "line_no": no, "entity": entity, "period": PERIOD, "line_id": i}
                for i in item["ids"]
            ]
    return pl.DataFrame(rows, schema=DRAFT_LINE_SCHEMA), pl.DataFrame(sources, schema=SOURCE_SCHEMA)


def posted_invoice(number: str, lines: list[dict[str, Any]], currency: str = "USD") -> pl.DataFrame:
    """The original invoice as the outbox snapshots it on confirmation (posting.posted_lines)."""
    draft_lines, _ = drafts({number: lines})
    return (
        draft_lines.rename({"invoice_number": "document_number"})
        .with_columns(
            pl.lit("invoice").alias("document_kind"),
            pl.lit("ACCREC").alias("document_type"),
            pl.lit(number).alias("original_number"),
            pl.lit(currency).alias("currency"),
            pl.lit(INVOICE_DATE).alias("document_date"),
            pl.lit(datetime(2026, 9, 2, tzinfo=UTC)).alias("posted_at"),
            pl.lit("post-1").alias("run_id"),
        )
        .select(POSTED_SCHEMA.names())
        .cast(POSTED_SCHEMA)
    )


def post(done: Corrections) -> tuple[pl.DataFrame, pl.DataFrame]:
    """What the outbox keeps once the round's documents are confirmed: their lines as booked, and
    (billing.correction_sources of posted documents) the key each line was drafted for."""
    headers = done.documents.select(
        "document_number", "document_kind", "document_type", "original_number", "currency", "document_date"
    )
    booked = (
        done.lines.join(headers, on="document_number")
        .with_columns(
            pl.lit(None, pl.Int64).alias("project_id"),  # correction lines carry no trace columns
            pl.lit(None, pl.Int64).alias("task_id"),
            pl.lit(None, pl.String).alias("source_kind"),
            pl.lit(datetime(2026, 10, 2, tzinfo=UTC)).alias("posted_at"),
            pl.lit("post-2").alias("run_id"),
        )
        .select(POSTED_SCHEMA.names())
        .cast(POSTED_SCHEMA)
    )
    keys = done.sources.join(done.documents.select("document_number"), on="document_number", how="semi")
    return booked, keys.select(KEY_MAP_SCHEMA.names()).cast(KEY_MAP_SCHEMA)


NO_KEYS = pl.DataFrame(schema=KEY_MAP_SCHEMA)


def originals(*numbers: str, rate: str = "1", base: str = "USD", inclusive: bool = False) -> pl.DataFrame:
    rows = [
        {
            "original_number": n, "contact_name": f"Contact {n.split('-')[3]}", "base_currency": base,
            "currency_rate": D(rate), "line_amount_types": "Inclusive" if inclusive else "Exclusive",
            "blocked_reason": None,
        }
        for n in numbers
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=ORIGINAL_SCHEMA)


def correct(
    entity: EntityConfig,
    posted: pl.DataFrame,
    current: dict[str, list[dict[str, Any]]],
    known: pl.DataFrame,
    *,
    key_map: pl.DataFrame = NO_KEYS,
    lock_date: date | None = None,
    policy: str = "move_to_open_period",
    used: tuple[str, ...] = (),
) -> Corrections:
    draft_lines, draft_sources = drafts(current)
    result = correct_invoices(
        BookedInvoices(
            posted, key_map, known, used_numbers=[*posted["document_number"].unique().to_list(), *used]
        ),
        draft_lines,
        draft_sources,
        CorrectionRound(entity, PERIOD, lock_date, policy, rule_set_version="rules", run_id="run"),  # type: ignore[arg-type]
    )
    # Every result passes the write gate and both blocking checks.
    validate(CorrectionDocuments, result.documents)
    validate(CorrectionDocumentLines, result.lines)
    validate(CorrectionSources, result.sources)
    validate(CorrectionHolds, result.holds)
    assert lines_sum_to_totals(result.documents, result.lines, key="document_number")[0]
    ok, detail = reconciles(posted, key_map, draft_lines, result, entity.id, PERIOD)
    assert ok, detail
    return result


def docs(result: Corrections) -> list[tuple[Any, ...]]:
    return result.documents.select(
        "document_number", "document_type", "original_number", "reference", "document_date", "due_date",
        "subtotal", "total_tax", "total",
    ).sort("document_number").rows()  # fmt: skip


def lines_of(result: Corrections, number: str) -> list[tuple[Any, ...]]:
    return (
        result.lines.filter(pl.col("document_number") == number)
        .sort("line_no")
        .select("line_no", "description", "quantity", "unit_amount", "line_amount", "tax_type", "tax_amount")
        .rows()
    )


DESIGN = line("Website: Design", "10", "150", "1500.00", ids=("a", "b"))
BUILD = line("Website: Build", "4", "120", "480.00", ids=("c",), task=7002)


# 1. Edited hours, down: 10 h -> 8 h at 150.00 is 300.00 over-billed: one credit note line 2 x 150.00.
def test_hours_edited_down_issue_a_credit_note(config: BillbridgeConfig) -> None:
    result = correct(
        config.entity("us"),
        posted_invoice(ACME, [DESIGN]),
        {ACME: [line("Website: Design", "8", "150", "1200.00", ids=("a", "b"))]},
        originals(ACME),
    )
    assert docs(result) == [
        (f"{ACME}-CN1", "ACCRECCREDIT", ACME, f"Correction of {ACME}", INVOICE_DATE, None,
         D("300.00"), D("0"), D("300.00")),
    ]  # fmt: skip
    assert lines_of(result, f"{ACME}-CN1") == [
        (1, "Website: Design", D("2"), D("150"), D("300.00"), "NONE", D("0"))
    ]
    assert result.documents["document_kind"].to_list() == ["credit_note"]
    assert result.documents["contact_name"].to_list() == ["Contact 5001"]
    assert result.sources.select("correction_quantity", "correction_amount", "current_line_ids").rows() == [
        (D("-2"), D("-300.00"), ["a", "b"])
    ]
    assert result.holds.height == 0


# 2. Edited hours, up: 10 h -> 12.5 h is 375.00 under-billed: a supplementary invoice due in 30 days.
def test_hours_edited_up_issue_a_supplementary_invoice(config: BillbridgeConfig) -> None:
    result = correct(
        config.entity("us"),
        posted_invoice(ACME, [DESIGN]),
        {ACME: [line("Website: Design", "12.5", "150", "1875.00", ids=("a", "b", "z"))]},
        originals(ACME),
    )
    assert docs(result) == [
        (f"{ACME}-S1", "ACCREC", ACME, f"Correction of {ACME}", INVOICE_DATE, date(2026, 9, 30),
         D("375.00"), D("0"), D("375.00")),
    ]  # fmt: skip
    assert lines_of(result, f"{ACME}-S1") == [
        (1, "Website: Design", D("2.5"), D("150"), D("375.00"), "NONE", D("0"))
    ]


# 3. A deleted entry: its whole line (4 h x 120.00 = 480.00) is credited; the other line is untouched.
def test_a_deleted_entry_is_credited_alone(config: BillbridgeConfig) -> None:
    result = correct(
        config.entity("us"), posted_invoice(ACME, [DESIGN, BUILD]), {ACME: [DESIGN]}, originals(ACME)
    )
    assert [d[0] for d in docs(result)] == [f"{ACME}-CN1"]
    assert lines_of(result, f"{ACME}-CN1") == [
        (1, "Website: Build", D("4"), D("120"), D("480.00"), "NONE", D("0"))
    ]
    assert result.documents["total"].to_list() == [D("480.00")]
    # Nothing is billed under the key any more: no normalized line traces to it.
    assert result.sources["current_line_ids"].to_list() == [[]]


# 4. The whole invoice vanished (every entry deleted or moved away): every line is credited.
def test_a_vanished_invoice_is_credited_in_full(config: BillbridgeConfig) -> None:
    result = correct(config.entity("us"), posted_invoice(ACME, [DESIGN, BUILD]), {}, originals(ACME))
    assert docs(result) == [
        (f"{ACME}-CN1", "ACCRECCREDIT", ACME, f"Correction of {ACME}", INVOICE_DATE, None,
         D("1980.00"), D("0"), D("1980.00")),
    ]  # fmt: skip
    # Lines in line-key order: Build (task 7002) sorts after Design (7001) by task.
    assert lines_of(result, f"{ACME}-CN1") == [
        (1, "Website: Design", D("10"), D("150"), D("1500.00"), "NONE", D("0")),
        (2, "Website: Build", D("4"), D("120"), D("480.00"), "NONE", D("0")),
    ]


# 5. A project reassigned to another client moves its line between two posted invoices: the first
#    gets a credit note, the second a supplementary invoice, 480.00 each.
def test_a_reassigned_project_moves_a_line_between_invoices(config: BillbridgeConfig) -> None:
    moved = line("Website: Build", "4", "120", "480.00", ids=("c",), task=7002, project=6003)
    posted = pl.concat(
        [
            posted_invoice(ACME, [DESIGN, BUILD]),
            posted_invoice(GLOBEX, [line("Audit: Review", "2", "200", "400.00", project=6004)]),
        ]
    )
    result = correct(
        config.entity("us"),
        posted,
        {ACME: [DESIGN], GLOBEX: [line("Audit: Review", "2", "200", "400.00", project=6004), moved]},
        originals(ACME, GLOBEX),
    )
    assert [(d[0], d[8]) for d in docs(result)] == [
        (f"{ACME}-CN1", D("480.00")),
        (f"{GLOBEX}-S1", D("480.00")),
    ]
    assert lines_of(result, f"{GLOBEX}-S1") == [
        (1, "Website: Build", D("4"), D("120"), D("480.00"), "NONE", D("0"))
    ]


# 6. Tax on a credit note (UK, OUTPUT2 20%): 10 h -> 9.5 h at 95.00; 0.5 x 95.00 = 47.50, tax 9.50.
def test_a_credit_note_carries_its_own_line_tax(config: BillbridgeConfig) -> None:
    billed = line("Audit: Fieldwork", "10", "95", "950.00", "190.00", tax_type="OUTPUT2")
    now = line("Audit: Fieldwork", "9.5", "95", "902.50", "180.50", tax_type="OUTPUT2")
    result = correct(
        config.entity("uk"), posted_invoice(UK, [billed], "GBP"), {UK: [now]}, originals(UK, base="GBP")
    )
    assert docs(result) == [
        (f"{UK}-CN1", "ACCRECCREDIT", UK, f"Correction of {UK}", INVOICE_DATE, None,
         D("47.50"), D("9.50"), D("57.00")),
    ]  # fmt: skip
    assert lines_of(result, f"{UK}-CN1") == [
        (1, "Audit: Fieldwork", D("0.5"), D("95"), D("47.50"), "OUTPUT2", D("9.50"))
    ]
    assert result.sources["tax_residual"].to_list() == [D("0")]


# 7. Where quantity x unit would not give the difference (the ledger rounds 0.35 x 137.50 = 48.125 up
#    to 48.13, but 96.25 - 48.13 = 48.12), the line is 1 x 48.12; tax 20% of 48.12 = 9.624 -> 9.62.
def test_a_difference_quantity_cannot_reproduce_is_shown_as_one_unit(config: BillbridgeConfig) -> None:
    billed = line("Audit: Review", "0.35", "137.50", "48.13", "9.63", tax_type="OUTPUT2")
    now = line("Audit: Review", "0.70", "137.50", "96.25", "19.25", tax_type="OUTPUT2")
    result = correct(
        config.entity("uk"), posted_invoice(UK, [billed], "GBP"), {UK: [now]}, originals(UK, base="GBP")
    )
    assert lines_of(result, f"{UK}-S1") == [
        (1, "Audit: Review", D("1"), D("48.12"), D("48.12"), "OUTPUT2", D("9.62"))
    ]
    assert docs(result)[0][6:] == (D("48.12"), D("9.62"), D("57.74"))
    # The key's own quantity difference is traced, so the next round counts hours right.
    assert result.sources["correction_quantity"].to_list() == [D("0.35")]


# 8. The ledger taxes each line: 10.03 billed (tax 2.006 -> 2.01), now 20.06 (tax 4.012 -> 4.01); the
#    supplementary 10.03 is taxed 2.01, so 0.01 more tax is booked than the redrafted invoice shows.
def test_per_line_tax_rounding_leaves_a_traced_residual(config: BillbridgeConfig) -> None:
    billed = line("Courier", "1", "10.03", "10.03", "2.01", tax_type="OUTPUT2", kind="expense", task=None)
    now = line("Courier", "2", "10.03", "20.06", "4.01", tax_type="OUTPUT2", kind="expense", task=None)
    result = correct(
        config.entity("uk"), posted_invoice(UK, [billed], "GBP"), {UK: [now]}, originals(UK, base="GBP")
    )
    assert lines_of(result, f"{UK}-S1") == [
        (1, "Courier", D("1"), D("10.03"), D("10.03"), "OUTPUT2", D("2.01"))
    ]
    assert result.sources.select("correction_tax", "tax_residual").rows() == [(D("2.01"), D("0.01"))]


# 9. Second round: after CN1 (-2 h) is booked, hours drop again (8 h -> 7 h): CN2 credits 150.00 only;
#    and when they rise instead (8 h -> 9 h) the first supplementary is S1, its own sequence.
def test_a_second_round_numbers_after_the_booked_correction(config: BillbridgeConfig) -> None:
    us = config.entity("us")
    first = correct(
        us,
        posted_invoice(ACME, [DESIGN]),
        {ACME: [line("Website: Design", "8", "150", "1200.00")]},
        originals(ACME),
    )
    booked, keys = post(first)
    posted = pl.concat([posted_invoice(ACME, [DESIGN]), booked])
    down = correct(
        us, posted, {ACME: [line("Website: Design", "7", "150", "1050.00")]}, originals(ACME), key_map=keys
    )
    assert docs(down) == [
        (f"{ACME}-CN2", "ACCRECCREDIT", ACME, f"Correction of {ACME}", INVOICE_DATE, None,
         D("150.00"), D("0"), D("150.00")),
    ]  # fmt: skip
    assert lines_of(down, f"{ACME}-CN2") == [
        (1, "Website: Design", D("1"), D("150"), D("150.00"), "NONE", D("0"))
    ]
    assert down.sources.select("billed_quantity", "billed_amount").rows() == [(D("8"), D("1200.00"))]
    up = correct(
        us, posted, {ACME: [line("Website: Design", "9", "150", "1350.00")]}, originals(ACME), key_map=keys
    )
    assert [(d[0], d[8]) for d in docs(up)] == [(f"{ACME}-S1", D("150.00"))]


# 10. Lock date 2026-09-30, policy move: dated the first open day, 2026-10-01, due 30 days later;
#     the report's holds list it as moved with the reason.
def test_inside_the_lock_date_moves_to_the_first_open_day(config: BillbridgeConfig) -> None:
    result = correct(
        config.entity("us"),
        posted_invoice(ACME, [DESIGN]),
        {ACME: [line("Website: Design", "11", "150", "1650.00")]},
        originals(ACME),
        lock_date=date(2026, 9, 30),
    )
    assert [(d[0], d[4], d[5], d[8]) for d in docs(result)] == [
        (f"{ACME}-S1", date(2026, 10, 1), date(2026, 10, 31), D("150.00"))
    ]
    assert result.holds.select("document_number", "status", "reason", "document_date").rows() == [
        (
            f"{ACME}-S1",
            MOVED,
            "dated 2026-08-31, on or before the tenant's lock date 2026-09-30: moved to the first open day 2026-10-01",
            date(2026, 10, 1),
        )
    ]


# 11. Lock date 2026-09-30, policy wait: no document is issued; the hold names it, its total and why.
def test_inside_the_lock_date_waits_when_the_rule_set_says_so(config: BillbridgeConfig) -> None:
    result = correct(
        config.entity("us"),
        posted_invoice(ACME, [DESIGN]),
        {ACME: [line("Website: Design", "8", "150", "1200.00")]},
        originals(ACME),
        lock_date=date(2026, 9, 30),
        policy="wait",
    )
    assert result.documents.height == 0 and result.lines.height == 0
    assert result.holds.select("document_number", "document_kind", "status", "total", "reason").rows() == [
        (
            f"{ACME}-CN1",
            "credit_note",
            HELD,
            D("300.00"),
            "dated 2026-08-31, on or before the tenant's lock date 2026-09-30: waits until the period is reopened (policy wait)",
        )
    ]
    assert result.sources.select("status", "correction_amount").rows() == [(HELD, D("-300.00"))]
    # A lock date before the invoice's date locks nothing.
    assert date_outside_lock(INVOICE_DATE, date(2026, 8, 30), "wait").document_date == INVOICE_DATE


# 12. Reversal: CN1 credited 2 h; the edit is undone (back to 10 h): S1 re-bills exactly 300.00,
#     and the two net to zero.
def test_undoing_an_edit_reverses_the_correction_exactly(config: BillbridgeConfig) -> None:
    us = config.entity("us")
    first = correct(
        us,
        posted_invoice(ACME, [DESIGN]),
        {ACME: [line("Website: Design", "8", "150", "1200.00")]},
        originals(ACME),
    )
    booked, keys = post(first)
    back = correct(
        us,
        pl.concat([posted_invoice(ACME, [DESIGN]), booked]),
        {ACME: [DESIGN]},
        originals(ACME),
        key_map=keys,
    )
    assert lines_of(back, f"{ACME}-S1") == [
        (1, "Website: Design", D("2"), D("150"), D("300.00"), "NONE", D("0"))
    ]
    assert first.documents["total"].to_list() == back.documents["total"].to_list() == [D("300.00")]


# 13. Idempotent: once a round is booked, the same input issues nothing (and holds nothing).
def test_unchanged_input_after_booking_issues_nothing(config: BillbridgeConfig) -> None:
    us = config.entity("us")
    eight = {ACME: [line("Website: Design", "8", "150", "1200.00")]}
    first = correct(us, posted_invoice(ACME, [DESIGN]), eight, originals(ACME))
    booked, keys = post(first)
    again = correct(
        us, pl.concat([posted_invoice(ACME, [DESIGN]), booked]), eight, originals(ACME), key_map=keys
    )
    assert again.documents.height == 0 and again.holds.height == 0 and again.sources.height == 0
    # And before it is booked, a rerun drafts the identical document (same number, same hash).
    rerun = correct(us, posted_invoice(ACME, [DESIGN]), eight, originals(ACME))
    assert rerun.documents.drop("run_id").equals(first.documents.drop("run_id"))


# 14. A discount line dropped after posting (1 x -50.00) is re-billed as 1 x 50.00 on a supplementary.
def test_a_removed_discount_is_rebilled(config: BillbridgeConfig) -> None:
    discount = line("Discount 50 (LOYAL)", "1", "-50", "-50.00", kind="discount", project=0, task=None)
    result = correct(
        config.entity("us"), posted_invoice(ACME, [DESIGN, discount]), {ACME: [DESIGN]}, originals(ACME)
    )
    assert lines_of(result, f"{ACME}-S1") == [
        (1, "Discount 50 (LOYAL)", D("1"), D("50"), D("50.00"), "NONE", D("0"))
    ]


# 15. Tax-inclusive lines (UK at 20%): 10 h -> 9 h at 120.00 inclusive: the 120.00 credited holds
#     20.00 of tax (120 x 0.2 / 1.2), so the subtotal is 100.00 and the total 120.00.
def test_inclusive_corrections_keep_tax_inside_the_amount(config: BillbridgeConfig) -> None:
    billed = line("Audit: Fieldwork", "10", "120", "1200.00", "200.00", tax_type="OUTPUT2")
    now = line("Audit: Fieldwork", "9", "120", "1080.00", "180.00", tax_type="OUTPUT2")
    result = correct(
        config.entity("uk"),
        posted_invoice(UK, [billed], "GBP"),
        {UK: [now]},
        originals(UK, base="GBP", inclusive=True),
    )
    assert docs(result)[0][6:] == (D("100.00"), D("20.00"), D("120.00"))
    assert result.documents["line_amount_types"].to_list() == ["Inclusive"]


# 16. A foreign-currency invoice is corrected at the rate it was booked at; an intercompany invoice in
#     the same month (not a drafted number) is never corrected here.
def test_foreign_currency_keeps_the_booked_rate_and_other_producers_are_left_alone(
    config: BillbridgeConfig,
) -> None:
    euro = "BB-US-202608-5002-EUR"
    posted = pl.concat(
        [
            posted_invoice(euro, [line("Website: Design", "10", "140", "1400.00")], "EUR"),
            posted_invoice("BB-US-202608-IC-UK", [line("Intercompany time", "8", "100", "800.00")]),
        ]
    )
    result = correct(
        config.entity("us"),
        posted,
        {euro: [line("Website: Design", "9", "140", "1260.00")]},
        originals(euro, rate="0.86956522"),
    )
    assert result.documents.select(
        "document_number", "currency", "base_currency", "currency_rate", "total"
    ).rows() == [(f"{euro}-CN1", "EUR", "USD", D("0.86956522"), D("140.00"))]


# 17. What the corrections cannot know blocks that original only, with the reason; numbers an operator
#     discarded in the outbox are never reused.
def test_missing_facts_block_with_a_reason_and_discarded_numbers_are_skipped(
    config: BillbridgeConfig,
) -> None:
    us = config.entity("us")
    odd_tax = line("Website: Design", "10", "150", "1500.00", tax_type="GST")
    known = originals(ACME, GLOBEX).with_columns(
        pl.when(pl.col("original_number") == GLOBEX)
        .then(None)
        .otherwise(pl.col("contact_name"))
        .alias("contact_name")
    )
    posted = pl.concat(
        [posted_invoice(ACME, [DESIGN, odd_tax.copy() | {"task_id": 7009}]), posted_invoice(GLOBEX, [DESIGN])]
    )
    result = correct(us, posted, {}, known)
    assert result.documents.height == 0
    assert result.holds.select("original_number", "status", "reason").sort("original_number").rows() == [
        (ACME, BLOCKED, "cannot correct: tax code 'GST' is not a tax code of entity 'us' (known: NONE)"),
        (GLOBEX, BLOCKED, "cannot correct: the accounting contact is unknown"),
    ]
    assert next_number(ACME, "CN", [ACME, f"{ACME}-CN1", f"{ACME}-S1"]) == f"{ACME}-CN2"
    skipped = correct(
        us, posted_invoice(ACME, [DESIGN]), {ACME: []}, originals(ACME), used=(f"{ACME}-CN1", f"{ACME}-CN2")
    )
    assert skipped.documents["document_number"].to_list() == [f"{ACME}-CN3"]


def test_the_binding_lock_date_is_the_later_one() -> None:
    assert binding_lock_date(date(2026, 6, 30), None, date(2025, 12, 31)) == date(2026, 6, 30)
    assert binding_lock_date(None, None) is None


# 18. The blocking checks catch wrong money: a credit note line altered after drafting breaks both the
#     totals check and billed + corrections == current draft.
def test_the_checks_fail_on_tampered_corrections(config: BillbridgeConfig) -> None:
    us = config.entity("us")
    posted = posted_invoice(ACME, [DESIGN])
    eight = {ACME: [line("Website: Design", "8", "150", "1200.00")]}
    good = correct(us, posted, eight, originals(ACME))
    bad = Corrections(
        good.documents,
        good.lines.with_columns(pl.lit(D("299.99")).cast(pl.Decimal(18, 4)).alias("line_amount")),
        good.sources,
        good.holds,
    )
    draft_lines, _ = drafts(eight)
    assert lines_sum_to_totals(bad.documents, bad.lines, key="document_number") == (
        False,
        f"1 invoice(s) disagree with their lines: {ACME}-CN1",
    )
    ok, detail = reconciles(posted, NO_KEYS, draft_lines, bad, "us", PERIOD)
    assert not ok
    assert detail == f"1 line key(s) where billed + corrections != current draft: {ACME} 'Website: Design'"


# Bad configuration stops at load, naming the file, the key and what was expected.
def _with_corrections(tmp_path: Path, section: str) -> Path:
    shipped = Path(DEFAULT_CONFIG_PATH)
    mapping = (shipped.parent / "mapping.yaml").read_text()
    old = "corrections:\n  locked_period: move_to_open_period\n  entities: []\n"
    assert old in mapping
    (tmp_path / "mapping.yaml").write_text(mapping.replace(old, section))
    (tmp_path / "billbridge.yaml").write_text(shipped.read_text())
    return tmp_path / "billbridge.yaml"


def test_a_wrong_locked_period_policy_stops_at_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as err:
        load_config(_with_corrections(tmp_path, "corrections:\n  locked_period: later\n"))
    message = str(err.value)
    assert str(tmp_path / "mapping.yaml") in message
    assert (
        "key corrections.locked_period: Input should be 'move_to_open_period' or 'wait' (got 'later')"
        in message
    )


def test_corrections_for_an_unknown_entity_or_twice_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as err:
        load_config(_with_corrections(tmp_path, "corrections:\n  entities:\n    - { entity: fr }\n"))
    assert "mapping corrections.entities names unknown entity 'fr'" in str(err.value)
    twice = "corrections:\n  entities:\n    - { entity: uk }\n    - { entity: uk, locked_period: wait }\n"
    with pytest.raises(ConfigurationError) as err:
        load_config(_with_corrections(tmp_path, twice))
    assert "corrections for entity 'uk' are given twice" in str(err.value)


def test_an_entity_setting_overrides_the_default_policy(tmp_path: Path) -> None:
    section = "corrections:\n  locked_period: wait\n  entities:\n    - { entity: uk, locked_period: move_to_open_period, lock_date: 2026-09-30 }\n"
    loaded = load_config(_with_corrections(tmp_path, section)).mapping.corrections
    assert loaded.settings("uk").locked_period == "move_to_open_period"
    assert loaded.settings("uk").lock_date == date(2026, 9, 30)
    assert (loaded.settings("us").locked_period, loaded.settings("us").lock_date) == ("wait", None)


# 19. A document the caller must not issue this round (an earlier version's outcome is unknown) is
#     withheld whole: blocked in the holds with the reason, its original left out of the check.
def test_a_withheld_document_is_blocked_with_the_reason(config: BillbridgeConfig) -> None:
    posted = posted_invoice(ACME, [DESIGN])
    eight = {ACME: [line("Website: Design", "8", "150", "1200.00")]}
    drafted = correct(config.entity("us"), posted, eight, originals(ACME))
    withheld = drafted.withhold({f"{ACME}-CN1": "outcome unknown"}, "us", PERIOD, "run")
    assert withheld.documents.height == withheld.lines.height == withheld.sources.height == 0
    assert withheld.holds.select("document_number", "status", "reason", "total").rows() == [
        (f"{ACME}-CN1", BLOCKED, "outcome unknown", D("300.00"))
    ]
    validate(CorrectionHolds, withheld.holds)
    draft_lines, _ = drafts(eight)
    assert reconciles(posted, NO_KEYS, draft_lines, withheld, "us", PERIOD) == (
        True,
        f"1 posted invoice(s): billed + corrections equal the current drafts per line key; "
        f"1 original(s) blocked: {ACME}",
    )
