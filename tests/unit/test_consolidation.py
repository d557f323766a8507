"""Group consolidation, hand-computed: the entity ledger, translation at average and closing rates, the
translation difference, elimination netting, an unmatched intercompany side, and the group totals."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from typing import Any

import dagster as dg
import polars as pl
import pytest

from assets.partitions import Partitions
from pipelines.definitions import defs
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.consolidation.consolidate import (
    elimination_balance,
    eliminations,
    eliminations_net_to_zero,
    entity_totals,
    group_equals_entities_less_eliminations,
    group_totals,
    translate,
    translation_differences,
)
from rules.consolidation.ledger import LEDGER_SCHEMA, entity_ledger, ledger_balances
from rules.consolidation.translation_rates import TRANSLATION_RATE_SCHEMA, MissingTranslationRate
from rules.money import MONEY

PERIOD = "2026-10"
REF = "IC-UK-US-2026-10"


def _row(entity: str, statement: str, item: str, currency: str, amount: str, **rest: Any) -> dict[str, Any]:
    return {**dict.fromkeys(LEDGER_SCHEMA), "entity": entity, "period": PERIOD, "statement": statement,
            "line_item": item, "currency": currency, "amount": D(amount), "export_run_id": "r", **rest}  # fmt: skip


def _ledger(rows: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=LEDGER_SCHEMA)


def _rates(table: dict[str, tuple[str, str]]) -> pl.DataFrame:
    """{currency: (average, closing)} into EUR."""
    rows = [
        {"period": PERIOD, "currency": cur, "reporting_currency": "EUR", "rate_type": kind, "rate": D(rate),
         "rate_date_from": date(2026, 10, 1), "rate_date_to": date(2026, 10, 30), "published_days": 22,
         "source": "test", "note": ""}
        for cur, (avg, close) in table.items()
        for kind, rate in (("average", avg), ("closing", close))
    ]  # fmt: skip
    return pl.DataFrame(rows, schema=TRANSLATION_RATE_SCHEMA)


RATES = _rates({"GBP": ("1.15", "1.20"), "USD": ("0.90", "0.85"), "EUR": ("1", "1")})
SALE = {"reference": REF, "counterparty_entity": "us"}
PURCHASE = {"reference": REF, "counterparty_entity": "uk"}
UK = [
    _row("uk", "income", "revenue", "GBP", "1000.00"),
    _row("uk", "asset", "receivables", "GBP", "1200.00"),
    _row("uk", "liability", "output_tax", "GBP", "200.00"),
    _row("uk", "expense", "direct_time_cost", "GBP", "400.00"),
    _row("uk", "income", "intercompany_revenue", "GBP", "300.00", **SALE),
    _row("uk", "asset", "intercompany_receivables", "GBP", "300.00", **SALE),
    _row("uk", "expense", "intercompany_time_cost", "GBP", "250.00", **SALE),
    _row("uk", "liability", "accrued_costs", "GBP", "650.00"),
]
US_PURCHASE = [
    _row("us", "expense", "intercompany_cost", "GBP", "300.00", **PURCHASE),
    _row("us", "liability", "intercompany_payables", "GBP", "300.00", **PURCHASE),
]
US = [
    _row("us", "income", "revenue", "USD", "2000.00"),
    _row("us", "asset", "receivables", "USD", "2000.00"),
    *US_PURCHASE,
]


def _consolidate(rows: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    translated = translate(_ledger(rows), RATES, "EUR")
    differences = translation_differences(translated, ["uk", "us"], "EUR")
    elims = eliminations(translated)
    group = group_totals(entity_totals(translated, differences), elims)
    return translated, differences, elims, group


def test_income_at_average_and_balances_at_closing() -> None:
    translated, *_ = _consolidate(UK + US)
    by_item = {
        (e, i): a for e, i, a in translated.select("entity", "line_item", "amount_reporting").iter_rows()
    }
    assert by_item[("uk", "revenue")] == D("1150.00")  # 1000.00 x 1.15
    assert by_item[("uk", "receivables")] == D("1440.00")  # 1200.00 x 1.20
    assert by_item[("uk", "intercompany_time_cost")] == D("287.50")  # 250.00 x 1.15
    assert by_item[("us", "revenue")] == D("1800.00")  # 2000.00 x 0.90
    assert by_item[("us", "receivables")] == D("1700.00")  # 2000.00 x 0.85
    assert by_item[("us", "intercompany_payables")] == D("360.00")  # 300.00 GBP x 1.20, the charge's currency
    row = translated.filter(pl.col("line_item") == "revenue", pl.col("entity") == "uk").row(0, named=True)
    assert (row["rate_type"], row["rate"], row["rate_source"]) == ("average", D("1.15"), "test")


def test_translation_difference_is_balances_at_closing_less_result_at_average() -> None:
    _t, differences, _e, _g = _consolidate(UK + US)
    rows = {r["entity"]: r for r in differences.iter_rows(named=True)}
    # uk: result 1150.00 + 345.00 - 460.00 - 287.50 = 747.50 (650 GBP at 1.15);
    #     net assets 1440.00 + 360.00 - 240.00 - 780.00 = 780.00 (650 GBP at 1.20); difference 32.50
    assert (rows["uk"]["result_at_average"], rows["uk"]["net_assets_at_closing"]) == (
        D("747.50"),
        D("780.00"),
    )
    assert rows["uk"]["translation_difference"] == D("32.50")
    # us: result 1800.00 - 345.00 = 1455.00; net assets 1700.00 - 360.00 = 1340.00; difference -115.00
    assert rows["us"]["translation_difference"] == D("-115.00")


def test_intercompany_eliminations_net_to_zero_and_leave_the_group_totals() -> None:
    translated, differences, elims, group = _consolidate(UK + US)
    assert sorted(zip(elims["line_item"], elims["amount_reporting"], strict=True)) == [
        ("intercompany_cost", D("345.00")),
        ("intercompany_payables", D("360.00")),
        ("intercompany_receivables", D("360.00")),
        ("intercompany_revenue", D("345.00")),
    ]
    balance = elimination_balance(elims)
    assert balance["net_reporting"].to_list() == [D(0), D(0)]
    assert eliminations_net_to_zero(balance) == (True, "1 reference(s), 2 pair(s) eliminated, each nets to 0")
    totals = {i: (e, x, g) for _s, i, e, x, g in group.iter_rows()}
    assert totals["revenue"] == (D("2950.00"), D(0), D("2950.00"))
    assert totals["intercompany_revenue"] == (D("345.00"), D("345.00"), D(0))
    assert totals["intercompany_receivables"] == (D("360.00"), D("360.00"), D(0))
    assert totals["intercompany_time_cost"][2] == D("287.50")  # the seller's people's cost stays in the group
    assert totals["receivables"][2] == D("3140.00")
    assert totals["translation_difference"][2] == D("-82.50")  # 32.50 - 115.00
    ok, detail = group_equals_entities_less_eliminations(translated, differences, elims, group)
    # result 2950.00 - 460.00 - 287.50 = 2202.50; net assets 3140.00 - 240.00 - 780.00 = 2120.00
    assert ok, detail
    assert "result 2202.5000 + translation difference -82.5000 = net assets 2120.0000" in detail


def test_an_unmatched_side_is_flagged_with_its_reference() -> None:
    *_, elims, _g = _consolidate(UK + US[:2])  # the purchase never reached us's ledger
    ok, detail = eliminations_net_to_zero(elimination_balance(elims))
    assert not ok
    assert f"{REF} revenue_cost: purchase side missing (sale in uk: 300.0000 GBP)" in detail
    assert f"{REF} receivable_payable: purchase side missing" in detail


def test_unequal_sides_do_not_net_to_zero() -> None:
    short = [{**r, "amount": D("299.00")} for r in US_PURCHASE]
    *_, elims, _g = _consolidate(UK + US[:2] + short)
    ok, detail = eliminations_net_to_zero(elimination_balance(elims))
    assert not ok
    assert (
        "does not net to zero: sale 300.0000 GBP vs purchase 299.0000 GBP (net 1.1500" in detail
    )  # 1.00 x 1.15


def test_a_wrong_group_total_is_caught() -> None:
    translated, differences, elims, group = _consolidate(UK + US)
    tampered = group.with_columns(
        pl.when(pl.col("line_item") == "revenue").then(pl.lit(D("2950.01"), MONEY)).otherwise("group_total")
        .alias("group_total")
    )  # fmt: skip
    ok, detail = group_equals_entities_less_eliminations(translated, differences, elims, tampered)
    assert not ok
    assert "income/revenue: 2950.0100 vs 2950.0000" in detail


def test_a_currency_without_a_rate_is_a_clear_error() -> None:
    with pytest.raises(MissingTranslationRate, match="JPY"):
        translate(_ledger([_row("us", "income", "revenue", "JPY", "100")]), RATES, "EUR")


# The entity ledger, from the entity's own tables.
INVOICES = pl.DataFrame(
    [{"invoice_number": "BB-UK-202610-5003-USD", "contact_name": "Acme", "currency": "USD", "subtotal": D("100.00"),
      "total_tax": D("20.00"), "total": D("120.00"), "base_currency": "GBP", "total_base": D("96.01"),
      "line_amount_types": "Exclusive"}],
    schema_overrides={"subtotal": MONEY, "total_tax": MONEY, "total": MONEY, "total_base": MONEY},
)  # fmt: skip
INVOICE_LINES = pl.DataFrame(
    {"invoice_number": ["BB-UK-202610-5003-USD"] * 2, "line_amount": [D("60.00"), D("40.00")],
     "tax_amount": [D("12.00"), D("8.00")], "account_code": ["200", "210"]},
    schema_overrides={"line_amount": MONEY, "tax_amount": MONEY},
)  # fmt: skip
LINES = pl.DataFrame(
    {"source_kind": ["time", "time", "time", "expense"], "person_id": [8101, 8001, None, None],
     "contact_name": ["Acme"] * 4, "base_currency": ["GBP"] * 4,
     "amount_cost_base": [D("400.00"), D("100.00"), D("30.00"), D("50.00")]},
    schema_overrides={"amount_cost_base": MONEY, "person_id": pl.Int64},
)  # fmt: skip
CHARGES = pl.DataFrame(
    [{"reference": REF, "period": PERIOD, "seller_entity": "uk", "buyer_entity": "us", "side": "sale",
      "currency": "GBP", "hours": D("5"), "cost_amount": D("250.00"), "markup_amount": D("50.00"),
      "net_amount": D("300.00"), "document_number": "BB-UK-202610-IC-US"}],
    schema_overrides={"hours": MONEY, "cost_amount": MONEY, "markup_amount": MONEY, "net_amount": MONEY},
)  # fmt: skip


def test_entity_ledger_splits_the_base_total_and_keeps_other_entities_people_out_of_direct_cost() -> None:
    ledger = entity_ledger(
        entity="uk", period=PERIOD, invoices=INVOICES, invoice_lines=INVOICE_LINES, lines=LINES,
        charges=CHARGES, homes={8101: "uk", 8001: "us"}, run_id="r",
    )  # fmt: skip
    got = sorted(
        (s, i, a or "", c, amount)
        for s, i, a, c, amount in ledger.select(
            "statement", "line_item", "account_code", "currency", "amount"
        ).iter_rows()
    )
    # tax share 96.01 x 20.00 / 120.00 = 16.0017 -> 16.00; revenue 80.01 split 60:40 = 48.006 / 32.004
    # -> floors 48.00 + 32.00, the missing cent to the larger remainder: 48.01 and 32.00.
    # Time of person 8001 (home: us) is bought from us, not uk's direct cost: 400.00 + 30.00 = 430.00.
    assert got == [
        ("asset", "intercompany_receivables", "", "GBP", D("300.00")),
        ("asset", "receivables", "", "GBP", D("96.01")),
        ("expense", "direct_expense_cost", "", "GBP", D("50.00")),
        ("expense", "direct_time_cost", "", "GBP", D("430.00")),
        ("expense", "intercompany_time_cost", "", "GBP", D("250.00")),
        ("income", "intercompany_revenue", "", "GBP", D("300.00")),
        ("income", "revenue", "200", "GBP", D("48.01")),
        ("income", "revenue", "210", "GBP", D("32.00")),
        ("liability", "accrued_costs", "", "GBP", D("730.00")),  # 430.00 + 50.00 + 250.00
        ("liability", "output_tax", "", "GBP", D("16.00")),
    ]
    assert ledger_balances(ledger)[0]


def test_an_unbalanced_ledger_is_reported() -> None:
    ok, detail = ledger_balances(_ledger([_row("uk", "income", "revenue", "GBP", "10.00")]))
    assert not ok
    assert "uk GBP: result 10.00" in detail


def test_the_group_close_is_monthly_and_its_checks_block() -> None:
    demo = Partitions.of(load_config(DEFAULT_CONFIG_PATH))
    assert defs.resolve_job_def("consolidate_group").partitions_def == demo.month
    assert defs.resolve_job_def("export_ledger").partitions_def == demo.entity_month
    group = defs.resolve_assets_def(dg.AssetKey(["consolidation", "group_consolidation"]))
    assert {s.name for s in group.check_specs} == {
        "eliminations_net_to_zero",
        "group_totals_equal_entities_less_eliminations",
    }
    assert all(s.blocking for s in group.check_specs)
