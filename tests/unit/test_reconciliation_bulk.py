"""The ladder's bulk path decides exactly as the sequential ladder does, line by line, on the labelled set.

The set (sandbox/bank_statements.py, seed 15) holds every kind of noise: partial payments meeting
the rest of their invoice, duplicates meeting an invoice already paid, fees, write-offs, foreign
currency, refunds, several invoices in one payment, so lines decided in bulk and lines decided in
order share items, and any order the bulk path got wrong shows up as a different decision.
"""

from __future__ import annotations

import gc
from dataclasses import replace
from decimal import Decimal as D

import polars as pl
import pytest

from resources.bank_statements_rules import load_reconciliation_rules
from rules.reconciliation.bulk import decide_in_bulk, order_free
from rules.reconciliation.differences import KNOWN_FEE
from rules.reconciliation.frames import BANK_LINE_SCHEMA, OPEN_ITEM_SCHEMA
from rules.reconciliation.ladder import Ladder, match_lines
from rules.reconciliation.rule_file import ReconciliationRules, ScoreWeights
from sandbox.bank_statements import LabelledSet, generate_labelled_set
from tests.factories import bank_line, open_item

COMPARED = ["line_id", "status", "item_ids", "item_numbers", "rung", "confidence", "anomalies", "explanation",
            "alternatives", "received", "expected", "fee", "write_off", "fx_difference", "unapplied",
            "still_due", "settled_in_item_currency", "settlement_reason"]  # fmt: skip


@pytest.fixture(scope="module")
def labelled() -> LabelledSet:
    return generate_labelled_set(seed=15, invoices=3000)


@pytest.fixture(scope="module")
def rules() -> ReconciliationRules:
    return load_reconciliation_rules()


def test_bulk_and_sequential_decide_every_line_alike(
    labelled: LabelledSet, rules: ReconciliationRules
) -> None:
    sequential = match_lines(labelled.lines, labelled.items, rules, "uk", in_bulk=False)
    bulk = match_lines(labelled.lines, labelled.items, rules, "uk")

    assert bulk.height == sequential.height == labelled.lines.height >= 3000
    assert bulk["line_id"].to_list() == sequential["line_id"].to_list()  # booking order, both
    different = bulk.select(COMPARED).join(
        sequential.select(COMPARED), on=COMPARED, how="anti", nulls_equal=True
    )
    assert different.is_empty(), different.head(5)
    assert bulk.equals(sequential)  # every column, not only the compared ones


def test_the_bulk_path_takes_a_real_share_and_replays_what_it_consumed(
    labelled: LabelledSet, rules: ReconciliationRules
) -> None:
    ladder = Ladder(labelled.lines, labelled.items, rules, "uk")
    decided = decide_in_bulk(ladder.lines, labelled.items, ladder.pool, rules, "uk")

    assert decided.rows.height > labelled.lines.height // 3  # the bulk path is not vacuous
    statuses = set(decided.rows["status"])
    assert "auto_accepted" in statuses and statuses <= {"auto_accepted", "proposed", "exception"}
    auto = decided.rows.filter(pl.col("status") == "auto_accepted")
    assert set(decided.consumed) == set(auto["line_id"])
    # A duplicate of a payment decided in bulk still meets an invoice already paid: the consumption
    # was replayed before it in the sequential pass.
    decisions = {d.line_id: d for d in ladder.run(decided)}
    paid_twice = [d for d in decisions.values() if "duplicate_payment" in d.anomalies]
    assert any(d.best is not None and d.best.item_ids[0] in {i for i, _ in decided.consumed.values()}
               for d in paid_twice)  # fmt: skip


def test_rules_that_let_a_line_without_a_number_auto_accept_decide_everything_in_order(
    rules: ReconciliationRules, labelled: LabelledSet
) -> None:
    heavy_amount = ScoreWeights.model_validate({"reference": "0.10", "amount": "0.50", "party": "0.30",
                                                "date": "0.10"})  # fmt: skip
    loose = replace(rules, document=rules.document.model_copy(update={"weights": heavy_amount}))

    # 0.84999 without the number rounds to 0.85 (4 places) and reaches auto-accept, as the ladder computes it.
    rounded_up = ScoreWeights.model_validate({"reference": "0.15001", "amount": "0.49999", "party": "0.25",
                                              "date": "0.10"})  # fmt: skip
    borderline = replace(rules, document=rules.document.model_copy(update={"weights": rounded_up}))

    assert order_free(rules)
    assert not order_free(loose)
    assert not order_free(borderline)
    ladder = Ladder(labelled.lines, labelled.items, loose, "uk")
    assert decide_in_bulk(ladder.lines, labelled.items, ladder.pool, loose, "uk").rows.is_empty()


def _item(item_id: str, number: str, contact: str, due: str, currency: str = "GBP") -> dict[str, object]:
    return open_item(item_id, number, contact, due, currency=currency)


def _line(
    line_id: str, day: int, amount: str, payer: str | None, text: str, **extra: object
) -> dict[str, object]:
    return bank_line(line_id, amount, payer, text, day, **extra)


HAND_MADE_ITEMS = [
    _item("a", "BB-UK-202608-5101-GBP", "Initech Ltd", "1200.00"),
    _item("b", "BB-UK-202608-5222-GBP", "Umbrella plc", "800.00"),
    _item("c", "BB-UK-202608-5333-GBP", "Hooli Ltd", "1000.00"),
    _item("d", "BB-UK-202608-5444-GBP", "Globex Ltd", "500.00"),
    _item("e", "BB-UK-202608-5555-EUR", "Initrode Ltd", "250.00", currency="EUR"),
    _item("f", "BB-UK-202608-5666-GBP", "Stark Ltd", "300.00"),
]
HAND_MADE_LINES = [
    _line("01", 9, "288.00", "Stark Ltd", "BB-UK-202608-5666-GBP"),  # short 12.00: a fee in EUR, not in GBP
    _line("02", 10, "1200.00", "Initech Ltd", "INV BB-UK-202608-5101-GBP"),  # exact, first quoter
    _line("03", 11, "790.00", "Umbrella plc", "BB-UK-202608-5222-GBP"),  # short a known GBP fee, first quoter
    _line("04", 12, "1200.00", "Initech Ltd", "INV BB-UK-202608-5101-GBP"),  # a duplicate of 02
    _line("05", 13, "790.00", "Umbrella plc", "BB-UK-202608-5222-GBP"),  # the fee-short payment again
    _line("06", 14, "400.00", "Hooli Ltd", "BB-UK-202608-5333-GBP"),  # a first partial payment
    _line("07", 15, "600.00", "Hooli Ltd", "BB-UK-202608-5333-GBP"),  # ... and its second part
    _line("08", 16, "490.00", "Globex Ltd", "BB-UK-202608-5444-GBP", charges=D("10.00")),  # charges stated
    _line("09", 17, "238.00", "Initrode Ltd", "BB-UK-202608-5555-EUR", currency="EUR"),  # short the EUR fee
    _line("10", 18, "123.45", "Nobody Known", "thanks"),  # no candidate, unknown payer
    _line("11", 19, "77.00", None, ""),  # no candidate, no payer named
]


def test_widened_bulk_decisions_match_the_sequential_ladder_on_a_hand_made_ledger(
    rules: ReconciliationRules,
) -> None:
    lines = pl.DataFrame(HAND_MADE_LINES, schema=BANK_LINE_SCHEMA)
    items = pl.DataFrame(HAND_MADE_ITEMS, schema=OPEN_ITEM_SCHEMA)
    ladder = Ladder(lines, items, rules, "uk")

    decided = decide_in_bulk(ladder.lines, items, ladder.pool, rules, "uk")
    assert decided.line_ids == {"02", "03", "09", "10", "11"}  # exact, known fee (GBP, EUR), no candidate
    bulk = match_lines(lines, items, rules, "uk")
    assert bulk.equals(match_lines(lines, items, rules, "uk", in_bulk=False))
    d = {row["line_id"]: row for row in bulk.iter_rows(named=True)}
    assert (d["03"]["status"], d["03"]["settlement_reason"], d["03"]["fee"]) == (
        "auto_accepted",
        KNOWN_FEE,
        D(10),
    )
    assert (d["09"]["status"], d["09"]["fee"]) == ("auto_accepted", D(12))
    assert d["01"]["settlement_reason"] != KNOWN_FEE and d["08"]["fee"] == D(10)
    assert "duplicate_payment" in d["04"]["anomalies"] and d["05"]["status"] == "exception"
    # A partial payment is only proposed, so the second part meets the whole invoice again.
    assert (d["06"]["status"], d["06"]["still_due"], d["07"]["still_due"]) == ("proposed", D(600), D(400))
    assert (d["10"]["explanation"], d["10"]["anomalies"], d["11"]["anomalies"]) == (
        "no candidate",
        ["unknown_payer"],
        [],
    )


def test_matching_leaves_the_garbage_collector_as_it_found_it(rules: ReconciliationRules) -> None:
    lines = pl.DataFrame(HAND_MADE_LINES, schema=BANK_LINE_SCHEMA)
    items = pl.DataFrame(HAND_MADE_ITEMS, schema=OPEN_ITEM_SCHEMA)
    assert gc.isenabled()
    match_lines(lines, items, rules, "uk")
    assert gc.isenabled()
    gc.disable()
    try:
        match_lines(lines, items, rules, "uk")
        assert not gc.isenabled()
    finally:
        gc.enable()
