"""Configuration loads, and bad configuration stops naming the file, the key and the expectation."""

from pathlib import Path

import pytest

from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.config_types import ConfigurationError


def _write(tmp_path: Path, config: str, mapping: str | None = None) -> Path:
    path = tmp_path / "billbridge.yaml"
    path.write_text(config)
    (tmp_path / "mapping.yaml").write_text(
        mapping or (DEFAULT_CONFIG_PATH.parent / "mapping.yaml").read_text()
    )
    return path


def _demo_config() -> str:
    return DEFAULT_CONFIG_PATH.read_text()


def test_demo_configuration_loads() -> None:
    config = load_config(DEFAULT_CONFIG_PATH)
    assert config.entity_ids == ["us", "uk", "de"]
    assert config.entity("uk").base_currency == "GBP"
    assert config.rule_set_version.startswith("2026.08.1+")


def test_unknown_key_names_file_and_key(tmp_path: Path) -> None:
    path = _write(
        tmp_path, _demo_config().replace("    require_approval: true\n", "    require_aproval: true\n", 1)
    )
    with pytest.raises(ConfigurationError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    assert "entities.0.require_aproval" in message


def test_bad_values_are_all_listed(tmp_path: Path) -> None:
    text = (
        _demo_config()
        .replace("base_currency: USD", "base_currency: usd")
        .replace("timezone: Europe/London", "timezone: Europe/Londn")
    )
    with pytest.raises(ConfigurationError) as err:
        load_config(_write(tmp_path, text))
    message = str(err.value)
    assert "entities.0.base_currency" in message
    assert "entities.1.timezone" in message and "IANA time zone" in message


def test_mapping_errors_name_the_mapping_file(tmp_path: Path) -> None:
    mapping = (DEFAULT_CONFIG_PATH.parent / "mapping.yaml").read_text().replace("entity: de", "entity: fr", 1)
    with pytest.raises(ConfigurationError) as err:
        load_config(_write(tmp_path, _demo_config(), mapping))
    assert "unknown entity 'fr'" in str(err.value)


def test_duplicate_client_mapping_refused(tmp_path: Path) -> None:
    mapping = (
        (DEFAULT_CONFIG_PATH.parent / "mapping.yaml")
        .read_text()
        .replace("pm_client_id: 5002", "pm_client_id: 5001")
    )
    with pytest.raises(ConfigurationError) as err:
        load_config(_write(tmp_path, _demo_config(), mapping))
    assert "mapping.yaml" in str(err.value) and "client 5001 is mapped twice" in str(err.value)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read configuration"):
        load_config(tmp_path / "nope.yaml")


def test_unknown_placeholder_refused(tmp_path: Path) -> None:
    mapping = (DEFAULT_CONFIG_PATH.parent / "mapping.yaml").read_text().replace("{task_name}", "{taks_name}")
    with pytest.raises(ConfigurationError, match=r"field_mapping\.time_line_description"):
        load_config(_write(tmp_path, _demo_config(), mapping))
