"""The matching ladder on small hand-made ledgers: each rung, each anomaly, each outcome."""

from __future__ import annotations

from decimal import Decimal as D
from pathlib import Path

import polars as pl
import pytest

from resources.bank_statements_rules import DEFAULT_RULES_PATH, load_reconciliation_rules
from rules.reconciliation.frames import BANK_LINE_SCHEMA, OPEN_ITEM_SCHEMA
from rules.reconciliation.ladder import match_lines
from rules.reconciliation.rule_file import ReconciliationRules
from tests.factories import bank_line, open_item


@pytest.fixture(scope="module")
def rules() -> ReconciliationRules:
    return load_reconciliation_rules(Path(DEFAULT_RULES_PATH))


_item, _line = open_item, bank_line


ITEMS = [
    _item("a", "BB-UK-202608-5101-GBP", "Initech Ltd", "1200.00"),
    _item("b", "BB-UK-202608-5102-GBP", "Umbrella plc", "800.00"),
    _item("c", "BB-UK-202607-5102-GBP", "Umbrella plc", "450.00"),
    _item("d", "BB-UK-202606-5101-GBP", "Initech Ltd", "990.00", amount_due=D(0), status="PAID"),
    _item("e", "BB-UK-202608-5103-GBP", "Hooli Ltd", "300.00"),
    _item("f", "BB-UK-202607-5103-GBP", "Hooli Ltd", "300.00"),
]


def _decide(lines: list[dict[str, object]], rules: ReconciliationRules) -> dict[str, dict[str, object]]:
    frame = match_lines(pl.DataFrame(lines, schema=BANK_LINE_SCHEMA), pl.DataFrame(ITEMS, schema=OPEN_ITEM_SCHEMA),
                        rules, "uk")  # fmt: skip
    return {row["line_id"]: row for row in frame.iter_rows(named=True)}


def test_exact_number_and_amount_is_auto_accepted_with_every_component(rules: ReconciliationRules) -> None:
    d = _decide([_line("1", "1200.00", "INITECH LIMITED", "INV BB-UK-202608-5101-GBP")], rules)["1"]
    assert (d["status"], d["item_ids"], d["rung"]) == ("auto_accepted", ["a"], "reference")
    assert (d["reference_score"], d["amount_score"], d["party_score"], d["date_score"]) == (
        1.0,
        1.0,
        1.0,
        1.0,
    )
    assert d["confidence"] == 1.0


def test_a_typo_in_the_number_still_finds_the_invoice(rules: ReconciliationRules) -> None:
    # "510" for "5101": one character missing. 0.4 x 0.8 + 0.3 + 0.2 + 0.1 = 0.92.
    d = _decide([_line("1", "1200.00", "Initech", "BB-UK-202608-510-GBP")], rules)["1"]
    assert (d["status"], d["item_ids"], d["confidence"]) == ("auto_accepted", ["a"], 0.92)


def test_name_only_with_the_exact_amount_is_proposed_not_accepted(rules: ReconciliationRules) -> None:
    # 0 + 0.3 + 0.2 + 0.1 = 0.6: above propose (0.55), below auto-accept (0.85).
    d = _decide([_line("1", "1200.00", "INITECH", "THANK YOU")], rules)["1"]
    assert (d["status"], d["item_ids"], d["confidence"]) == ("proposed", ["a"], 0.6)


def test_one_payment_quoting_two_invoices_pays_both(rules: ReconciliationRules) -> None:
    d = _decide([_line("1", "1250.00", "Umbrella", "BB-UK-202608-5102-GBP BB-UK-202607-5102-GBP")], rules)[
        "1"
    ]
    assert (d["status"], sorted(d["item_ids"]), d["rung"]) == ("auto_accepted", ["b", "c"], "references")


def test_a_combination_of_the_payers_invoices_is_found_without_numbers(rules: ReconciliationRules) -> None:
    d = _decide([_line("1", "1250.00", "UMBRELLA PLC", "PAYMENT")], rules)["1"]
    assert (d["status"], sorted(d["item_ids"]), d["rung"]) == ("proposed", ["b", "c"], "combination")


def test_the_same_payment_twice_is_a_duplicate_exception(rules: ReconciliationRules) -> None:
    lines = [_line("1", "800.00", "Umbrella", "BB-UK-202608-5102-GBP", day=20),
             _line("2", "800.00", "Umbrella", "BB-UK-202608-5102-GBP", day=22)]  # fmt: skip
    decided = _decide(lines, rules)
    assert decided["1"]["status"] == "auto_accepted"
    assert (decided["2"]["status"], decided["2"]["anomalies"]) == ("exception", ["duplicate_payment"])


def test_payment_to_an_invoice_already_paid_is_an_exception(rules: ReconciliationRules) -> None:
    d = _decide([_line("1", "500.00", "Initech", "BB-UK-202606-5101-GBP")], rules)["1"]
    assert (d["status"], d["anomalies"], d["item_ids"]) == ("exception", ["closed_invoice"], ["d"])


def test_overpayment_leaves_unapplied_cash_and_goes_to_a_person(rules: ReconciliationRules) -> None:
    d = _decide([_line("1", "1500.00", "Initech", "BB-UK-202608-5101-GBP")], rules)["1"]
    assert (d["status"], d["anomalies"], d["unapplied"]) == ("proposed", ["overpayment"], D("300.00"))


def test_two_invoices_equally_good_are_ambiguous_and_never_auto_accepted(rules: ReconciliationRules) -> None:
    d = _decide([_line("1", "300.00", "HOOLI", "THANKS")], rules)["1"]
    assert d["status"] == "proposed" and "ambiguous" in d["anomalies"]


def test_a_stranger_is_an_unknown_payer_exception(rules: ReconciliationRules) -> None:
    d = _decide([_line("1", "77.00", "NOBODY WE KNOW SA", "REF 99")], rules)["1"]
    assert (d["status"], d["anomalies"], d["item_ids"]) == ("exception", ["unknown_payer"], [])


def test_second_partial_payment_meets_what_is_left(rules: ReconciliationRules) -> None:
    # 1,200.00 = 500.00 + 700.00; the first is partial (proposed), so it reserves nothing.
    lines = [_line("1", "500.00", "Initech", "BB-UK-202608-5101-GBP", day=10),
             _line("2", "700.00", "Initech", "BB-UK-202608-5101-GBP", day=25)]  # fmt: skip
    decided = _decide(lines, rules)
    assert (decided["1"]["status"], decided["1"]["still_due"]) == ("proposed", D("700.00"))
    assert decided["2"]["status"] == "proposed"
