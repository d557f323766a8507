"""The allocation rule set loads, and bad rule sets or inputs stop naming the file, key or line, and the expectation."""

from pathlib import Path

import pytest

from resources.allocation_config import DEFAULT_RULES_PATH, load_allocation_inputs
from rules.config_types import ConfigurationError


def _copy(tmp_path: Path, rules: str | None = None, overheads: str | None = None) -> Path:
    for name in ("overheads.csv", "usage.csv"):
        (tmp_path / name).write_text((DEFAULT_RULES_PATH.parent / name).read_text())
    if overheads is not None:
        (tmp_path / "overheads.csv").write_text(overheads)
    path = tmp_path / "allocation_rules.yaml"
    path.write_text(rules if rules is not None else DEFAULT_RULES_PATH.read_text())
    return path


def test_shipped_rule_set_loads_with_a_content_versioned_name() -> None:
    inputs = load_allocation_inputs(DEFAULT_RULES_PATH)
    assert inputs.version.startswith("2026.11.1+") and len(inputs.version) == len("2026.11.1+") + 12
    assert {p.id for p in inputs.rules.pools} >= {"internal_time", "rent", "hardware"}
    assert len(inputs.overheads) == 14 and len(inputs.usage) == 9


def test_editing_the_rule_set_changes_its_version(tmp_path: Path) -> None:
    path = _copy(tmp_path, DEFAULT_RULES_PATH.read_text() + "\n# a comment\n")
    assert load_allocation_inputs(path).version != load_allocation_inputs(DEFAULT_RULES_PATH).version


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    path = _copy(
        tmp_path, DEFAULT_RULES_PATH.read_text().replace("driver: headcount", "driver: headcount, weight: 2")
    )
    with pytest.raises(ConfigurationError) as err:
        load_allocation_inputs(path)
    assert str(path) in str(err.value) and "rules.2.weight" in str(err.value)


def test_overlapping_rules_for_one_pool_are_refused(tmp_path: Path) -> None:
    extra = '\n  - { id: RENT-HOURS, pool: rent, driver: hours, targets: projects, effective_from: "2026-09-01" }\n'
    path = _copy(tmp_path, DEFAULT_RULES_PATH.read_text() + extra)
    with pytest.raises(
        ConfigurationError, match="'RENT-HEADCOUNT' and 'RENT-HOURS' both allocate pool 'rent'"
    ):
        load_allocation_inputs(path)


def test_bad_overhead_row_names_line_and_column(tmp_path: Path) -> None:
    text = (DEFAULT_RULES_PATH.parent / "overheads.csv").read_text().replace("12000.00", "twelve", 1)
    path = _copy(tmp_path, overheads=text)
    with pytest.raises(ConfigurationError) as err:
        load_allocation_inputs(path)
    assert "overheads.csv" in str(err.value) and "line 2, column amount" in str(err.value)


def test_capex_pool_without_treatment_is_refused(tmp_path: Path) -> None:
    text = DEFAULT_RULES_PATH.read_text().replace(
        "    cost_class: capex\n", "    cost_class: capex\n    capex_note: x\n"
    )
    with pytest.raises(ConfigurationError, match="capex_note"):
        load_allocation_inputs(_copy(tmp_path, text))
