"""Intercompany charges at cost plus markup: hand-computed amounts, both sides equal, documents in the outbound shape.

The scenario: UK people (home entity uk, GBP) log time on US projects (billed by us, USD) in
August 2026; uk charges us at cost (the entries' cost rates, GBP) plus 8%.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from assets.partitions import MonthSlice
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.config_types import ConfigurationError
from rules.documents import DOCUMENT_HEADER_SCHEMA, DOCUMENT_LINE_SCHEMA
from rules.intercompany.charges import ChargeMonth, charges_are_consistent, intercompany_side, sides_agree
from rules.intercompany.policy import (
    PURCHASE,
    SALE,
    charge_document_number,
    charge_reference,
    intercompany_tax,
)
from rules.intercompany.work import intercompany_work, seller_work
from rules.invariants import lines_sum_to_totals
from rules.normalizing import TRACE_COLUMNS, Judging, held_time, normalize_lines
from rules.rule_sets import IntercompanyAccounts, IntercompanyMarkup, IntercompanyPolicy
from rules.settings import BillbridgeConfig
from tests.factories import directory, fx_snapshot, raw_frame, time_entry

BASE = load_config(DEFAULT_CONFIG_PATH)
FX = fx_snapshot({date(2026, 8, 3): {"USD": "1.10", "GBP": "0.85"}})
AUGUST = MonthSlice("us", date(2026, 8, 1))
DIRECTORY = directory({6001: True, 6002: True}, {5001: "USD", 5002: "USD"})
HARRY = {"id": 8103, "name": "Harry Walsh"}  # home entity uk
AMELIA = {"id": 8102, "name": "Amelia Patel"}  # home entity uk
MAYA = {"id": 8001, "name": "Maya Thompson"}  # home entity us
GBP_PER_USD = D("0.77272727")


def _config(markups: list[IntercompanyMarkup], default: str = "0") -> BillbridgeConfig:
    policy = IntercompanyPolicy(
        default_markup_percent=D(default),
        markups=markups,
        entities=[
            IntercompanyAccounts(entity="uk", sale_tax_type="ZERORATEDOUTPUT", revenue_account_code="260"),
            IntercompanyAccounts(entity="us", purchase_tax_type="NONE", cost_account_code="310"),
        ],
    )
    return BASE.model_copy(update={"mapping": BASE.mapping.model_copy(update={"intercompany": policy})})


EIGHT = [IntercompanyMarkup(id="IC-UK-US", seller="uk", buyer="us", markup_percent=D(8))]


def _entry(entry_id: int, person: dict[str, Any], hours: Any, cost: Any, **kw: Any) -> dict[str, Any]:
    record = time_entry(entry_id, hours, 150, **kw)
    return {**record, "user": person, "cost_rate": cost}


ENTRIES = [
    _entry(1, HARRY, 2.5, 75.0),  # 6001: 2.5 h
    _entry(2, HARRY, 1.25, 75.0, day="2026-08-04"),  # 6001: + 1.25 h
    _entry(3, HARRY, 1, 75.0, billable=False),  # 6001, non-billable work is still work: + 1 h
    _entry(4, AMELIA, 0.5, 65.05, project=6002, client=5002),  # 0.5 h x 65.05 = 32.525 -> 32.53 (half-up)
    _entry(5, MAYA, 3, 70.0),  # a US person on a US project: not intercompany
    _entry(6, HARRY, 2, 75.0, closed=False),  # awaiting approval, and uk bills approved time only
]


def _us_lines(config: BillbridgeConfig, entries: list[dict[str, Any]] = ENTRIES) -> pl.DataFrame:
    result = normalize_lines(
        raw_frame(entries), raw_frame([]), DIRECTORY, config.entity("us"), config, FX, "r"
    )
    assert result.quarantine.height == 0
    return result.lines


def _side(config: BillbridgeConfig, work: pl.DataFrame, side: str, owner: str, rate: D = D(1)):  # type: ignore[no-untyped-def]
    return intercompany_side(
        work, side, owner, ChargeMonth(config, AUGUST.month, AUGUST.month_end, "v1", "run-1"), {"GBP": rate}
    )


def test_cost_plus_markup_hand_computed() -> None:
    config = _config(EIGHT)
    work = intercompany_work(_us_lines(config), config, seller="uk")
    assert sorted(work["source_id"].to_list()) == [1, 2, 3, 4]
    sale = _side(config, work, SALE, "uk")
    charge = sale.charges.row(0, named=True)
    # Harry on 6001: (2.5 + 1.25 + 1) h = 4.75 h x 75.00 = 356.25; Amelia on 6002: 32.53.
    # Cost 388.78; markup 8% = 31.1024 -> 31.10; net 419.88 GBP.
    assert (charge["hours"], charge["cost_amount"], charge["markup_amount"], charge["net_amount"]) == (
        D("5.25"),
        D("388.78"),
        D("31.10"),
        D("419.88"),
    )
    assert (charge["reference"], charge["document_number"]) == ("IC-UK-US-2026-08", "BB-UK-202608-IC-US")
    assert (charge["seller_entity"], charge["buyer_entity"], charge["currency"]) == ("uk", "us", "GBP")
    lines = sale.document_lines.select("line_no", "description", "quantity", "unit_amount", "line_amount")
    assert lines.rows() == [
        (
            1,
            "Intercompany services at cost: Harry Walsh, Project 6001 (P-6001)",
            D("4.75"),
            D("75"),
            D("356.25"),
        ),
        (
            2,
            "Intercompany services at cost: Amelia Patel, Project 6002 (P-6002)",
            D("0.5"),
            D("65.05"),
            D("32.53"),
        ),
        (3, "Intercompany markup 8% on cost (IC-UK-US)", D("1"), D("31.10"), D("31.10")),
    ]
    assert sale.document_lines["tax_amount"].to_list() == [D(0)] * 3
    assert set(sale.sources["line_id"]) == {"time-1", "time-2", "time-3", "time-4"}
    assert charges_are_consistent(sale)[0]
    assert lines_sum_to_totals(sale.documents, sale.document_lines, key="document_number")[0]


def test_markup_rounds_half_up_and_the_default_applies_without_a_rule() -> None:
    config = _config([], default="10")
    entries = [_entry(7, AMELIA, 0.5, 65.10, project=6002, client=5002)]
    sale = _side(config, intercompany_work(_us_lines(config, entries), config, seller="uk"), SALE, "uk")
    # cost 0.5 h x 65.10 = 32.55; markup 10% = 3.255 -> 3.26 (MARKUP_RULE, half-up); net 35.81
    charge = sale.charges.row(0, named=True)
    assert (charge["cost_amount"], charge["markup_amount"], charge["net_amount"]) == (
        D("32.55"),
        D("3.26"),
        D("35.81"),
    )
    assert sale.document_lines["description"][-1] == "Intercompany markup 10% on cost (default markup)"


def test_at_cost_without_any_markup_has_no_markup_line() -> None:
    config = _config([])
    sale = _side(config, intercompany_work(_us_lines(config), config, seller="uk"), SALE, "uk")
    charge = sale.charges.row(0, named=True)
    assert (charge["cost_amount"], charge["markup_amount"], charge["net_amount"]) == (
        D("388.78"),
        D("0"),
        D("388.78"),
    )
    assert sale.document_lines.height == 2


def test_markup_in_force_on_each_day() -> None:
    # 8% until 2026-08-03, 10% from 2026-08-04: entry 2 (1.25 h on the 4th) is marked up at 10%.
    config = _config(
        [
            IntercompanyMarkup(
                id="OLD", seller="uk", buyer="us", markup_percent=D(8), effective_to=date(2026, 8, 3)
            ),
            IntercompanyMarkup(
                id="NEW", seller="uk", buyer="us", markup_percent=D(10), effective_from=date(2026, 8, 4)
            ),
        ]
    )
    sale = _side(config, intercompany_work(_us_lines(config), config, seller="uk"), SALE, "uk")
    # At 8%: Harry 3.5 h x 75 = 262.50 and Amelia 32.53 -> 295.03 x 8% = 23.6024 -> 23.60.
    # At 10%: Harry 1.25 h x 75 = 93.75 -> 9.375 -> 9.38. Cost 388.78, markup 32.98, net 421.76.
    charge = sale.charges.row(0, named=True)
    assert (charge["cost_amount"], charge["markup_amount"], charge["net_amount"]) == (
        D("388.78"),
        D("32.98"),
        D("421.76"),
    )


def test_both_sides_agree_and_each_is_its_own_ledger_document() -> None:
    config = _config(EIGHT)
    lines = _us_lines(config)
    sale = _side(config, intercompany_work(lines, config, seller="uk"), SALE, "uk")
    purchase = _side(config, intercompany_work(lines, config, buyer="us"), PURCHASE, "us", GBP_PER_USD)
    assert sides_agree(sale.charges, purchase.charges) == (True, "1 charge(s) agree on both sides")
    invoice, bill = sale.documents.row(0, named=True), purchase.documents.row(0, named=True)
    assert invoice["document_number"] == bill["document_number"] == "BB-UK-202608-IC-US"
    assert invoice["reference"] == bill["reference"] == "IC-UK-US-2026-08"
    assert (invoice["document_type"], invoice["entity"], invoice["contact_name"]) == (
        "ACCREC",
        "uk",
        "Billbridge Demo Inc.",
    )
    assert (bill["document_type"], bill["entity"], bill["contact_name"]) == (
        "ACCPAY",
        "us",
        "Billbridge Demo Ltd",
    )
    # The buyer books a GBP bill in its USD ledger at GBP per USD; the seller's invoice is in its base.
    assert (invoice["currency"], invoice["base_currency"], invoice["currency_rate"]) == ("GBP", "GBP", D(1))
    assert (bill["currency"], bill["base_currency"], bill["currency_rate"]) == ("GBP", "USD", GBP_PER_USD)
    assert invoice["total"] == bill["total"] == D("419.88")
    assert invoice["document_date"] == bill["document_date"] == date(2026, 8, 31)
    assert invoice["due_date"] == bill["due_date"] == date(2026, 9, 30)  # the seller's 30 days
    assert set(sale.document_lines["account_code"]) == {"260"}
    assert set(purchase.document_lines["account_code"]) == {"310"}
    assert set(sale.document_lines["tax_type"]) == {"ZERORATEDOUTPUT"}
    assert set(purchase.document_lines["tax_type"]) == {"NONE"}
    assert sale.documents.schema == DOCUMENT_HEADER_SCHEMA
    assert sale.document_lines.schema == DOCUMENT_LINE_SCHEMA
    assert purchase.documents.schema == DOCUMENT_HEADER_SCHEMA
    # Line for line the same amounts on both sides.
    amounts = ["line_no", "description", "quantity", "unit_amount", "line_amount"]
    assert sale.document_lines.select(amounts).equals(purchase.document_lines.select(amounts))


def test_sides_disagree_is_reported() -> None:
    config = _config(EIGHT)
    lines = _us_lines(config)
    sale = _side(config, intercompany_work(lines, config, seller="uk"), SALE, "uk")
    fewer = intercompany_work(lines.filter(pl.col("source_id") != 4), config, buyer="us")
    purchase = _side(config, fewer, PURCHASE, "us", GBP_PER_USD)
    assert sides_agree(sale.charges, purchase.charges) == (False, "sides disagree for IC-UK-US-2026-08")


def test_the_seller_normalizes_its_peoples_time_as_the_buyer_does() -> None:
    """The seller sees only raw records (raw.intercompany_time_entries); bad ones are left out as the buyer quarantines them."""
    config = _config(EIGHT)
    too_long = _entry(9, HARRY, 25, 75.0)  # the buyer quarantines it (hours_out_of_range)
    elsewhere = raw_frame([*ENTRIES, too_long], entity="uk").with_columns(pl.lit("us").alias("billed_by"))
    seen_by_seller = seller_work(elsewhere, DIRECTORY, "uk", config, FX)
    buyer_lines = normalize_lines(
        raw_frame([*ENTRIES, too_long]), raw_frame([]), DIRECTORY, config.entity("us"), config, FX, "r"
    ).lines
    seen_by_buyer = intercompany_work(buyer_lines, config, buyer="us")
    assert sorted(seen_by_seller["source_id"]) == sorted(seen_by_buyer["source_id"]) == [1, 2, 3, 4]
    sale = _side(config, seen_by_seller, SALE, "uk")
    purchase = _side(config, seen_by_buyer, PURCHASE, "us", GBP_PER_USD)
    assert sides_agree(sale.charges, purchase.charges)[0]


def test_held_time_is_the_time_the_buyer_normalizes() -> None:
    """The seller's shared judgement gives the buyer's own time lines, column for column, without pricing."""
    config = _config(EIGHT)
    bad = [
        _entry(9, HARRY, 25, 75.0),
        _entry(10, AMELIA, 1, 65.05, project=6999),
    ]  # out of range; unknown project
    raw = raw_frame([*ENTRIES, *bad])
    held = held_time(raw, DIRECTORY, Judging(config.entity("us"), config, FX))
    buyer = normalize_lines(raw, raw_frame([]), DIRECTORY, config.entity("us"), config, FX, "r")
    assert sorted(buyer.quarantine["source_id"]) == [9, 10]
    assert held.sort("line_id").equals(buyer.lines.select(TRACE_COLUMNS).sort("line_id"))


def test_no_intercompany_work_gives_empty_frames_of_the_right_shape() -> None:
    config = _config(EIGHT)
    work = intercompany_work(_us_lines(config, [ENTRIES[4]]), config, seller="uk")
    result = _side(config, work, SALE, "uk")
    assert result.charges.height == result.documents.height == 0
    assert result.documents.schema == DOCUMENT_HEADER_SCHEMA
    assert charges_are_consistent(result) == (True, "no intercompany charges")


def test_reference_and_number_and_tax_code_resolution() -> None:
    assert charge_reference("uk", "us", "2026-10") == "IC-UK-US-2026-10"
    assert charge_document_number("uk", "us", "2026-10") == "BB-UK-202610-IC-US"
    config = BASE.model_copy(
        update={"mapping": BASE.mapping.model_copy(update={"intercompany": IntercompanyPolicy()})}
    )
    assert intercompany_tax(config, "us", SALE) == ("NONE", D(0))  # its default code is 0%
    assert intercompany_tax(config, "uk", SALE) == ("EXEMPTOUTPUT", D(0))  # first 0% code by name
    with pytest.raises(ValueError, match=r"intercompany.entities\[entity=uk\].sale_tax_type"):
        no_zero = config.model_copy(
            update={
                "entities": [
                    e.model_copy(update={"tax_codes": {}}) if e.id == "uk" else e for e in config.entities
                ]
            }
        )
        intercompany_tax(no_zero, "uk", SALE)


def test_bad_intercompany_configuration_is_refused_at_load(tmp_path: Path) -> None:
    mapping = (DEFAULT_CONFIG_PATH.parent / "mapping.yaml").read_text()
    mapping = mapping[: mapping.index("intercompany:")] + (
        "intercompany:\n"
        "  markups:\n"
        '    - { id: A, seller: uk, buyer: us, markup_percent: "8", effective_from: 2026-01-01 }\n'
        '    - { id: B, seller: uk, buyer: us, markup_percent: "9", effective_from: 2026-06-01 }\n'
        '    - { id: A, seller: de, buyer: us, markup_percent: "5" }\n'
        "  entities:\n"
        "    - { entity: us, sale_tax_type: NONE }\n"
        "    - { entity: us }\n"
    )
    (tmp_path / "mapping.yaml").write_text(mapping)
    config = tmp_path / "billbridge.yaml"
    config.write_text(DEFAULT_CONFIG_PATH.read_text())
    with pytest.raises(ConfigurationError) as err:
        load_config(config)
    message = str(err.value)
    assert str(tmp_path / "mapping.yaml") in message
    assert "intercompany markup id 'A' is used twice" in message
    assert "intercompany markups 'A' and 'B' both cover uk->us on overlapping dates" in message
    assert "intercompany accounts for entity 'us' are given twice" in message

    mapping = mapping[: mapping.index("intercompany:")] + (
        "intercompany:\n"
        "  markups:\n"
        '    - { id: MARS, seller: mars, buyer: us, markup_percent: "8" }\n'
        "  entities:\n"
        "    - { entity: uk, sale_tax_type: OUTPUT9 }\n"
    )
    (tmp_path / "mapping.yaml").write_text(mapping)
    with pytest.raises(ConfigurationError) as err:
        load_config(config)
    message = str(err.value)
    assert str(config) in message
    assert "intercompany markup 'MARS' names unknown seller 'mars'" in message
    assert (
        "intercompany.entities uk.sale_tax_type: tax code 'OUTPUT9' does not exist for entity 'uk'" in message
    )
    with pytest.raises(ValueError, match="seller and buyer are the same entity 'us'"):
        IntercompanyMarkup(id="SELF", seller="us", buyer="us", markup_percent=D(1))
