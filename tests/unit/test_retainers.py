"""Retainers and prepayments: top-ups, drawdown, balances carried between periods (hand-computed).

Decision record: docs/decisions/0009-money-and-tax-rounding-and-retainers.md.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import yaml

from resources.configuration import load_config
from rules.billing.drafting import BillingRules, DraftingContext, draft_invoices
from rules.billing.retainers import RetainerAccount, RetainerPeriodMissing, opening_balances
from rules.config_types import ConfigurationError
from rules.normalizing import normalize_lines
from rules.rounding_rules import Retainer
from tests.factories import directory, raw_frame, time_entry
from tests.unit.drafting_gates import passes_the_gates
from tests.unit.test_money_rounding import AUGUST, BASE, RATES


def _retainer(**fields: Any) -> Retainer:
    values: dict[str, Any] = {"id": "R", "entity": "us", "client": 5001, "currency": "USD"}
    return Retainer(**{**values, **fields})


def _lines(entity: str, entries: list[dict[str, Any]]) -> pl.DataFrame:
    currency = entries[0]["client"]["currency"] if entries else "USD"
    d = directory({6001: True, 6002: True, 6101: True}, {5001: "USD", 5101: currency})
    return normalize_lines(
        raw_frame(entries, entity), raw_frame([], entity), d, BASE.entity(entity), BASE, RATES, "r"
    ).lines


def _account(opening: str, **fields: Any) -> RetainerAccount:
    return RetainerAccount(_retainer(**fields), D(opening), "Acme Corporation")


WORK = [time_entry(1, 1.6, 150)]  # 1.60 h x 150 = 240.00, US: no tax

CASES = [
    # (case, account, entries, expected (kind, amount) lines, (opening, top_up, drawn, closing), total)
    ("partial: a balance of 100 pays part of 240; 140 is invoiced",
     _account("100", opening_balance=D(100)), WORK,
     [("time", "240.00"), ("retainer_applied", "-100.00")], ("100", "0", "100", "0"), "140.00"),
    ("full: 1000 + top-up 500 covers all 240; the invoice is the top-up",
     _account("1000", top_up=D(500)), WORK,
     [("time", "240.00"), ("retainer_top_up", "500"), ("retainer_applied", "-240.00")],
     ("1000", "500", "240", "1260"), "500.00"),
    ("top-up only: no work, the top-up is still invoiced and carried",
     _account("1000", top_up=D(500)), [],
     [("retainer_top_up", "500")], ("1000", "500", "0", "1500"), "500.00"),
    ("top-up funds the same period: 0 + 200 pays 200 of 240",
     _account("0", top_up=D(200)), WORK,
     [("time", "240.00"), ("retainer_top_up", "200"), ("retainer_applied", "-200.00")],
     ("0", "200", "200", "0"), "240.00"),
    ("project retainer: only project 6002's 75.00 is drawn, 6001's 240.00 is invoiced",
     _account("500", opening_balance=D(500), project=6002), [*WORK, time_entry(2, 0.5, 150, project=6002)],
     [("time", "240.00"), ("time", "75.00"), ("retainer_applied", "-75.00")], ("500", "0", "75", "425"),
     "240.00"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("account", "entries", "lines", "balance", "total"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_retainer_drawdown(
    account: RetainerAccount,
    entries: list[dict[str, Any]],
    lines: list[tuple[str, str]],
    balance: tuple[str, str, str, str],
    total: str,
) -> None:
    drafts = passes_the_gates(
        draft_invoices(
            _lines("us", entries),
            DraftingContext(BASE.entity("us"), *AUGUST, RATES, "run", retainers=[account]),
            BillingRules.of(BASE),
        )
    )
    got = drafts.lines.sort("line_no").select("source_kind", "line_amount").rows()
    assert got == [(k, D(a)) for k, a in lines]
    row = drafts.retainer_balances.row(0, named=True)
    assert (row["opening"], row["top_up"], row["drawn"], row["closing"]) == tuple(D(x) for x in balance)
    assert drafts.invoices["total"].to_list() == [D(total)]
    retainer_lines = drafts.lines.filter(pl.col("source_kind").str.starts_with("retainer"))
    assert set(retainer_lines["account_code"]) <= {"2100"}  # deferred revenue, not the revenue account
    assert set(retainer_lines["rounding_rule"]) <= {"retainer:configured_amount"}


def test_applied_line_says_what_was_drawn_and_what_is_left() -> None:
    drafts = passes_the_gates(
        draft_invoices(
            _lines("us", WORK),
            DraftingContext(
                BASE.entity("us"), *AUGUST, RATES, "run", retainers=[_account("1000", top_up=D(500))]
            ),
            BillingRules.of(BASE),
        )
    )
    applied = drafts.lines.filter(pl.col("source_kind") == "retainer_applied")["description"][0]
    assert applied == "Retainer applied (R): 240.00 of 1500.00 USD, 1260.00 carried forward"
    assert drafts.sources["line_id"].to_list() == ["time-1"]  # retainer lines bill no entry


def test_retainer_lines_carry_the_work_tax() -> None:
    # UK 20% per line: top-up 500.00 (tax 100.00); 0.35 h x 137.50 = 48.13 (tax 9.63) drawn as -48.13
    # (tax -9.63). Subtotal 500.00, tax 100.00, total 600.00: the work's VAT was charged on the top-up.
    account = RetainerAccount(
        _retainer(entity="uk", client=5101, currency="GBP", top_up=D(500)), D(0), "Initech"
    )
    drafts = passes_the_gates(
        draft_invoices(
            _lines("uk", [time_entry(1, 0.35, 137.5, client=5101, project=6101, currency="GBP")]),
            DraftingContext(BASE.entity("uk"), *AUGUST, RATES, "run", retainers=[account]),
            BillingRules.of(BASE),
        )
    )
    got = drafts.lines.sort("line_no").select("source_kind", "line_amount", "tax_amount").rows()
    assert got == [
        ("time", D("48.13"), D("9.63")),
        ("retainer_top_up", D("500"), D("100.00")),
        ("retainer_applied", D("-48.13"), D("-9.63")),
    ]
    header = drafts.invoices.row(0, named=True)
    assert (header["subtotal"], header["total_tax"], header["total"]) == (
        D("500.00"),
        D("100.00"),
        D("600.00"),
    )


def test_a_draw_never_leaves_the_invoice_below_zero() -> None:
    # UK 20% per line: two lines of 0.01 h x 2.00 = 0.02, tax 0.004 -> 0.00 each. Drawing all 0.04
    # would cost tax 0.008 -> -0.01 and a total of -0.01, so the draw is 0.03 (tax -0.006 -> -0.01):
    # subtotal 0.01, tax -0.01, total 0.00; 0.01 stays on the balance.
    account = RetainerAccount(
        _retainer(entity="uk", client=5101, currency="GBP", opening_balance=D(1)), D("0.04"), "Initech"
    )
    entries = [
        time_entry(i, 0.01, 2, client=5101, project=6101, task=7000 + i, currency="GBP") for i in (1, 2)
    ]
    drafts = passes_the_gates(
        draft_invoices(
            _lines("uk", entries),
            DraftingContext(BASE.entity("uk"), *AUGUST, RATES, "run", retainers=[account]),
            BillingRules.of(BASE),
        )
    )
    applied = drafts.lines.filter(pl.col("source_kind") == "retainer_applied")
    assert applied.select("line_amount", "tax_amount").rows() == [(D("-0.03"), D("-0.01"))]
    header = drafts.invoices.row(0, named=True)
    assert (header["subtotal"], header["total_tax"], header["total"]) == (D("0.01"), D("-0.01"), D("0.00"))
    row = drafts.retainer_balances.row(0, named=True)
    assert (row["drawn"], row["closing"]) == (D("0.03"), D("0.01"))


def test_periods_open_at_the_previous_closing_and_a_gap_is_refused() -> None:
    r = _retainer(top_up=D(500), opening_balance=D(1000), effective_from=date(2026, 6, 1))
    contacts = {5001: "Acme Corporation"}
    # billing_start 2026-08-01 is later than the retainer's start: August opens at the configured 1000.
    first = opening_balances([r], "2026-08", {}, date(2026, 8, 1), contacts)
    assert first[0].opening == D(1000)
    assert opening_balances([r], "2026-09", {"R": D("1260")}, date(2026, 8, 1), contacts)[0].opening == D(
        "1260"
    )
    with pytest.raises(
        RetainerPeriodMissing, match=r"retainer\(s\) R: no balance for 2026-09; draft 2026-09 before 2026-10"
    ):
        opening_balances([r], "2026-10", {}, date(2026, 8, 1), contacts)


def _write_config(tmp_path: Path, **sections: Any) -> Path:
    """The demo configuration with this module's mapping sections replaced by `sections`."""
    source = Path(BASE.source_path)
    mapping = yaml.safe_load((source.parent / "mapping.yaml").read_text())
    mapping.update({"money_rounding": [], "tax_rounding": [], "retainers": [], **sections})
    (tmp_path / "mapping.yaml").write_text(yaml.safe_dump(mapping))
    (tmp_path / "billbridge.yaml").write_text(source.read_text())
    return tmp_path / "billbridge.yaml"


def test_bad_retainer_and_rounding_config_is_refused_with_every_conflict(tmp_path: Path) -> None:
    path = _write_config(
        tmp_path,
        money_rounding=[
            {"id": "M1", "entity": "us", "mode": "half_even"},
            {"id": "M2", "entity": "us", "mode": "half_up", "effective_from": "2026-01-01"},
        ],
        tax_rounding=[{"id": "T1", "entity": "de", "level": "invoice"}, {"id": "T2", "entity": "de"}],
        retainers=[
            {"id": "R1", "entity": "us", "client": 5002, "currency": "USD", "top_up": "100"},
            {"id": "R2", "entity": "us", "client": 5002, "currency": "USD", "opening_balance": "50",
             "effective_from": "2026-09-01"},
            {"id": "R3", "entity": "us", "client": 5002, "currency": "JPY", "top_up": "100.5"},
        ],
    )  # fmt: skip
    with pytest.raises(ConfigurationError) as caught:
        load_config(path)
    text = str(caught.value)
    assert "mapping.yaml" in text
    for needle in (
        "money rounding rules 'M1' and 'M2' both cover entity 'us' on overlapping dates",
        "tax rounding rules 'T1' and 'T2' both cover entity 'de' on overlapping dates",
        "retainers 'R1' and 'R2' both cover client 5002 in USD with entity 'us' on overlapping dates",
        "retainer 'R3': top_up 100.5 has more decimals than JPY has (0)",
    ):
        assert needle in text


def test_unknown_rounding_mode_and_foreign_client_are_refused(tmp_path: Path) -> None:
    path = _write_config(tmp_path, money_rounding=[{"id": "M", "entity": "us", "mode": "bankers"}])
    with pytest.raises(
        ConfigurationError, match=r"key money_rounding\.0\.mode: Input should be 'half_up' or 'half_even'"
    ):
        load_config(path)
    path = _write_config(
        tmp_path, retainers=[{"id": "R", "entity": "uk", "client": 5002, "currency": "USD", "top_up": "1"}]
    )
    with pytest.raises(ConfigurationError, match="client 5002 is billed by entity 'us', not 'uk'"):
        load_config(path)


def test_two_retainers_sharing_an_invoice_never_draw_more_than_the_work() -> None:
    # One retainer ends on 15 August, the next starts on the 16th: 200 + 100 available, 240 of work.
    # The first draws 200, the second the remaining 40 and keeps 60; the invoice totals 0.00.
    ending = RetainerAccount(
        _retainer(id="OLD", opening_balance=D(200), effective_to=date(2026, 8, 15)), D(200), "A"
    )
    starting = RetainerAccount(
        _retainer(id="NEW", opening_balance=D(100), effective_from=date(2026, 8, 16)), D(100), "A"
    )
    drafts = passes_the_gates(
        draft_invoices(
            _lines("us", WORK),
            DraftingContext(BASE.entity("us"), *AUGUST, RATES, "run", retainers=[ending, starting]),
            BillingRules.of(BASE),
        )
    )
    applied = drafts.lines.filter(pl.col("source_kind") == "retainer_applied").sort("line_no")
    assert applied["line_amount"].to_list() == [D("-200.00"), D("-40.00")]
    assert drafts.retainer_balances.select("retainer_id", "drawn", "closing").rows() == [
        ("OLD", D(200), D(0)),
        ("NEW", D(40), D(60)),
    ]
    assert drafts.invoices["total"].to_list() == [D("0.00")]
