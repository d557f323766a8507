"""One entity per run: the coordinator's split of a run's partitions and the assets' refusal of two entities."""

from datetime import date
from types import SimpleNamespace

import pytest

from assets.partitions import (
    DaySlice,
    MonthSlice,
    Partitions,
    SeveralEntitiesError,
    day_slices,
    month_slices,
    one_entity,
)
from pipelines.run_coordinator import PARTITION_TAG, RANGE_END, RANGE_START, entity_ranges, run_keys
from resources.configuration import current_config

ENTITY_DAY = Partitions.of(current_config()).entity_day


def test_a_range_over_one_day_of_three_entities_becomes_one_range_per_entity() -> None:
    # What Dagster makes of a backfill over fewer days than entities: one day, every entity.
    keys = run_keys({RANGE_START: "2026-09-01|us", RANGE_END: "2026-09-01|de"}, ENTITY_DAY)
    assert sorted(keys) == ["2026-09-01|de", "2026-09-01|uk", "2026-09-01|us"]
    assert entity_ranges(keys) == {
        "us": {RANGE_START: "2026-09-01|us", RANGE_END: "2026-09-01|us"},
        "uk": {RANGE_START: "2026-09-01|uk", RANGE_END: "2026-09-01|uk"},
        "de": {RANGE_START: "2026-09-01|de", RANGE_END: "2026-09-01|de"},
    }


def test_a_range_over_one_entitys_days_stays_one_run() -> None:
    keys = run_keys({RANGE_START: "2026-09-01|uk", RANGE_END: "2026-09-03|uk"}, ENTITY_DAY)
    assert keys == ["2026-09-01|uk", "2026-09-02|uk", "2026-09-03|uk"]
    assert entity_ranges(keys) == {"uk": {RANGE_START: "2026-09-01|uk", RANGE_END: "2026-09-03|uk"}}


def test_a_single_partition_run_names_its_entity_and_an_unpartitioned_one_none() -> None:
    assert entity_ranges(run_keys({PARTITION_TAG: "2026-09-02|de"}, ENTITY_DAY)) == {
        "de": {RANGE_START: "2026-09-02|de", RANGE_END: "2026-09-02|de"}
    }
    assert entity_ranges(run_keys({}, ENTITY_DAY)) == {}


def test_the_assets_refuse_a_run_over_two_entities_in_one_line() -> None:
    with pytest.raises(SeveralEntitiesError) as refused:
        one_entity(["2026-09-01|us", "2026-09-01|uk"])
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith("this run covers the partitions of 2 entities (uk, us)")
    assert "launch one run per entity" in message and "billbridge sync --entity ENTITY" in message


def test_slices_of_one_entity_are_its_days_and_months() -> None:
    # The assets read only the run's partition keys from their context.
    days = SimpleNamespace(partition_keys=["2026-09-02|uk", "2026-09-01|uk"])
    months = SimpleNamespace(partition_keys=["uk|2026-10-01", "uk|2026-09-01"])
    assert day_slices(days) == [DaySlice("uk", (date(2026, 9, 1), date(2026, 9, 2)))]  # type: ignore[arg-type]
    assert month_slices(months) == [MonthSlice("uk", date(2026, 9, 1)), MonthSlice("uk", date(2026, 10, 1))]  # type: ignore[arg-type]
    with pytest.raises(SeveralEntitiesError):
        month_slices(SimpleNamespace(partition_keys=["uk|2026-09-01", "de|2026-09-01"]))  # type: ignore[arg-type]
