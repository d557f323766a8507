"""Properties of pricing and drafting over generated entries and rule sets (hypothesis, derandomized)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from assets.billing.drafting import billable_for_period, draft_invoices
from assets.normalized.billable_lines_transform import normalize_lines
from checks.invariants import billed_at_most_once, lines_sum_to_totals
from resources.configuration import DEFAULT_CONFIG_PATH, BillbridgeConfig, load_config
from resources.mapping_rules import RateRule, TimeRounding
from tests.factories import directory, raw_frame, time_entry
from tests.unit.test_drafting import RATES

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


def _draft(config: BillbridgeConfig, entries: list[dict[str, object]]):  # type: ignore[no-untyped-def]
    d = directory({6001: True, 6003: True}, {5001: "USD", 5003: "USD"})
    result = normalize_lines(raw_frame(entries), raw_frame([]), d, config.entity("uk"), config, RATES, "run")
    entity = config.entity("uk")  # 20% tax per line: the tax invariant is exercised too
    drafts = draft_invoices(
        billable_for_period(result.lines, entity), entity, config.mapping.field_mapping, RATES,
        date(2026, 8, 1), date(2026, 8, 31), config.rule_set_version, "run",
    )  # fmt: skip
    return result, drafts


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
    result, drafts = _draft(config, _entries(rows))
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
    _, first = _draft(config, entries)
    _, second = _draft(config, list(reversed(entries)))
    for a, b in (
        (first.invoices, second.invoices),
        (first.lines, second.lines),
        (first.sources, second.sources),
    ):
        assert a.write_csv() == b.write_csv()  # the rows, byte for byte, in the same order
    assert first.invoices["content_hash"].to_list() == second.invoices["content_hash"].to_list()


def test_money_columns_of_drafts_are_decimals() -> None:
    _, drafts = _draft(
        _config(Decimal(100), 0, 0, False), _entries([(Decimal("1.5"), Decimal("150"), 5001, 7001, 3)])
    )
    for frame in (drafts.invoices, drafts.lines):
        assert not [n for n, t in frame.schema.items() if t in (pl.Float32, pl.Float64)]
