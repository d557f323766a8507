"""Money and tax rounding modes, invoice-level rounding and per-invoice tax (expected values written by hand).

Decision record: docs/decisions/0009-money-and-tax-rounding-and-retainers.md.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from checks.schemas import InvoiceDraftLines, validate
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.billing.drafting import BillingRules, DraftingContext, draft_invoices
from rules.billing.retainers import RetainerAccount
from rules.config_types import ConfigurationError
from rules.invariants import lines_sum_to_totals
from rules.money import allocate_largest_remainder, round_total_and_allocate
from rules.normalizing import normalize_lines
from rules.rounding_rules import MoneyRounding, Retainer, TaxRounding
from rules.rule_sets import Discount
from rules.settings import BillbridgeConfig
from tests.factories import directory, fx_snapshot, raw_frame, time_entry
from tests.unit.drafting_gates import passes_the_gates

BASE = load_config(DEFAULT_CONFIG_PATH)
# Units per EUR on the last day of July and of August 2026.
RATES = fx_snapshot(
    {
        day: {"USD": "1.25", "GBP": "0.8", "JPY": "160", "KWD": "0.35"}
        for day in (date(2026, 7, 31), date(2026, 8, 31))
    }
)
AUGUST = (date(2026, 8, 1), date(2026, 8, 31))


# --------------------------------------------------------------------------------------------------
# The named allocation rule on its own (rules/money.py)
# --------------------------------------------------------------------------------------------------

ALLOCATIONS = [
    # (case, currency, mode, exact line amounts, expected lines)
    ("USD half-up: 30.015 -> 30.02, two ties get the cent, the earlier lines first",
     "USD", "half_up", ["10.005", "10.005", "10.005"], ["10.01", "10.01", "10.00"]),
    ("USD half-up tie: 20.005 -> 20.01", "USD", "half_up", ["10.0025", "10.0025"], ["10.01", "10.00"]),
    ("USD half-even tie: 20.005 -> 20.00 (0 is even)", "USD", "half_even", ["10.0025", "10.0025"],
     ["10.00", "10.00"]),
    ("largest remainder wins: 3.012 -> 3.01, the .006 line takes it", "USD", "half_up",
     ["1.004", "1.006", "1.002"], ["1.00", "1.01", "1.00"]),
    ("a negative line floors away from zero: 8.002 -> 8.00", "USD", "half_up", ["10.005", "-2.003"],
     ["10.00", "-2.00"]),
    ("JPY has no minor unit: 301 exactly, the tie goes to the first line", "JPY", "half_up",
     ["100.5", "200.5"], ["101", "200"]),
    ("JPY half-up 2.5 -> 3", "JPY", "half_up", ["2.5"], ["3"]),
    ("JPY half-even 2.5 -> 2", "JPY", "half_even", ["2.5"], ["2"]),
    ("KWD three decimals: 3.0010", "KWD", "half_up", ["1.0005", "2.0005"], ["1.001", "2.000"]),
    ("KWD half-up 0.0005 -> 0.001", "KWD", "half_up", ["0.0005"], ["0.001"]),
    ("KWD half-even 0.0005 -> 0.000", "KWD", "half_even", ["0.0005"], ["0.000"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("currency", "mode", "exact", "expected"), [c[1:] for c in ALLOCATIONS], ids=[c[0] for c in ALLOCATIONS]
)
def test_invoice_level_rounding_allocates_by_largest_remainder(
    currency: str, mode: str, exact: list[str], expected: list[str]
) -> None:
    got = round_total_and_allocate([D(x) for x in exact], currency, mode)
    assert got == [D(x) for x in expected]
    assert [str(x) for x in got] == expected  # the currency's minor units, exactly


def test_allocation_refuses_a_total_the_lines_cannot_reach() -> None:
    with pytest.raises(ValueError, match="cannot be allocated"):
        allocate_largest_remainder([D("1.004"), D("1.006")], D("2.05"), "USD")


# --------------------------------------------------------------------------------------------------
# Through draft_invoices
# --------------------------------------------------------------------------------------------------


def _config(
    money: list[MoneyRounding] | None = None, tax: list[TaxRounding] | None = None
) -> BillbridgeConfig:
    update = {"money_rounding": money or [], "tax_rounding": tax or [], "retainers": []}
    return BASE.model_copy(update={"mapping": BASE.mapping.model_copy(update=update)})


def _lines(
    config: BillbridgeConfig, entity: str, entries: list[dict[str, Any]], currency: str
) -> pl.DataFrame:
    client = entries[0]["client"]["id"]
    d = directory({6001: True, 6002: True, 6101: True}, {client: currency})
    found = normalize_lines(
        raw_frame(entries, entity), raw_frame([], entity), d, config.entity(entity), config, RATES, "r"
    )
    assert found.quarantine.height == 0, found.quarantine["reason"].to_list()
    return found.lines


def _three_ties(currency: str = "USD", hours: float = 0.35, rate: float = 137.5) -> list[dict[str, Any]]:
    # Three lines (three tasks) of 0.35 h x 137.50 = 48.125 each: every one a tie.
    return [time_entry(i, hours, rate, task=7000 + i, currency=currency) for i in (1, 2, 3)]


# Every line is priced as the ledger prices it: quantity x unit price, half-up per line. The configured
# rounding decides the total; a difference is one explicit rounding line (quantity 1, untaxed, on the
# entity's rounding account 860), last on the invoice here (no discounts, no retainer).
MONEY_CASES = [
    # (case, rules, currency, entries, expected line amounts (rounding line last), its rule or None, total)
    ("default: per line half-up 48.125 -> 48.13, total 144.39, no rounding line", [], "USD", _three_ties(),
     ["48.13", "48.13", "48.13"], None, "144.39"),
    ("entity default half-even: 48.125 -> 48.12 (2 is even) x 3 = 144.36; the ledger's 144.39 less 0.03",
     [MoneyRounding(id="US", entity="us", mode="half_even")], "USD", _three_ties(),
     ["48.13", "48.13", "48.13", "-0.03"], "line:half_even", "144.36"),
    ("client override beats the entity's: half-up for 5001, no rounding line",
     [MoneyRounding(id="US", entity="us", mode="half_even"), MoneyRounding(id="C", client=5001, mode="half_up")],
     "USD", _three_ties(), ["48.13", "48.13", "48.13"], None, "144.39"),
    ("invoice level: 144.375 -> 144.38 once, a cent less than the ledger's 144.39",
     [MoneyRounding(id="C", client=5001, level="invoice")], "USD", _three_ties(),
     ["48.13", "48.13", "48.13", "-0.01"], "invoice:half_up+largest_remainder", "144.38"),
    ("invoice level half-even: 144.375 -> 144.38 (8 is even), a cent less than the ledger's",
     [MoneyRounding(id="C", client=5001, mode="half_even", level="invoice")], "USD", _three_ties(),
     ["48.13", "48.13", "48.13", "-0.01"], "invoice:half_even+largest_remainder", "144.38"),
    ("invoice level rounds up where the lines round down: 2 x 0.4 h x 25.01 = 2 x 10.004 -> 10.00 each,"
     " 20.008 -> 20.01, a positive cent",
     [MoneyRounding(id="C", client=5001, level="invoice")], "USD",
     [time_entry(i, 0.4, 25.01, task=7000 + i) for i in (1, 2)],
     ["10.00", "10.00", "0.01"], "invoice:half_up+largest_remainder", "20.01"),
    ("JPY per line half-up: 0.25 h x 1002 = 250.5 -> 251", [], "JPY",
     [time_entry(1, 0.25, 1002, currency="JPY")], ["251"], None, "251"),
    ("JPY per line half-even: 250.5 -> 250; the ledger's 251 less one yen",
     [MoneyRounding(id="C", client=5001, mode="half_even")], "JPY",
     [time_entry(1, 0.25, 1002, currency="JPY")], ["251", "-1"], "line:half_even", "250"),
    ("JPY invoice level: 3 x 250.5 = 751.5 -> 752; the ledger's 3 x 251 = 753 less one yen",
     [MoneyRounding(id="C", client=5001, level="invoice")], "JPY",
     _three_ties("JPY", 0.25, 1002), ["251", "251", "251", "-1"], "invoice:half_up+largest_remainder", "752"),
    ("KWD per line half-up: 0.5 h x 12.345 = 6.1725 -> 6.173", [], "KWD",
     [time_entry(1, 0.5, 12.345, currency="KWD")], ["6.173"], None, "6.173"),
    ("KWD per line half-even: 6.1725 -> 6.172; the ledger's 6.173 less one fils",
     [MoneyRounding(id="C", client=5001, mode="half_even")], "KWD",
     [time_entry(1, 0.5, 12.345, currency="KWD")], ["6.173", "-0.001"], "line:half_even", "6.172"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rules", "currency", "entries", "expected", "rule", "total"),
    [c[1:] for c in MONEY_CASES],
    ids=[c[0] for c in MONEY_CASES],
)
def test_money_rounding_modes_and_levels(
    rules: list[MoneyRounding],
    currency: str,
    entries: list[dict[str, Any]],
    expected: list[str],
    rule: str | None,
    total: str,
) -> None:
    config = _config(money=rules)
    drafts = passes_the_gates(
        draft_invoices(
            _lines(config, "us", entries, currency),
            DraftingContext(config.entity("us"), *AUGUST, RATES, "run"),
            BillingRules.of(config),
        )
    )
    lines = drafts.lines.sort("line_no")
    assert lines["line_amount"].to_list() == [D(x) for x in expected]
    assert drafts.invoices["total"].to_list() == [D(total)]
    work = lines.filter(pl.col("source_kind") != "rounding")
    assert set(work["rounding_rule"]) == {"line:half_up"}  # priced as the ledger prices them
    rounding = lines.filter(pl.col("source_kind") == "rounding")
    if rule is None:
        assert rounding.height == 0
        return
    assert rounding.select(
        "line_no", "description", "quantity", "unit_amount", "line_amount", "account_code", "tax_type",
        "tax_amount", "rounding_rule",
    ).rows() == [
        (lines.height, f"Rounding ({rule.split('+')[0]})", D(1), D(expected[-1]), D(expected[-1]), "860", "NONE",
         D(0), rule),
    ]  # fmt: skip


def test_rounding_line_sits_after_discounts_and_before_the_retainer() -> None:
    # Invoice level on 5001: three lines of 48.125 (ledger 48.13 each); a 10% invoice discount of the
    # configured 144.38 is 14.438 -> 14.44; rounding 144.38 - 144.39 = -0.01; a retainer of 50.00
    # (opening 50.00, no top-up) draws 50.00. Total 144.39 - 14.44 - 0.01 - 50.00 = 79.94.
    config = _config(money=[MoneyRounding(id="C", client=5001, level="invoice")])
    discount = Discount(id="TENPC", client=5001, kind="percent", value=D(10), level="invoice")
    retainer = Retainer(id="R", entity="us", client=5001, currency="USD", top_up=D(0), opening_balance=D(50))
    e = config.entity("us")
    found = normalize_lines(
        raw_frame(_three_ties(), "us"), raw_frame([], "us"),
        directory({6001: True}, {5001: "USD"}), e, config, RATES, "r",
    )  # fmt: skip
    drafts = draft_invoices(
        found.lines,
        DraftingContext(e, *AUGUST, RATES, "run", retainers=[RetainerAccount(retainer, D(50), "Acme Corporation")]),
        BillingRules(
            config.mapping.field_mapping, config.rule_set_version,
            discounts=[discount], money_rounding=config.mapping.money_rounding,
        ),
    )  # fmt: skip
    validate(InvoiceDraftLines, drafts.lines)
    assert drafts.lines.sort("line_no").select("source_kind", "line_amount").rows() == [
        ("time", D("48.13")), ("time", D("48.13")), ("time", D("48.13")), ("discount", D("-14.44")),
        ("rounding", D("-0.01")), ("retainer_applied", D("-50.00")),
    ]  # fmt: skip
    assert drafts.invoices["total"].to_list() == [D("79.94")]
    assert lines_sum_to_totals(drafts.invoices, drafts.lines)[0]


def test_rounding_tax_code_must_exist_at_zero_percent_for_every_entity(tmp_path: Path) -> None:
    # us names a code it does not have, uk a 20% one; de derives NONE (0%) and passes. Both are listed.
    text = DEFAULT_CONFIG_PATH.read_text()
    line = "    rounding_tax_type: NONE        # a 0% code of the entity: rounding moves no tax\n"
    us, uk, de, rest = text.split(line)  # the three entities' lines, in order
    text = us + "    rounding_tax_type: EXEMPT\n" + uk + "    rounding_tax_type: OUTPUT2\n" + de + rest
    (tmp_path / "mapping.yaml").write_text((DEFAULT_CONFIG_PATH.parent / "mapping.yaml").read_text())
    (tmp_path / "billbridge.yaml").write_text(text)
    with pytest.raises(ConfigurationError) as err:
        load_config(tmp_path / "billbridge.yaml")
    message = str(err.value)
    assert str(tmp_path / "billbridge.yaml") in message
    assert "entity 'us' rounding_tax_type: tax code 'EXEMPT' does not exist for the entity" in message
    assert "entity 'uk' rounding_tax_type: expected a 0% tax code, 'OUTPUT2' is 20%" in message
    assert "'de'" not in message
    assert BASE.entity("de").rounding_tax_code() == "NONE"


def _uk_ties() -> list[dict[str, Any]]:
    # Two UK lines of 0.35 h x 137.50 = 48.13 (half-up); 20% VAT on each is 9.626.
    return [
        time_entry(i, 0.35, 137.5, client=5101, project=6101, task=7000 + i, currency="GBP") for i in (1, 2)
    ]


TAX_CASES = [
    # (case, tax rule, expected line taxes, total tax, total, recorded rule)
    ("per line (the ledger's way): 9.626 -> 9.63 twice, tax 19.26", None, ["9.63", "9.63"], "19.26", "115.52",
     "line:half_up"),
    ("per invoice: 19.252 -> 19.25 once, a cent less; 9.62 + 1 cent to the first line",
     TaxRounding(id="UK", entity="uk", level="invoice"), ["9.63", "9.62"], "19.25", "115.51",
     "invoice:half_up+largest_remainder"),
    ("per line half-even: 9.626 is no tie, still 9.63", TaxRounding(id="UK", entity="uk", mode="half_even"),
     ["9.63", "9.63"], "19.26", "115.52", "line:half_even"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rule", "expected", "tax", "total", "label"), [c[1:] for c in TAX_CASES], ids=[c[0] for c in TAX_CASES]
)
def test_tax_rounding_per_line_or_per_invoice(
    rule: TaxRounding | None, expected: list[str], tax: str, total: str, label: str
) -> None:
    config = _config(tax=[rule] if rule else [])
    drafts = passes_the_gates(
        draft_invoices(
            _lines(config, "uk", _uk_ties(), "GBP"),
            DraftingContext(config.entity("uk"), *AUGUST, RATES, "run"),
            BillingRules.of(config),
        )
    )
    lines = drafts.lines.sort("line_no")
    assert lines["line_amount"].to_list() == [D("48.13"), D("48.13")]
    assert lines["tax_amount"].to_list() == [D(x) for x in expected]
    header = drafts.invoices.row(0, named=True)
    assert (header["subtotal"], header["total_tax"], header["total"]) == (D("96.26"), D(tax), D(total))
    assert set(lines["tax_rounding_rule"]) == {label}


def test_per_invoice_tax_on_inclusive_prices() -> None:
    # Inclusive 20%: a line of 10.03 holds 10.03 x 20 / 120 = 1.671666.. of tax. Three such lines:
    # per line 1.67 x 3 = 5.01; per invoice 5.015 -> 5.02 once, 1.67 each + 1 cent to the first line.
    # Total 30.09 (inclusive), subtotal 30.09 - 5.02 = 25.07.
    entity = BASE.entity("uk").model_copy(update={"line_amount_types": "Inclusive"})
    config = _config(tax=[TaxRounding(id="UK", entity="uk", level="invoice")])
    config = config.model_copy(update={"entities": [entity if e.id == "uk" else e for e in config.entities]})
    entries = [
        time_entry(i, 1, 10.03, client=5101, project=6101, task=7000 + i, currency="GBP") for i in (1, 2, 3)
    ]
    drafts = passes_the_gates(
        draft_invoices(
            _lines(config, "uk", entries, "GBP"),
            DraftingContext(config.entity("uk"), *AUGUST, RATES, "run"),
            BillingRules.of(config),
        )
    )
    assert drafts.lines.sort("line_no")["tax_amount"].to_list() == [D("1.68"), D("1.67"), D("1.67")]
    header = drafts.invoices.row(0, named=True)
    assert (header["subtotal"], header["total_tax"], header["total"]) == (D("25.07"), D("5.02"), D("30.09"))
