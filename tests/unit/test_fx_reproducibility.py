"""A past period re-run after new rates arrive reproduces byte for byte; re-rating on request shows the difference."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import polars as pl

from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.fx_conversion import rates_for
from rules.fx_rates import FxSnapshot
from rules.normalizing import normalize_lines
from tests.factories import directory, fx_snapshot, raw_frame, time_entry

CONFIG = load_config(DEFAULT_CONFIG_PATH)


def _snapshot(usd_per_eur: str, label: str) -> FxSnapshot:
    return fx_snapshot({date(2026, 8, 3): {"USD": usd_per_eur, "GBP": "0.8"}}, label)


OLD = _snapshot("1.25", "old")  # USD -> GBP = 0.8 / 1.25 = 0.64
NEW = _snapshot("1.00", "new")  # USD -> GBP = 0.8 / 1.00 = 0.80


def _run(fx: FxSnapshot, pinned: pl.DataFrame | None):  # type: ignore[no-untyped-def]
    # A USD client billed by the UK entity: 2 h x 150 USD = 300.00 USD.
    raw = raw_frame([time_entry(1, 2, 150, client=5003, project=6003)], entity="uk")
    d = directory({6003: True}, {5003: "USD"})
    return normalize_lines(raw, raw_frame([], "uk"), d, CONFIG.entity("uk"), CONFIG, fx, "run", pinned)


def test_rerun_with_new_rates_reproduces_the_first_result() -> None:
    first = _run(OLD, None)
    assert first.lines["amount_base"].to_list() == [D("192.00")]  # 300.00 x 0.64
    again = _run(NEW, first.rates_used)
    assert again.lines.drop("run_id").write_csv() == first.lines.drop("run_id").write_csv()
    assert again.lines["fx_source"].to_list() == [OLD.label]


def test_rerate_on_request_shows_the_difference() -> None:
    first = _run(OLD, None)
    rerated = _run(NEW, None)
    assert rerated.lines["amount_base"].to_list() == [D("240.00")]  # 300.00 x 0.80
    assert rerated.lines["fx_rate"].to_list() == [D("0.8")]
    assert rerated.lines["fx_source"].to_list() == [NEW.label]
    assert rerated.lines["amount_base"][0] - first.lines["amount_base"][0] == D("48.00")


def test_pinned_rates_fill_only_what_they_cover() -> None:
    needs = pl.DataFrame(
        {
            "day": [date(2026, 8, 3), date(2026, 8, 4)],
            "from_currency": ["USD", "USD"],
            "to_currency": ["GBP", "GBP"],
        }
    )
    pinned = rates_for(needs.head(1), OLD.rates, "old")
    both = rates_for(needs, NEW.rates, "new", pinned)
    assert both.select("day", "fx_rate", "fx_source").rows() == [
        (date(2026, 8, 3), D("0.64"), "old"),
        (date(2026, 8, 4), D("0.8"), "new"),
    ]


def test_every_line_carries_three_currencies() -> None:
    line = _run(OLD, None).lines.row(0, named=True)
    # 300.00 USD; base GBP at 0.64 = 192.00; group reporting EUR at 1 / 1.25 = 0.8 = 240.00.
    assert (line["txn_currency"], line["amount_txn"]) == ("USD", D("300.00"))
    assert (line["base_currency"], line["amount_base"]) == ("GBP", D("192.00"))
    assert (line["reporting_currency"], line["fx_rate_reporting"], line["amount_reporting"]) == (
        "EUR",
        D("0.8"),
        D("240.00"),
    )
    assert line["fx_rate_date_reporting"] == date(2026, 8, 3)
