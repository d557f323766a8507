"""A ledger or reporting currency that is not ISO 4217, or has no ECB rate, stops the load (issue 14).

Before: `base_currency: GPB` loaded, and the sync quarantined every record of the entity
(`fx_rate_missing`) and said `ok`.
"""

from pathlib import Path

import pytest

from pipelines.cli import main
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.config_types import ConfigurationError


def _config_with(tmp_path: Path, old: str, new: str) -> Path:
    text = DEFAULT_CONFIG_PATH.read_text()
    assert old in text
    path = tmp_path / "billbridge.yaml"
    path.write_text(text.replace(old, new, 1))
    (tmp_path / "mapping.yaml").write_text((DEFAULT_CONFIG_PATH.parent / "mapping.yaml").read_text())
    return path


def test_misspelt_base_currency_names_file_key_and_the_likely_code(tmp_path: Path) -> None:
    path = _config_with(tmp_path, "base_currency: GBP", "base_currency: GPB")
    with pytest.raises(ConfigurationError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    assert "key entities.1.base_currency" in message
    assert "'GPB' is not an ISO 4217 currency code" in message
    assert "did you mean GBP" in message


def test_unknown_reporting_currency_stops_the_load(tmp_path: Path) -> None:
    path = _config_with(tmp_path, "reporting_currency: EUR", "reporting_currency: XYZ")
    with pytest.raises(ConfigurationError) as err:
        load_config(path)
    assert "key reporting_currency" in str(err.value)
    assert "'XYZ' is not an ISO 4217 currency code" in str(err.value)


def test_iso_currency_without_an_ecb_rate_stops_the_load(tmp_path: Path) -> None:
    # AED is ISO 4217, but the ECB publishes no reference rate for it: every line would lack a rate.
    path = _config_with(tmp_path, "base_currency: GBP", "base_currency: AED")
    with pytest.raises(ConfigurationError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message
    assert "key entities.1.base_currency: the ECB publishes no reference rate for 'AED'" in message
    assert "GBP" in message  # the published currencies are listed, so the fix is visible


def test_cli_stops_with_exit_2_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from resources.configuration import current_config

    monkeypatch.setenv(
        "BILLBRIDGE_CONFIG", str(_config_with(tmp_path, "base_currency: GBP", "base_currency: GPB"))
    )
    current_config.cache_clear()
    try:
        assert main(["report"]) == 2
    finally:
        current_config.cache_clear()
    err = capsys.readouterr().err
    assert "entities.1.base_currency" in err and "GPB" in err
    assert "Traceback" not in err
