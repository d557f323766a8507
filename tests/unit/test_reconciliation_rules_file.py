"""A bad reconciliation rules file stops at load naming the file, the key and what was expected."""

from pathlib import Path

import pytest

from resources.bank_statements_rules import DEFAULT_RULES_PATH, load_reconciliation_rules
from rules.config_types import ConfigurationError


def _write(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_RULES_PATH.read_text()
    assert old in text
    path = tmp_path / "rules.yaml"
    path.write_text(text.replace(old, new))
    return path


def test_the_shipped_file_loads_with_a_version_naming_its_content() -> None:
    rules = load_reconciliation_rules(entities=("us", "uk", "de"))
    assert rules.version.startswith("2026.12.1+") and len(rules.version.split("+")[1]) == 12


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('party: "0.20"', 'party: "0.25"', "weights must sum to 1"),
        ('propose: "0.55"', 'propose: "0.90"', "must be below auto_accept"),
        ("  days_after_due: 120", "  days_after_due: 120\n  dayz: 3", "key matching.dayz"),
        ('write_off_percent: "0.5", fee_amounts: ["15.00"', 'write_off_percent: "-1", fee_amounts: ["15.00"',
         "entities.0.default.write_off_percent"),
    ],
)  # fmt: skip
def test_bad_values_name_file_key_and_expectation(tmp_path: Path, old: str, new: str, expected: str) -> None:
    path = _write(tmp_path, old, new)
    with pytest.raises(ConfigurationError) as raised:
        load_reconciliation_rules(path)
    assert str(path) in str(raised.value) and expected in str(raised.value)


def test_a_configured_entity_without_a_rule_stops_the_load(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"missing \['fr'\]"):
        load_reconciliation_rules(entities=("us", "fr"))
