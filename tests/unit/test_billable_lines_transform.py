"""Normalization: typing, pricing, FX conversion and quarantine reasons (values computed by hand)."""

from datetime import date
from decimal import Decimal as D

import polars as pl
import pytest
from pandera.errors import SchemaErrors

from checks.schemas import BillableLines, Quarantine, RawRecords, validate
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.normalizing import normalize_lines
from rules.settings import BillbridgeConfig
from tests.factories import directory, expense, fx_snapshot, raw_frame, time_entry

# A tiny hand-made rate table: 1 EUR = 1.2500 USD = 0.8000 GBP on 2026-07-31 (a Friday).
RATES = fx_snapshot({date(2026, 7, 31): {"USD": "1.25", "GBP": "0.8"}})


@pytest.fixture(scope="module")
def config() -> BillbridgeConfig:
    return load_config(DEFAULT_CONFIG_PATH)


def _normalize(
    config: BillbridgeConfig, entries: list, expenses: list | None = None, entity: str = "us", unclaimed=None
):  # type: ignore[no-untyped-def]
    d = directory({6001: True, 6003: True, 6301: False}, {5001: "USD", 5003: "USD", 5301: "USD", 5101: "GBP"})
    return normalize_lines(
        raw_frame(entries, unclaimed=unclaimed),
        raw_frame(expenses or []),
        d,
        config.entity(entity),
        config,
        RATES,
        "run",
    )


def test_prices_and_types_a_clean_entry(config: BillbridgeConfig) -> None:
    result = _normalize(config, [time_entry(1, 1.25, 150.0, started="10:41am", day="2026-08-02")])
    validate(BillableLines, result.lines)
    line = result.lines.row(0, named=True)
    assert (line["line_id"], line["quantity"], line["unit_price"], line["amount_txn"]) == (
        "time-1",
        D("1.25"),
        D("150"),
        D("187.50"),
    )
    assert line["started_time"] == "10:41"  # Harvest's 12-hour form, read as local time
    assert line["approved"] and line["approval_source"] == "harvest:is_closed"
    assert line["contact_name"] == "Acme Corporation"
    assert (line["cost_rate"], line["amount_cost_base"]) == (D("80"), D("100.00"))  # 1.25 h x 80.00
    # Sunday 2 August has no ECB rate: the Friday rate is used and its date recorded.
    assert (line["fx_rate"], line["fx_rate_date"], line["amount_base"]) == (
        D(1),
        date(2026, 8, 2),
        D("187.50"),
    )
    assert result.quarantine.height == 0


def test_rounds_each_entry_half_up_to_cents(config: BillbridgeConfig) -> None:
    # 0.35 h x 137.50 = 48.125 -> 48.13 (half up); 0.05 h x 99.90 = 4.995 -> 5.00
    result = _normalize(config, [time_entry(1, 0.35, 137.5), time_entry(2, 0.05, 99.9)])
    assert result.lines.sort("line_id")["amount_txn"].to_list() == [D("48.13"), D("5.00")]


def test_converts_to_base_currency_through_eur(config: BillbridgeConfig) -> None:
    # A GBP client on the US ledger: 2 h x 100 GBP = 200.00 GBP; GBP->USD = 1.25 / 0.8 = 1.5625;
    # 200.00 x 1.5625 = 312.50 USD.
    result = _normalize(config, [time_entry(1, 2, 100, client=5101, currency="GBP")])
    line = result.lines.row(0, named=True)
    assert (line["txn_currency"], line["amount_txn"]) == ("GBP", D("200.00"))
    assert (line["base_currency"], line["fx_rate"], line["amount_base"]) == ("USD", D("1.5625"), D("312.50"))
    assert line["fx_source"] == "test rates#000000000000" and line["fx_type"] == "spot"


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (time_entry(1, -1.5, 150), "hours_out_of_range"),
        (time_entry(1, 25.0, 150), "hours_out_of_range"),
        (time_entry(1, 0, 150), "hours_out_of_range"),
        (time_entry(1, "lots", 150), "invalid_quantity"),
        (time_entry(1, 1.23456, 150), "invalid_quantity"),
        (time_entry(1, 1, None), "missing_billable_rate"),
        (time_entry(1, 1, -150), "negative_amount"),
        (time_entry(1, 1, 150, project=6999), "unknown_project"),
        (time_entry(1, 1, 150, client=9999), "no_contact_mapping"),
        (time_entry(1, 1, 150, currency="usd", client=5002), "unknown_currency"),
        (time_entry(1, 1, 150, client=5101, currency="GBP", day="2001-01-01"), "fx_rate_missing"),
    ],
)
def test_bad_records_are_quarantined_with_reason(config: BillbridgeConfig, entry: dict, reason: str) -> None:
    result = _normalize(config, [entry, time_entry(2, 1, 100)])
    validate(Quarantine, result.quarantine)
    assert result.quarantine["reason"].to_list() == [reason]
    assert result.lines["line_id"].to_list() == ["time-2"]  # the rest of the partition proceeds


def test_unclaimed_records_are_quarantined_not_dropped(config: BillbridgeConfig) -> None:
    result = _normalize(config, [time_entry(1, 1, 150)], unclaimed={1})
    assert result.quarantine["reason"].to_list() == ["unclaimed_by_entity"]
    assert result.lines.height == 0


def test_non_billable_work_is_kept_at_zero(config: BillbridgeConfig) -> None:
    result = _normalize(
        config, [time_entry(1, 2, None, billable=False), time_entry(2, 1, 150, project=6301, client=5301)]
    )
    lines = result.lines.sort("line_id")
    assert lines["billable"].to_list() == [False, False]
    assert lines["billable_reason"].to_list() == ["entry marked non-billable", "project not billable"]
    assert lines["amount_txn"].to_list() == [D("0"), D("0")]


def test_expenses_become_lines_at_cost(config: BillbridgeConfig) -> None:
    result = _normalize(config, [], [expense(10, 84.2), expense(11, 12.5, billable=False)])
    lines = result.lines.sort("line_id")
    assert lines["line_id"].to_list() == ["expense-10", "expense-11"]
    assert lines["amount_txn"].to_list() == [D("84.20"), D("0")]


def test_every_record_is_a_line_or_quarantined(config: BillbridgeConfig) -> None:
    entries = [time_entry(i, h, 120) for i, h in enumerate([1, -1, 2, 30, 0.5], start=1)]
    result = _normalize(config, entries)
    assert result.lines.height + result.quarantine.height == len(entries)


def test_raw_frames_pass_the_raw_write_gate() -> None:
    frame = raw_frame([time_entry(1, 1, 100)])
    assert validate(RawRecords, frame).height == 1
    with pytest.raises(SchemaErrors):
        validate(RawRecords, frame.with_columns(pl.lit("short").alias("payload_hash")))


def test_records_claimed_by_two_entities_are_quarantined(config: BillbridgeConfig) -> None:
    raw = raw_frame([time_entry(1, 1, 150)]).with_columns(
        pl.lit("ambiguous: client 5001 -> us, project code prefix 'UK-' -> uk").alias("routing")
    )
    d = directory({6001: True}, {5001: "USD"})
    result = normalize_lines(raw, raw_frame([]), d, config.entity("us"), config, RATES, "run")
    assert result.quarantine["reason"].to_list() == ["claimed_by_two_entities"]
