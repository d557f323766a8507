"""A quarantined record's detail names the entry, its hours and project, and the reason in words.

Found on main (issue 14): the detail repeated the reason (`hours_out_of_range`) and named no
entry id, hours or project; a 0-hour entry was quarantined with no word of why.
"""

from datetime import date

import pytest

from checks.schemas import Quarantine, validate
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.normalizing import normalize_lines
from rules.settings import BillbridgeConfig
from tests.factories import directory, expense, fx_snapshot, raw_frame, time_entry

RATES = fx_snapshot({date(2026, 7, 31): {"USD": "1.25", "GBP": "0.8"}})


@pytest.fixture(scope="module")
def config() -> BillbridgeConfig:
    return load_config(DEFAULT_CONFIG_PATH)


def _details(config: BillbridgeConfig, entries: list, expenses: list | None = None) -> list[str]:  # type: ignore[type-arg]
    projects = {6001: True, 6003: True}
    result = normalize_lines(
        raw_frame(entries),
        raw_frame(expenses or []),
        directory(projects, {5001: "USD"}),
        config.entity("us"),
        config,
        RATES,
        "run",
    )
    validate(Quarantine, result.quarantine)
    return result.quarantine.sort("source_id")["detail"].to_list()


def test_a_zero_hour_entry_names_entry_hours_project_and_what_to_do(config: BillbridgeConfig) -> None:
    [detail] = _details(config, [time_entry(9001, 0, 150), time_entry(9002, 2, 150)])
    assert detail.startswith("time entry 9001: 0 h, project 6001 (Project 6001), client 5001 (Client 5001): ")
    assert "hours_out_of_range (hours must be above 0 and at most 24: a 0-hour entry is an empty" in detail


def test_every_failed_rule_is_listed_in_words(config: BillbridgeConfig) -> None:
    [detail] = _details(config, [time_entry(9003, 30, None, project=6999)])
    assert detail.startswith("time entry 9003: 30 h, project 6999 (Project 6999)")
    assert "unknown_project (its project is not in the PM directory" in detail
    assert "; hours_out_of_range (" in detail


def test_an_expense_names_its_amount_and_currency(config: BillbridgeConfig) -> None:
    [detail] = _details(config, [], [expense(7001, 12.5, project=6999)])
    assert detail.startswith(
        "expense 7001: 12.5 USD, project 6999 (Project 6999), client 5001 (Client 5001): "
    )
