"""Properties of pricing and drafting over generated entries and rule sets (hypothesis, derandomized)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.billing.drafting import BillingRules, DraftingContext, draft_invoices
from rules.billing.retainers import RetainerAccount
from rules.invariants import billed_at_most_once, lines_sum_to_totals
from rules.normalizing import NormalizedResult, normalize_lines
from rules.rounding_rules import MoneyRounding, Retainer, TaxRounding
from rules.rule_sets import RateRule, TimeRounding
from rules.settings import BillbridgeConfig
from tests.factories import directory, raw_frame, time_entry
from tests.unit.test_drafting import AUGUST, RATES

BASE = load_config(DEFAULT_CONFIG_PATH)
HOURS = st.integers(min_value=1, max_value=2400).map(lambda n: Decimal(n) / 100)  # 0.01 .. 24.00
PRICES = st.sampled_from(
    [Decimal("99.99"), Decimal("137.50"), Decimal("150"), Decimal("0.05"), Decimal("1234.5678")]
)
# Days 1-5 of August: the test rates (published 31 July) are at most five days old.
ENTRIES = st.lists(
    st.tuples(
        HOURS, PRICES, st.sampled_from([5001, 5003]), st.sampled_from([7001, 7002, 7004]), st.integers(1, 5)
    ),
    min_size=1,
    max_size=25,
)
SHARES = st.sampled_from([Decimal(100), Decimal(50), Decimal("33.33"), Decimal("12.5")])
INCREMENTS = st.sampled_from([0, 6, 15, 30])


def _config(share: Decimal, increment: int, minimum: int, per_line: bool) -> BillbridgeConfig:
    rates = [
        RateRule(
            id="TRAVEL", project=6001, task=7004, rate=Decimal("80"), currency="USD", share_percent=share
        )
    ]
    rounding = [
        TimeRounding(id="R", client=5003, increment_minutes=increment, minimum_minutes=minimum,  # type: ignore[arg-type]
                     apply="per_line" if per_line else "per_entry")
    ]  # fmt: skip
    return BASE.model_copy(
        update={"mapping": BASE.mapping.model_copy(update={"rates": rates, "time_rounding": rounding})}
    )


def _entries(rows: list[tuple[Decimal, Decimal, int, int, int]]) -> list[dict[str, object]]:
    return [
        time_entry(
            i,
            float(h),
            float(p),
            client=c,
            project=6001 if c == 5001 else 6003,
            task=t,
            day=f"2026-08-{d:02d}",
        )
        for i, (h, p, c, t, d) in enumerate(rows, start=1)
    ]


def _normalized(config: BillbridgeConfig, entries: list[dict[str, object]]) -> NormalizedResult:
    d = directory({6001: True, 6003: True}, {5001: "USD", 5003: "USD"})
    # The UK entity: 20% tax per line, so the tax invariant is exercised too.
    return normalize_lines(raw_frame(entries), raw_frame([]), d, config.entity("uk"), config, RATES, "run")


@settings(derandomize=True, max_examples=40, deadline=None)
@given(ENTRIES, SHARES, INCREMENTS, st.sampled_from([0, 15]), st.booleans())
def test_invoice_totals_are_sums_of_lines_and_units_stay_within_the_rules(
    rows: list[tuple[Decimal, Decimal, int, int, int]],
    share: Decimal,
    increment: int,
    minimum: int,
    per_line: bool,
) -> None:
    config = _config(share, increment, minimum, per_line)
    result = _normalized(config, _entries(rows))
    drafts = draft_invoices(
        result.lines, DraftingContext(config.entity("uk"), *AUGUST, RATES, "run"), BillingRules.of(config)
    )
    assert result.quarantine.height == 0
    assert lines_sum_to_totals(drafts.invoices, drafts.lines)[0]
    assert billed_at_most_once(drafts.sources, drafts.sources.head(0))[0]
    # Independently: the most a line may bill is its hours x share (half-up to 4 dp), raised to
    # the minimum and rounded *up* to the increment; never more.
    step = Decimal(increment) / 60 if increment else None
    for line in result.lines.iter_rows(named=True):
        allowed = line["hours"]
        if line["rate_rule_id"] == "TRAVEL":
            allowed = (allowed * share / 100).quantize(Decimal("0.0001"), ROUND_HALF_UP)
        if line["client_id"] == 5003 and not per_line:
            allowed = max(allowed, Decimal(minimum) / 60)
            if step:
                allowed = (allowed / step).to_integral_value(ROUND_CEILING) * step
        assert line["quantity"] <= allowed.quantize(Decimal("0.0001"), ROUND_CEILING)
        assert line["quantity"] >= allowed.quantize(Decimal("0.0001"), ROUND_CEILING) - Decimal("0.0001")


@settings(derandomize=True, max_examples=20, deadline=None)
@given(ENTRIES, SHARES, INCREMENTS)
def test_rerunning_a_period_gives_byte_identical_drafts(
    rows: list[tuple[Decimal, Decimal, int, int, int]], share: Decimal, increment: int
) -> None:
    config = _config(share, increment, 0, per_line=True)
    entries = _entries(rows)
    context, rules = DraftingContext(config.entity("uk"), *AUGUST, RATES, "run"), BillingRules.of(config)
    first = draft_invoices(_normalized(config, entries).lines, context, rules)
    second = draft_invoices(_normalized(config, list(reversed(entries))).lines, context, rules)
    for a, b in (
        (first.invoices, second.invoices),
        (first.lines, second.lines),
        (first.sources, second.sources),
    ):
        assert a.write_csv() == b.write_csv()  # the rows, byte for byte, in the same order
    assert first.invoices["content_hash"].to_list() == second.invoices["content_hash"].to_list()


def test_money_columns_of_drafts_are_decimals() -> None:
    config = _config(Decimal(100), 0, 0, False)
    lines = _normalized(config, _entries([(Decimal("1.5"), Decimal("150"), 5001, 7001, 3)])).lines
    drafts = draft_invoices(
        lines, DraftingContext(config.entity("uk"), *AUGUST, RATES, "run"), BillingRules.of(config)
    )
    for frame in (drafts.invoices, drafts.lines):
        assert not [n for n, t in frame.schema.items() if t in (pl.Float32, pl.Float64)]


# -- money and tax rounding, retainers (docs/decisions/0009) ---------------------------------------

MODES = st.sampled_from(["half_up", "half_even"])
LEVELS = st.sampled_from(["line", "invoice"])
AMOUNTS = st.integers(min_value=0, max_value=500_000).map(lambda n: Decimal(n) / 100)  # 0.00 .. 5000.00


@settings(derandomize=True, max_examples=40, deadline=None)
@given(ENTRIES, MODES, LEVELS, MODES, LEVELS, st.sampled_from(["Exclusive", "Inclusive"]))
def test_invoice_total_is_the_sum_of_lines_for_every_rounding_mode(
    rows: list[tuple[Decimal, Decimal, int, int, int]],
    money_mode: str,
    money_level: str,
    tax_mode: str,
    tax_level: str,
    line_amount_types: str,
) -> None:
    uk = BASE.entity("uk").model_copy(update={"line_amount_types": line_amount_types})
    config = BASE.model_copy(
        update={
            "entities": [uk if e.id == "uk" else e for e in BASE.entities],
            "mapping": BASE.mapping.model_copy(
                update={
                    "money_rounding": [
                        MoneyRounding(id="M", entity="uk", mode=money_mode, level=money_level)
                    ],  # type: ignore[arg-type]
                    "tax_rounding": [TaxRounding(id="T", entity="uk", mode=tax_mode, level=tax_level)],  # type: ignore[arg-type]
                }
            ),
        }
    )
    entries = _entries(rows)
    d = directory({6001: True, 6003: True}, {5001: "USD", 5003: "USD"})
    result = normalize_lines(raw_frame(entries), raw_frame([]), d, uk, config, RATES, "run")
    drafts = draft_invoices(result.lines, DraftingContext(uk, *AUGUST, RATES, "run"), BillingRules.of(config))
    assert lines_sum_to_totals(drafts.invoices, drafts.lines)[0]
    cent = Decimal("0.01")
    rule = ROUND_HALF_EVEN if money_mode == "half_even" else ROUND_HALF_UP
    for header in drafts.invoices.iter_rows(named=True):
        mine = drafts.lines.filter(pl.col("invoice_number") == header["invoice_number"])
        assert header["total"] == (
            mine["line_amount"].sum() + (0 if line_amount_types == "Inclusive" else mine["tax_amount"].sum())
        )
        work = mine.filter(pl.col("source_kind") != "rounding")
        exact = [q * u for q, u in zip(work["quantity"], work["unit_amount"], strict=True)]
        # Every line other than the rounding line as the ledger prices it: quantity x price, half-up.
        assert work["line_amount"].to_list() == [x.quantize(cent, ROUND_HALF_UP) for x in exact]
        # The lines sum to the configured total: per line by the mode, or the exact sum rounded once.
        configured = (
            sum((x.quantize(cent, rule) for x in exact), Decimal(0))
            if money_level == "line"
            else sum(exact, Decimal(0)).quantize(cent, rule)
        )
        assert mine["line_amount"].sum() == configured
        # At most one rounding line: the difference, quantity 1, untaxed, on the rounding account.
        rounding = mine.filter(pl.col("source_kind") == "rounding").to_dicts()
        assert len(rounding) <= 1
        for line in rounding:
            assert line["line_amount"] == line["unit_amount"] != 0 and line["quantity"] == 1
            assert (line["tax_type"], line["tax_amount"], line["account_code"]) == ("NONE", 0, "860")
        if money_mode == "half_up" and money_level == "line":
            assert not rounding  # the defaults never add one


@settings(derandomize=True, max_examples=40, deadline=None)
@given(ENTRIES, AMOUNTS, AMOUNTS, st.booleans())
def test_retainer_closing_is_opening_plus_top_up_less_drawn(
    rows: list[tuple[Decimal, Decimal, int, int, int]],
    opening: Decimal,
    top_up: Decimal,
    per_invoice_tax: bool,
) -> None:
    funded = opening + top_up > 0
    retainer = Retainer(
        id="R", entity="uk", client=5001, currency="USD", top_up=top_up,
        opening_balance=opening if funded else Decimal(1),
    )  # fmt: skip
    uk = BASE.entity("uk")
    tax = [TaxRounding(id="T", entity="uk", level="invoice")] if per_invoice_tax else []
    d = directory({6001: True, 6003: True}, {5001: "USD", 5003: "USD"})
    result = normalize_lines(raw_frame(_entries(rows)), raw_frame([]), d, uk, BASE, RATES, "run")
    drafts = draft_invoices(
        result.lines,
        DraftingContext(
            uk, *AUGUST, RATES, "run", retainers=[RetainerAccount(retainer, opening, "Acme Corporation")]
        ),
        BillingRules(BASE.mapping.field_mapping, BASE.rule_set_version, tax_rounding=tax),
    )
    assert lines_sum_to_totals(drafts.invoices, drafts.lines)[0]
    balance = drafts.retainer_balances.row(0, named=True)
    available = balance["opening"] + balance["top_up"]
    assert balance["closing"] == available - balance["drawn"]
    assert 0 <= balance["drawn"] <= available
    work = result.lines.filter(pl.col("client_id") == 5001)
    assert balance["drawn"] <= (work["amount_txn"].sum() or 0) + Decimal("0.01") * max(work.height, 1)
    assert all(total >= 0 for total in drafts.invoices["total"])
    applied = drafts.lines.filter(pl.col("source_kind") == "retainer_applied")["line_amount"].sum() or 0
    assert -applied == balance["drawn"]


@settings(derandomize=True, max_examples=20, deadline=None)
@given(ENTRIES)
def test_each_invoice_hash_covers_its_own_lines_only(
    rows: list[tuple[Decimal, Decimal, int, int, int]],
) -> None:
    """The hash is of the header and that invoice's lines as sent, in their order: computed here with
    hashlib and json over a filter written in the test, not by the drafting code's grouping."""
    import hashlib
    import json

    config = _config(Decimal(100), 0, 0, per_line=True)
    context, rules = DraftingContext(config.entity("uk"), *AUGUST, RATES, "run"), BillingRules.of(config)
    drafts = draft_invoices(_normalized(config, _entries(rows)).lines, context, rules)
    provenance = {"rate_source", "rule_set_version", "rounding_rule", "tax_rounding_rule"}
    sent = [{k: v for k, v in line.items() if k not in provenance} for line in drafts.lines.to_dicts()]
    for invoice in drafts.invoices.to_dicts():
        header = {k: v for k, v in invoice.items() if k not in {"content_hash", "rule_set_version", "run_id"}}
        own = [line for line in sent if line["invoice_number"] == invoice["invoice_number"]]
        text = json.dumps(
            {"header": header, "lines": own}, sort_keys=True, default=str, separators=(",", ":")
        )
        assert invoice["content_hash"] == hashlib.sha256(text.encode("utf-8")).hexdigest()
    assert drafts.invoices["content_hash"].n_unique() == drafts.invoices.height
