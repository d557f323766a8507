"""The month report's KPI rules on hand-built frames, with the expected values written out by hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import polars as pl

from rules.money import MONEY
from rules.month_kpis import (
    BilledUnbilled,
    HandsOff,
    Latency,
    billed_unbilled,
    corrections_per_invoice,
    hands_off,
    posting_latency,
    to_minor_units,
    weekly_exceptions,
)
from rules.month_report import EntityMonth, MonthReport, entity_figures, figures_markdown, metadata_numbers
from rules.report_charts import BAR_AREA, Row, bar_chart


def test_billed_and_unbilled_split_billable_lines_by_approval() -> None:
    lines = pl.DataFrame(
        {
            "billable": [True, True, True, False],
            "approved": [True, True, False, True],
            "amount_base": [D("1200.50"), D("0.25"), D("99.99"), D("5000")],
        },
        schema={"billable": pl.Boolean, "approved": pl.Boolean, "amount_base": MONEY},
    )
    assert billed_unbilled(lines) == BilledUnbilled(D("1200.75"), D("99.99"))


def test_no_lines_bill_nothing() -> None:
    empty = pl.DataFrame(schema={"billable": pl.Boolean, "approved": pl.Boolean, "amount_base": MONEY})
    assert billed_unbilled(empty) == BilledUnbilled(D("0"), D("0"))


def test_only_confirmed_documents_never_dead_lettered_count_as_untouched() -> None:
    documents = pl.DataFrame(
        {
            "document_number": ["A", "B", "C", "D"],
            "status": ["confirmed", "confirmed", "pending", "confirmed"],
            "lines": [3, 4, 2, 5],
            "dead_lettered": [False, True, False, False],
        }
    )
    assert hands_off(documents) == HandsOff(documents=2, lines=8)


def test_corrections_per_invoice_round_half_up_to_cents() -> None:
    assert corrections_per_invoice(1, 8) == D("0.13")  # 0.125 rounds up
    assert corrections_per_invoice(2, 3) == D("0.67")
    assert corrections_per_invoice(0, 5) == D("0.00")
    assert corrections_per_invoice(3, 0) is None


def test_posting_latency_median_and_max() -> None:
    end = date(2026, 10, 31)
    assert posting_latency(end, [date(2026, 11, 2), date(2026, 11, 5), date(2026, 11, 1)]) == Latency(
        D("2.0"), 5
    )
    # An even count: the mean of the two middle values (2 and 5 days).
    booked = [date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 5), date(2026, 11, 30)]
    assert posting_latency(end, booked) == Latency(D("3.5"), 30)
    assert posting_latency(end, []) == Latency(None, None)


def test_weekly_exceptions_cover_every_week_of_the_window() -> None:
    rows: list[dict[str, object]] = [
        {"week": "2026-09-28", "count": 2},
        {"week": "2026-10-12", "count": 1},
        {"week": "2026-10-12", "count": 4},
        {"week": "2026-11-02", "count": 9},  # after the window
    ]
    assert weekly_exceptions(rows, date(2026, 9, 28), date(2026, 10, 31)) == {
        "2026-09-28": 2,
        "2026-10-05": 0,
        "2026-10-12": 5,
        "2026-10-19": 0,
        "2026-10-26": 0,
    }


def test_minor_units_are_exact() -> None:
    assert to_minor_units(D("177227.58"), 2) == 17722758
    assert to_minor_units(D("1500"), 0) == 1500
    assert to_minor_units(D("12.345"), 3) == 12345


def _month(**overrides: object) -> EntityMonth:
    values: dict[str, object] = {
        "entity": "de",
        "base_currency": "EUR",
        "outcome": {"documents": 4, "in_ledger": 3, "dead_letters": 1},
        "billing": BilledUnbilled(D("12345.6"), D("0")),
        "hands_off": HandsOff(3, 11),
        "invoices": 4,
        "corrections": 1,
        "corrections_per_invoice": D("0.25"),
        "latency": Latency(D("2.5"), 4),
        "reconciliation": {"matched_automatically": 2, "dso_days": 31.5},
        "weekly_exceptions": {"2026-09-28": 1, "2026-10-05": 2},
    }
    return EntityMonth(**{**values, **overrides})  # type: ignore[arg-type]


def test_figures_read_in_the_currencys_minor_units() -> None:
    figures = {f.name: f for f in entity_figures(_month())}
    assert (figures["billed"].data_value, figures["billed"].text) == ("12345.60", "12,345.60 EUR")
    assert (figures["dead_letters"].value, figures["exceptions"].value) == (1, 3)
    assert (figures["not_sent"].value, figures["proposed"].value) == (0, 0)
    assert figures["dso_days"].text == "31.5 d"
    yen = {
        f.name: f
        for f in entity_figures(_month(base_currency="JPY", billing=BilledUnbilled(D("1500"), D("7"))))
    }
    assert yen["billed"].text == "1,500 JPY"


def test_metadata_numbers_are_numbers() -> None:
    numbers = metadata_numbers(entity_figures(_month(latency=Latency(None, None))))
    assert numbers["de/billed_minor"] == 1234560
    assert numbers["de/invoices"] == 4
    assert numbers["de/corrections_per_invoice"] == 0.25
    assert "de/posting_latency_max_days" not in numbers  # not applicable: left out, not zero


def test_bars_scale_to_the_largest_value() -> None:
    chart = bar_chart(
        "t", ("a", "b"), [Row("us", (D("50"), D("100")), ("50", "100")), Row("uk", (0, None), ("0", "-"))]
    )
    assert [b.width for b in chart.bars] == [BAR_AREA // 2, BAR_AREA, 0, 0]
    assert [b.label for b in chart.bars] == ["us", "", "uk", ""]


def test_an_empty_month_report_has_no_figures() -> None:
    assert MonthReport("2026-10", []).entities == []


def test_the_review_tables_the_figures_a_column_per_entity() -> None:
    table = figures_markdown(
        entity_figures(_month()) + entity_figures(_month(entity="uk", base_currency="GBP"))
    )
    assert table.splitlines()[0] == "| figure | de | uk |"
    assert "| billed | 12,345.60 EUR | 12,345.60 GBP |" in table
    assert figures_markdown([]) == "No entity-month to report."
