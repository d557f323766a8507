"""Invoice drafting: grouping, line and tax rounding, totals, numbering and traceability (hand-computed)."""

from datetime import date
from decimal import Decimal as D

import polars as pl
import pytest

from checks.schemas import InvoiceDraftLines, InvoiceDrafts, validate
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.billing.drafting import BillingRules, DraftingContext, draft_invoices
from rules.invariants import billed_at_most_once, lines_sum_to_totals
from rules.normalizing import normalize_lines
from rules.settings import BillbridgeConfig
from tests.factories import directory, expense, fx_snapshot, raw_frame, time_entry

# 1 EUR = 1.25 USD = 0.80 GBP, published on the last day of July and of August 2026.
RATES = fx_snapshot({day: {"USD": "1.25", "GBP": "0.8"} for day in (date(2026, 7, 31), date(2026, 8, 31))})
AUGUST = (date(2026, 8, 1), date(2026, 8, 31))


@pytest.fixture(scope="module")
def config() -> BillbridgeConfig:
    return load_config(DEFAULT_CONFIG_PATH)


def _lines(
    config: BillbridgeConfig, entity: str, entries: list, expenses: list | None = None
) -> pl.DataFrame:  # type: ignore[type-arg]
    d = directory({6001: True, 6101: True}, {5001: "USD", 5101: "GBP"})
    result = normalize_lines(
        raw_frame(entries, entity),
        raw_frame(expenses or [], entity),
        d,
        config.entity(entity),
        config,
        RATES,
        "r",
    )
    assert result.quarantine.height == 0
    return result.lines


def test_groups_by_project_task_and_rate_and_sums_exactly(config: BillbridgeConfig) -> None:
    lines = _lines(
        config,
        "us",
        [
            time_entry(1, 1.25, 150),
            time_entry(2, 0.35, 150),
            time_entry(3, 0.35, 137.5, task=7002),
            time_entry(4, 0.35, 137.5, task=7002),
        ],
        [expense(10, 84.2)],
    )
    drafts = draft_invoices(
        lines, DraftingContext(config.entity("us"), *AUGUST, RATES, "run"), BillingRules.of(config)
    )
    validate(InvoiceDrafts, drafts.invoices)
    validate(InvoiceDraftLines, drafts.lines)
    # 1.60 h x 150 = 240.00; 0.70 h x 137.50 = 96.25 (the ledger rounds quantity x price once);
    # expense 84.20. US entity: no tax. Subtotal 420.45.
    got = (
        drafts.lines.sort("line_no")
        .select("line_no", "quantity", "unit_amount", "line_amount", "tax_amount")
        .rows()
    )
    assert got == [
        (1, D("1.60"), D("150"), D("240.00"), D("0")),
        (2, D("0.70"), D("137.50"), D("96.25"), D("0")),
        (3, D("1"), D("84.20"), D("84.20"), D("0")),
    ]
    header = drafts.invoices.row(0, named=True)
    assert header["invoice_number"] == "BB-US-202608-5001-USD"
    assert (header["subtotal"], header["total_tax"], header["total"]) == (D("420.45"), D("0"), D("420.45"))
    assert header["invoice_date"] == date(2026, 8, 31) and header["due_date"] == date(2026, 9, 30)
    assert header["currency_rate"] == D(1) and header["total_base"] == D("420.45")
    assert header["reference"] == "P-6001"
    assert drafts.lines.sort("line_no")["description"].to_list()[:2] == [
        "Project 6001: Task 7001",
        "Project 6001: Task 7002",
    ]


def test_tax_is_per_line_rounded_half_up(config: BillbridgeConfig) -> None:
    # UK, 20% VAT per line: 0.35 h x 137.50 = 48.13 (48.125 half up) -> tax 9.626 -> 9.63;
    # 2 h x 120 = 240.00 -> tax 48.00. Subtotal 288.13, tax 57.63, total 345.76.
    lines = _lines(
        config,
        "uk",
        [
            time_entry(1, 0.35, 137.5, client=5101, project=6101, currency="GBP"),
            time_entry(2, 2, 120, client=5101, project=6101, task=7002, currency="GBP"),
        ],
    )
    drafts = draft_invoices(
        lines, DraftingContext(config.entity("uk"), *AUGUST, RATES, "run"), BillingRules.of(config)
    )
    assert sorted(drafts.lines["tax_amount"].to_list()) == [D("9.63"), D("48.00")]
    header = drafts.invoices.row(0, named=True)
    assert (header["subtotal"], header["total_tax"], header["total"]) == (
        D("288.13"),
        D("57.63"),
        D("345.76"),
    )
    assert lines_sum_to_totals(drafts.invoices, drafts.lines)[0]


def test_unapproved_and_non_billable_work_waits(config: BillbridgeConfig) -> None:
    lines = _lines(
        config,
        "us",
        [time_entry(1, 1, 100), time_entry(2, 5, 100, closed=False), time_entry(3, 2, None, billable=False)],
    )
    drafts = draft_invoices(
        lines, DraftingContext(config.entity("us"), *AUGUST, RATES, "run"), BillingRules.of(config)
    )
    assert drafts.invoices["total"].to_list() == [D("100.00")]
    assert drafts.sources["line_id"].to_list() == ["time-1"]


def test_foreign_currency_invoice_carries_rate(config: BillbridgeConfig) -> None:
    # A GBP client on the US ledger, rates of 2026-07-31: 1 USD = 0.64 GBP, 1 GBP = 1.5625 USD.
    lines = _lines(config, "us", [time_entry(1, 2, 100, client=5101, currency="GBP")])
    header = draft_invoices(
        lines, DraftingContext(config.entity("us"), *AUGUST, RATES, "run"), BillingRules.of(config)
    ).invoices.row(0, named=True)
    assert (header["currency"], header["total"], header["currency_rate"], header["total_base"]) == (
        "GBP",
        D("200.00"),
        D("0.64"),
        D("312.50"),
    )
    assert header["invoice_number"] == "BB-US-202608-5101-GBP"


def test_drafts_are_reproducible(config: BillbridgeConfig) -> None:
    entries = [time_entry(i, 0.25 * i, 95 + i) for i in range(1, 12)]
    first = draft_invoices(
        _lines(config, "us", entries),
        DraftingContext(config.entity("us"), *AUGUST, RATES, "run"),
        BillingRules.of(config),
    )
    second = draft_invoices(
        _lines(config, "us", list(reversed(entries))),
        DraftingContext(config.entity("us"), *AUGUST, RATES, "run"),
        BillingRules.of(config),
    )
    assert first.invoices.equals(second.invoices) and first.lines.equals(second.lines)


def test_invariants_catch_wrong_money(config: BillbridgeConfig) -> None:
    lines = _lines(config, "us", [time_entry(1, 1, 100), time_entry(2, 1, 50, task=7002)])
    drafts = draft_invoices(
        lines, DraftingContext(config.entity("us"), *AUGUST, RATES, "run"), BillingRules.of(config)
    )
    tampered = drafts.invoices.with_columns(pl.col("total") + D("0.01"))
    assert not lines_sum_to_totals(tampered, drafts.lines)[0]
    assert billed_at_most_once(drafts.sources, pl.DataFrame({"line_id": []}, schema={"line_id": pl.String}))[
        0
    ]
    clash = billed_at_most_once(drafts.sources, drafts.sources.head(1))
    assert not clash[0] and "already billed elsewhere" in clash[1]
    assert not billed_at_most_once(
        pl.concat([drafts.sources, drafts.sources.head(1)]), drafts.sources.head(0)
    )[0]
