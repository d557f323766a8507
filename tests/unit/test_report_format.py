"""The summary people read: within 100 columns, money in minor units, kinds apart, net/tax/gross labelled.

Found on main (issue 14): a 12-column table about 170 characters wide, amounts at 4 decimals
(`1154.1500`), invoices and intercompany bills in one count, no tax, no unbilled value.
"""

from typing import Any

from pipelines.report import format_money, format_table


def _row(entity: str, documents: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "entity": entity,
        "period": "2026-09",
        "time_entries": 614,
        "billable_hours": "1154.1500",
        "awaiting_approval": 71,
        "awaiting_approval_hours": "153.0000",
        "awaiting_approval_value": {"USD": "27053.1800"},
        "awaiting_approval_oldest_days": 46,
        "documents": documents,
        "posting_held": [],
        "corrections_held": [],
        "checks_failed": 0,
        "quarantined": 3,
        "quarantined_by_reason": {"hours_out_of_range": 2, "unknown_project": 1},
        "findings": [],
    }
    return {**row, **overrides}


def _doc(
    kind: str, currency: str, net: str, tax: str, gross: str, drafted: int = 3, posted: int = 3
) -> dict[str, Any]:
    return {
        "kind": kind,
        "currency": currency,
        "drafted": drafted,
        "posted": posted,
        "net": net,
        "tax": tax,
        "gross": gross,
    }


def test_money_is_shown_in_the_currency_minor_units() -> None:
    assert format_money("177227.5800", "USD") == "177,227.58"
    assert format_money("1234.5000", "JPY") == "1,235"  # no minor unit, half-up
    assert format_money("12.3456", "KWD") == "12.346"


def test_summary_fits_100_columns_with_kinds_apart_and_everything_labelled() -> None:
    rows = [
        _row(
            "us",
            [
                _doc("invoices", "USD", "160000.0000", "17227.5800", "177227.5800", 9, 6),
                _doc("ic bills", "GBP", "1437.7500", "0.0000", "1437.7500"),
            ],
        ),
        _row(
            "uk",
            [
                _doc("invoices", "GBP", "141968.4300", "28393.7100", "170362.1400"),
                _doc("ic sales", "GBP", "1437.7500", "0.0000", "1437.7500"),
            ],
            awaiting_approval_value={"GBP": "16767.9700"},
            findings=[
                {
                    "line": "uk 2026-09: posting incomplete: 3 of 6 document(s) not in the ledger "
                    + "x" * 120,
                    "failed": True,
                }
            ],
        ),
    ]
    text = format_table(rows)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 100, max(lines, key=len)
    assert "entity  kind      drafted  posted  ccy         net        tax       gross" in text
    assert any(
        line.split()[:4] == ["us", "invoices", "9", "6"] and line.endswith("177,227.58") for line in lines
    )
    assert any(line.split()[:3] == ["us", "ic", "bills"] for line in lines)
    assert any(line.split()[1:3] == ["ic", "sales"] for line in lines)
    assert "17,227.58" in text  # tax, in its own column
    assert (
        "1,154.15" in text and "153.00" in text and "27,053.18 USD" in text
    )  # billable, unbilled h and value
    assert "us: 3: hours_out_of_range 2, unknown_project 1" in text
    assert any(line.startswith("! uk 2026-09: posting incomplete") and line.endswith("…") for line in lines)
