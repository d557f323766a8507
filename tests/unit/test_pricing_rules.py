"""Pricing rules from the mapping document, as a table of hand-computed cases.

Each case: the rules in force, the entries, and the billed quantity, unit price and line
amount written out by hand (never recomputed by the code under test).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from pydantic import ValidationError

from checks.schemas import BillableLines, InvoiceDraftLines, validate
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.billing.drafting import BillingRules, DraftingContext, draft_invoices
from rules.config_types import ConfigurationError
from rules.invariants import lines_sum_to_totals
from rules.mapping_document import MappingDocument
from rules.normalizing import normalize_lines
from rules.rule_sets import Discount, ExpenseMarkup, RateRule, TaxOverride, TimeRounding
from rules.settings import BillbridgeConfig
from tests.factories import directory, expense, raw_frame, time_entry
from tests.unit.test_drafting import AUGUST, RATES

BASE = load_config(DEFAULT_CONFIG_PATH)


def _config(**mapping: Any) -> BillbridgeConfig:
    return BASE.model_copy(update={"mapping": BASE.mapping.model_copy(update=mapping)})


def _rate(rule_id: str, rate: str, currency: str = "USD", **scope: Any) -> RateRule:
    return RateRule(id=rule_id, rate=D(rate), currency=currency, **scope)


def _normalize(
    config: BillbridgeConfig, entries: list[dict[str, Any]], expenses: list[dict[str, Any]] | None = None
):  # type: ignore[no-untyped-def]
    d = directory({6001: True, 6003: True}, {5001: "USD", 5003: "USD"})
    result = normalize_lines(
        raw_frame(entries), raw_frame(expenses or []), d, config.entity("us"), config, RATES, "run"
    )
    validate(BillableLines, result.lines)
    return result


ALL_LEVELS = [
    _rate("E0", "100", entity="us"),
    _rate("C1", "120", client=5001),
    _rate("P2", "130", project=6001),
    _rate("PP3", "140", project=6001, person=8001),
    _rate("TP4", "145", project=6001, task=7001),
    _rate("PTP5", "160", project=6001, task=7001, person=8001),
    _rate("UK0", "999", entity="uk"),
]

# (case, rules, entry kwargs, expected quantity, unit price, amount, rate_source)
RATE_CASES = [
    ("no rule: the PM rate", [], {}, "1.5", "150", "225.00", "time_entry.billable_rate"),
    ("entity default", ALL_LEVELS[:1], {}, "1.5", "100", "150.00", "rule E0 (entity default)"),
    ("client beats entity", ALL_LEVELS[:2], {}, "1.5", "120", "180.00", "rule C1 (client)"),
    ("project beats client", ALL_LEVELS[:3], {}, "1.5", "130", "195.00", "rule P2 (project)"),
    ("person on project beats project", ALL_LEVELS[:4], {}, "1.5", "140", "210.00", "rule PP3 (person on project)"),
    ("task on project beats person on project", ALL_LEVELS[:5], {}, "1.5", "145", "217.50", "rule TP4 (task on project)"),
    ("person on task on project wins", ALL_LEVELS, {}, "1.5", "160", "240.00", "rule PTP5 (person on task on project)"),
    ("another task falls back a level", ALL_LEVELS, {"task": 7002}, "1.5", "140", "210.00", "rule PP3 (person on project)"),
    ("another entity's default never applies", ALL_LEVELS[6:], {}, "1.5", "150", "225.00", "time_entry.billable_rate"),
    ("a rule prices an entry with no PM rate", ALL_LEVELS[:3], {"rate": None}, "1.5", "130", "195.00", "rule P2 (project)"),
    (
        "expired project rule: client rule applies",
        [ALL_LEVELS[1], _rate("P2old", "130", project=6001, effective_to=date(2026, 8, 2))],
        {}, "1.5", "120", "180.00", "rule C1 (client)",
    ),
    (
        "future project rule not yet in force",
        [_rate("P2new", "130", project=6001, effective_from=date(2026, 9, 1))],
        {}, "1.5", "150", "225.00", "time_entry.billable_rate",
    ),
    (
        "50% of travel at its own rate: 3 h -> 1.5 h x 75",
        [_rate("TRAVEL", "75", project=6001, task=7004, share_percent=D(50))],
        {"task": 7004, "hours": 3}, "1.5", "75", "112.50", "rule TRAVEL (task on project)",
    ),
    (
        "33.33% share: 1 h -> 0.3333 h x 150 = 49.995 -> 50.00",
        [_rate("THIRD", "150", project=6001, share_percent=D("33.33"))],
        {"hours": 1}, "0.3333", "150", "50.00", "rule THIRD (project)",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rules", "entry", "quantity", "price", "amount", "source"),
    [case[1:] for case in RATE_CASES],
    ids=[case[0] for case in RATE_CASES],
)
def test_rate_resolution(
    rules: list[RateRule], entry: dict[str, Any], quantity: str, price: str, amount: str, source: str
) -> None:
    kwargs = {"hours": 1.5, "rate": 150, **entry}
    hours, rate = kwargs.pop("hours"), kwargs.pop("rate")
    result = _normalize(_config(rates=rules), [time_entry(1, hours, rate, **kwargs)])
    line = result.lines.row(0, named=True)
    assert (line["quantity"], line["unit_price"], line["amount_txn"]) == (D(quantity), D(price), D(amount))
    assert line["rate_source"] == source
    assert line["hours"] == D(str(hours))


def test_rule_in_another_currency_is_quarantined() -> None:
    result = _normalize(_config(rates=[_rate("GBP", "100", "GBP", project=6001)]), [time_entry(1, 1, 150)])
    assert result.quarantine["reason"].to_list() == ["rate_currency_mismatch"]


ROUNDING_CASES = [
    ("15 min per entry: 1.1 h -> 1.25 h", 15, 0, 1.1, "1.25", "187.50"),
    ("6 min per entry: 0.33 h -> 0.4 h", 6, 0, 0.33, "0.4", "60.00"),
    ("exact multiple unchanged: 0.75 h", 15, 0, 0.75, "0.75", "112.50"),
    ("minimum 30 min: 0.1 h -> 0.5 h", 15, 30, 0.1, "0.5", "75.00"),
    ("no increment, minimum only: 0.05 h -> 0.25 h", 0, 15, 0.05, "0.25", "37.50"),
    ("30 min per entry: 0.51 h -> 1 h", 30, 0, 0.51, "1", "150.00"),
]


@pytest.mark.parametrize(
    ("increment", "minimum", "hours", "quantity", "amount"),
    [c[1:] for c in ROUNDING_CASES],
    ids=[c[0] for c in ROUNDING_CASES],
)
def test_time_rounding_per_entry(
    increment: int, minimum: int, hours: float, quantity: str, amount: str
) -> None:
    rounding = TimeRounding(id="R", client=5001, increment_minutes=increment, minimum_minutes=minimum)  # type: ignore[arg-type]
    line = _normalize(_config(time_rounding=[rounding]), [time_entry(1, hours, 150)]).lines.row(0, named=True)
    assert (line["quantity"], line["amount_txn"], line["rounding_rule_id"]) == (D(quantity), D(amount), "R")


def test_project_rounding_beats_client_rounding() -> None:
    rules = [
        TimeRounding(id="CLIENT", client=5001, increment_minutes=30),
        TimeRounding(id="PROJECT", project=6001, increment_minutes=6),
    ]
    line = _normalize(_config(time_rounding=rules), [time_entry(1, 0.33, 150)]).lines.row(0, named=True)
    assert (line["quantity"], line["rounding_rule_id"]) == (D("0.4"), "PROJECT")


def test_time_rounding_per_invoice_line() -> None:
    # Two entries of 0.2 h at 100: each stays 0.2 h on the line; the invoice line's 0.4 h rounds up to 0.5 h.
    config = _config(
        time_rounding=[TimeRounding(id="L30", client=5001, increment_minutes=30, apply="per_line")]
    )
    lines = _normalize(config, [time_entry(1, 0.2, 100), time_entry(2, 0.2, 100)]).lines
    assert lines["quantity"].to_list() == [D("0.2"), D("0.2")]
    drafts = draft_invoices(
        lines, DraftingContext(config.entity("us"), *AUGUST, RATES, "run"), BillingRules.of(config)
    )
    validate(InvoiceDraftLines, drafts.lines)
    assert drafts.lines.select("quantity", "line_amount").rows() == [(D("0.5"), D("50.00"))]


def test_drafting_finds_invoice_line_rounding_in_the_rule_set() -> None:
    # The normalized lines carry no rounding instruction (docs/decisions/0019): two entries of 0.2 h at
    # 100 stay 0.2 h each. Drafting applies the rule set's per_line rule to the line's 0.4 h (-> 0.5 h,
    # 50.00) and leaves a per_entry rule to the normalizing step that owns it (0.4 h, 40.00).
    config = _config()
    lines = _normalize(config, [time_entry(1, 0.2, 100), time_entry(2, 0.2, 100)]).lines
    assert not {"line_increment_minutes", "line_minimum_minutes"} & set(lines.columns)
    context = DraftingContext(config.entity("us"), *AUGUST, RATES, "run")
    for apply, quantity, amount in (("per_line", "0.5", "50.00"), ("per_entry", "0.4", "40.00")):
        rule = TimeRounding(id="R30", client=5001, increment_minutes=30, apply=apply)  # type: ignore[arg-type]
        rules = BillingRules(config.mapping.field_mapping, config.rule_set_version, time_rounding=[rule])
        drafts = draft_invoices(lines, context, rules)
        assert drafts.lines.select("quantity", "line_amount").rows() == [(D(quantity), D(amount))], apply


MARKUP_CASES = [
    ("10% on 84.20 = 92.62", [ExpenseMarkup(id="M10", client=5001, markup_percent=D(10))], 84.2, "92.62", "M10"),
    ("12.5% on 0.04 = 0.045 -> 0.05", [ExpenseMarkup(id="M", client=5001, markup_percent=D("12.5"))], 0.04, "0.05", "M"),
    ("no markup: at cost", [], 84.2, "84.20", None),
    (
        "project markup beats client markup: 5% on 200 = 210",
        [ExpenseMarkup(id="C", client=5001, markup_percent=D(20)), ExpenseMarkup(id="P", project=6001, markup_percent=D(5))],
        200, "210.00", "P",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("rules", "cost", "amount", "rule_id"), [c[1:] for c in MARKUP_CASES], ids=[c[0] for c in MARKUP_CASES]
)
def test_expense_markup(rules: list[ExpenseMarkup], cost: float, amount: str, rule_id: str | None) -> None:
    line = _normalize(_config(expense_markups=rules), [], [expense(10, cost)]).lines.row(0, named=True)
    assert (line["amount_txn"], line["markup_rule_id"]) == (D(amount), rule_id)
    assert line["amount_cost_base"] == D(str(cost)).quantize(D("0.01"))  # the cost itself is untouched


def test_contradicting_rules_are_all_listed() -> None:
    with pytest.raises(ValidationError) as err:
        MappingDocument(
            version="x",
            clients=[],
            rates=[
                _rate("A", "100", project=6001),
                _rate("B", "110", project=6001, effective_from=date(2026, 6, 1)),
                _rate("C", "90", client=5001),
                _rate("D", "95", client=5001, effective_to=date(2026, 12, 31)),
                _rate("E", "95", client=5003, effective_to=date(2026, 7, 31)),
                _rate("F", "99", client=5003, effective_from=date(2026, 8, 1)),  # adjacent, not overlapping
            ],
        )
    message = str(err.value)
    assert "'A' and 'B'" in message and "'C' and 'D'" in message
    assert "'E' and 'F'" not in message


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"id": "X", "rate": "1", "project": 1}, "currency"),
        ({"id": "X", "rate": "1", "currency": "USD", "task": 7}, "scoped to a project"),
        ({"id": "X", "rate": "1", "currency": "USD"}, "needs a scope"),
        ({"id": "X", "rate": "-1", "currency": "USD", "project": 1}, "greater than or equal to 0"),
        (
            {"id": "X", "rate": "1", "currency": "USD", "project": 1, "share_percent": "150"},
            "less than or equal to 100",
        ),
    ],
)
def test_bad_rules_are_refused(fields: dict[str, Any], expected: str) -> None:
    with pytest.raises(ValidationError, match=expected):
        RateRule.model_validate(fields)


def test_every_line_carries_rule_set_version_and_rule() -> None:
    config = _config(rates=ALL_LEVELS[:3])
    lines = _normalize(
        config, [time_entry(1, 1, 150), time_entry(2, 1, 150, client=5003, project=6003)]
    ).lines
    assert set(lines["rule_set_version"]) == {config.rule_set_version}
    assert lines.sort("line_id")["rate_rule_id"].to_list() == ["P2", "E0"]


def test_money_columns_are_never_floats() -> None:
    lines = _normalize(_config(rates=ALL_LEVELS), [time_entry(1, 1, 150)], [expense(2, 10)]).lines
    floats = [name for name, dtype in lines.schema.items() if dtype in (pl.Float32, pl.Float64)]
    assert floats == []


def _uk(line_amount_types: str = "Exclusive", overrides: list[TaxOverride] | None = None) -> BillbridgeConfig:
    entities = [
        e.model_copy(update={"line_amount_types": line_amount_types}) if e.id == "uk" else e
        for e in BASE.entities
    ]
    return BASE.model_copy(
        update={
            "entities": entities,
            "mapping": BASE.mapping.model_copy(update={"tax_overrides": overrides or []}),
        }
    )


def _uk_lines(config: BillbridgeConfig, entries: list[dict[str, Any]]) -> pl.DataFrame:
    d = directory({6101: True}, {5101: "GBP"})
    return normalize_lines(
        raw_frame(entries, "uk"), raw_frame([], "uk"), d, config.entity("uk"), config, RATES, "r"
    ).lines


def _gbp(entry_id: int, hours: float, rate: float, task: int = 7001) -> dict[str, Any]:
    return time_entry(entry_id, hours, rate, client=5101, project=6101, task=task, currency="GBP")


TAX_CASES = [
    # (case, line amount types, overrides, entries, line taxes, subtotal, tax, total)
    ("exclusive 20%: 100.00 + 20.00", "Exclusive", [], [_gbp(1, 1, 100)], ["20.00"], "100.00", "20.00", "120.00"),
    ("exclusive, tax per line half-up: 48.13 -> 9.63", "Exclusive", [], [_gbp(1, 0.35, 137.5)], ["9.63"], "48.13", "9.63", "57.76"),
    ("inclusive 20%: 120.00 holds 20.00", "Inclusive", [], [_gbp(1, 1, 120)], ["20.00"], "100.00", "20.00", "120.00"),
    ("inclusive: 48.13 x 20/120 = 8.0216 -> 8.02", "Inclusive", [], [_gbp(1, 0.35, 137.5)], ["8.02"], "40.11", "8.02", "48.13"),
    (
        "inclusive, two lines taxed separately: 10.01 -> 1.67 (1.668), 10.01 -> 1.67",
        "Inclusive", [], [_gbp(1, 1, 10.01), _gbp(2, 1, 10.01, task=7002)], ["1.67", "1.67"], "16.68", "3.34", "20.02",
    ),
    (
        "exempt client: no tax",
        "Exclusive", [TaxOverride(id="X", client=5101, treatment="exempt", tax_type="EXEMPTOUTPUT")],
        [_gbp(1, 2, 100)], ["0"], "200.00", "0", "200.00",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("amount_types", "overrides", "entries", "line_taxes", "subtotal", "tax", "total"),
    [c[1:] for c in TAX_CASES],
    ids=[c[0] for c in TAX_CASES],
)
def test_tax(
    amount_types: str, overrides: list[TaxOverride], entries: list[dict[str, Any]], line_taxes: list[str],
    subtotal: str, tax: str, total: str,
) -> None:  # fmt: skip
    config = _uk(amount_types, overrides)
    drafts = draft_invoices(
        _uk_lines(config, entries),
        DraftingContext(config.entity("uk"), *AUGUST, RATES, "r"),
        BillingRules.of(config),
    )
    validate(InvoiceDraftLines, drafts.lines)
    assert drafts.lines.sort("line_no")["tax_amount"].to_list() == [D(t) for t in line_taxes]
    header = drafts.invoices.row(0, named=True)
    assert (header["subtotal"], header["total_tax"], header["total"]) == (D(subtotal), D(tax), D(total))
    assert header["line_amount_types"] == amount_types
    assert lines_sum_to_totals(drafts.invoices, drafts.lines)[0]
    if overrides:
        assert set(drafts.lines["tax_type"]) == {overrides[0].tax_type}


def test_tax_overrides_are_checked_at_load(tmp_path: Path) -> None:
    config_text = DEFAULT_CONFIG_PATH.read_text()
    mapping = (DEFAULT_CONFIG_PATH.parent / "mapping.yaml").read_text() + ("\n# bad\n")
    mapping = mapping.replace(
        "  - { id: WAYNE-EXPORT, client: 5202, treatment: zero_rated, tax_type: ZERORATEDOUTPUT }",
        "  - { id: BAD-CODE, client: 5101, treatment: exempt, tax_type: NOSUCHCODE }\n"
        "  - { id: BAD-RC, client: 5201, treatment: reverse_charge, tax_type: OUTPUT3 }\n"
        "  - { id: UNMAPPED, client: 4242, treatment: exempt, tax_type: EXEMPTOUTPUT }",
    )
    (tmp_path / "billbridge.yaml").write_text(config_text)
    (tmp_path / "mapping.yaml").write_text(mapping)
    with pytest.raises(ConfigurationError) as err:
        load_config(tmp_path / "billbridge.yaml")
    message = str(err.value)
    assert "'NOSUCHCODE' does not exist for entity 'uk'" in message
    assert "reverse_charge must use a 0% tax code" in message
    assert "client 4242 is not in the mapping" in message


# Work: 1.60 h x 150 = 240.00 (task 7001) and 0.70 h x 137.50 = 96.25 (task 7002); expense 84.20.
WORK = [time_entry(1, 1.25, 150), time_entry(2, 0.35, 150), time_entry(3, 0.7, 137.5, task=7002)]

DISCOUNT_CASES = [
    (
        "invoice-level 10% on time: 336.25 x 10% = 33.625 -> 33.63",
        [Discount(id="TEN", client=5001, kind="percent", value=D(10))],
        [("Discount 10.0000% (TEN)", "-33.63")], "386.82",
    ),
    (
        "line-level 5%: 240.00 -> 12.00, 96.25 -> 4.8125 -> 4.81",
        [Discount(id="FIVE", project=6001, kind="percent", value=D(5), level="line")],
        [("Discount 5.0000% (FIVE): Project 6001: Task 7001", "-12.00"),
         ("Discount 5.0000% (FIVE): Project 6001: Task 7002", "-4.81")], "403.64",
    ),
    (
        "fixed 50.00 per invoice",
        [Discount(id="FIFTY", client=5001, kind="fixed", value=D(50))],
        [("Discount 50.0000 (FIFTY)", "-50.00")], "370.45",
    ),
    (
        "fixed discount capped at what it discounts: 500 on 336.25 time",
        [Discount(id="BIG", client=5001, kind="fixed", value=D(500))],
        [("Discount 500.0000 (BIG)", "-336.25")], "84.20",
    ),
    (
        "applies to expenses too when told: 10% of 420.45 = 42.045 -> 42.05",
        [Discount(id="ALL", client=5001, kind="percent", value=D(10), applies_to="all")],
        [("Discount 10.0000% (ALL)", "-42.05")], "378.40",
    ),
    (
        "project discount beats the client's for that project's lines",
        [Discount(id="C", client=5001, kind="percent", value=D(50), level="line"),
         Discount(id="P", project=6001, kind="percent", value=D(1), level="line")],
        [("Discount 1.0000% (P): Project 6001: Task 7001", "-2.40"),
         ("Discount 1.0000% (P): Project 6001: Task 7002", "-0.96")], "417.09",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("discounts", "expected", "total"), [c[1:] for c in DISCOUNT_CASES], ids=[c[0] for c in DISCOUNT_CASES]
)
def test_discounts_are_shown_as_their_own_lines(
    discounts: list[Discount], expected: list[tuple[str, str]], total: str
) -> None:
    config = _config(discounts=discounts)
    lines = _normalize(config, WORK, [expense(10, 84.2)]).lines
    drafts = draft_invoices(
        lines, DraftingContext(config.entity("us"), *AUGUST, RATES, "r"), BillingRules.of(config)
    )
    validate(InvoiceDraftLines, drafts.lines)
    assert lines_sum_to_totals(drafts.invoices, drafts.lines)[0]
    shown = drafts.lines.filter(pl.col("source_kind") == "discount").sort("line_no")
    assert [(d, a) for d, a in shown.select("description", "line_amount").rows()] == [
        (d, D(a)) for d, a in expected
    ]
    assert drafts.invoices["total"].to_list() == [D(total)]
    assert drafts.sources.height == 4  # discounts bill no entry of their own


def test_discount_lines_carry_tax() -> None:
    # UK 20%: 100.00 less 10% = 90.00; tax 20.00 - 2.00 = 18.00; total 108.00.
    config = BASE.model_copy(update={"mapping": BASE.mapping.model_copy(update={"discounts": [
        Discount(id="TEN", client=5101, kind="percent", value=D(10))]})})  # fmt: skip
    drafts = draft_invoices(
        _uk_lines(config, [_gbp(1, 1, 100)]), DraftingContext(config.entity("uk"), *AUGUST, RATES, "r"),
        BillingRules.of(config),
    )  # fmt: skip
    validate(InvoiceDraftLines, drafts.lines)
    header = drafts.invoices.row(0, named=True)
    assert (header["subtotal"], header["total_tax"], header["total"]) == (D("90.00"), D("18.00"), D("108.00"))
