"""Contract FX rates from the mapping document: which rate converts a line, its metadata, and refusals at load.

Every expected rate and amount is worked out by hand in the comments, from the test's own
ECB-style rates (USD 1.10 and GBP 0.85 per EUR on 2026-08-03).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

from checks.schemas import BillableLines, validate
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from rules.config_types import ConfigurationError
from rules.normalizing import NormalizedResult, normalize_lines
from rules.rule_sets import ContractRate
from rules.settings import BillbridgeConfig
from tests.factories import directory, fx_snapshot, raw_frame, time_entry

BASE = load_config(DEFAULT_CONFIG_PATH)
ECB = fx_snapshot({date(2026, 8, 3): {"USD": "1.10", "GBP": "0.85"}}, label="ECB test")
# A snapshot whose last rate is a month old: no market rate within the 7-day window on 2026-08-03.
STALE = fx_snapshot({date(2026, 7, 1): {"USD": "1.10", "GBP": "0.85"}}, label="ECB stale")


def _config(*rules: ContractRate) -> BillbridgeConfig:
    return BASE.model_copy(
        update={"mapping": BASE.mapping.model_copy(update={"fx_contract_rates": list(rules)})}
    )


def _rule(rule_id: str, rate: str, **scope: Any) -> ContractRate:
    fields: dict[str, Any] = {
        "from_currency": "USD",
        "to_currency": "GBP",
        "effective_from": date(2026, 8, 1),
    }
    return ContractRate(id=rule_id, rate=D(rate), **{**fields, **scope})


def _uk_line(config: BillbridgeConfig, fx: Any = ECB) -> dict[str, Any]:
    """One UK line: 2 h x USD 150.00 = USD 300.00 for client 5001 (USD) on project 6001."""
    entry = time_entry(1, 2, 150, client=5001, project=6001)
    result = normalize_lines(
        raw_frame([entry], entity="uk"),
        raw_frame([], entity="uk"),
        directory({6001: True}, {5001: "USD"}),
        config.entity("uk"),
        config,
        fx,
        "run",
    )
    assert result.quarantine.height == 0, result.quarantine
    validate(BillableLines, result.lines)
    row: dict[str, Any] = result.lines.row(0, named=True)
    return row


def test_market_rate_without_a_contract() -> None:
    line = _uk_line(_config())
    # USD->GBP = 0.85 / 1.10 = 0.772727|27 -> 0.77272727; 300.00 x 0.77272727 = 231.818181 -> 231.82
    assert (line["fx_rate"], line["amount_base"]) == (D("0.77272727"), D("231.82"))
    assert (line["fx_type"], line["fx_source"], line["fx_rate_date"]) == (
        "spot",
        "ECB test#000000000000",
        date(2026, 8, 3),
    )


def test_client_contract_rate_overrides_the_market_and_says_so() -> None:
    line = _uk_line(_config(_rule("ACME-GBP", "0.80", client=5001)))
    # 300.00 x 0.80 = 240.00 GBP
    assert (line["fx_rate"], line["amount_base"]) == (D("0.80"), D("240.00"))
    assert line["fx_type"] == "contract"
    assert line["fx_source"] == "contract:ACME-GBP"
    assert line["fx_rate_date"] == date(2026, 8, 1)  # the contract's effective date
    # The group reports at market: EUR per USD = 1 / 1.10 = 0.90909091; 300 x 0.90909091 = 272.727273
    assert (line["fx_rate_reporting"], line["amount_reporting"]) == (D("0.90909091"), D("272.73"))


@pytest.mark.parametrize(
    ("rules", "rule_id", "rate", "amount"),
    [
        # the project's rate beats the client's: 300.00 x 0.81 = 243.00
        (
            [_rule("CLIENT", "0.80", client=5001), _rule("PROJECT", "0.81", project=6001)],
            "PROJECT",
            "0.81",
            "243.00",
        ),
        # a rate for this entity beats one for every entity: 300.00 x 0.79 = 237.00
        (
            [_rule("ANY", "0.80", client=5001), _rule("UK", "0.79", client=5001, entity="uk")],
            "UK",
            "0.79",
            "237.00",
        ),
        # another entity's rate does not apply: the client's rate does, 300.00 x 0.80 = 240.00
        (
            [_rule("ANY", "0.80", client=5001), _rule("DE", "0.70", project=6001, entity="de")],
            "ANY",
            "0.80",
            "240.00",
        ),
        # successive contracts: the one in force on 2026-08-03; 300.00 x 0.78125 = 234.375 -> 234.38 (half-up)
        (
            [
                _rule(
                    "OLD", "0.75", client=5001, effective_from=date(2026, 1, 1), effective_to=date(2026, 8, 2)
                ),
                _rule("NEW", "0.78125", client=5001, effective_from=date(2026, 8, 3)),
            ],
            "NEW",
            "0.78125",
            "234.38",
        ),
    ],
)
def test_most_specific_contract_in_force_wins(
    rules: list[ContractRate], rule_id: str, rate: str, amount: str
) -> None:
    line = _uk_line(_config(*rules))
    assert (line["fx_source"], line["fx_rate"], line["amount_base"]) == (
        f"contract:{rule_id}",
        D(rate),
        D(amount),
    )


def test_contract_for_another_pair_or_ended_leaves_the_market_rate() -> None:
    euro = _rule("EUR", "0.95", client=5001, to_currency="EUR")  # USD->EUR: not this line's base pair
    ended = _rule(
        "ENDED", "0.80", client=5001, effective_from=date(2026, 1, 1), effective_to=date(2026, 8, 2)
    )
    line = _uk_line(_config(euro, ended))
    assert (line["fx_type"], line["fx_rate"], line["amount_base"]) == ("spot", D("0.77272727"), D("231.82"))
    # The USD->EUR contract is not the base conversion and EUR is not GBP: reporting stays at market.
    assert line["fx_rate_reporting"] == D("0.90909091")


def _de_result(*rules: ContractRate) -> NormalizedResult:
    """A German line: 10 h x USD 137.50 = USD 1,375.00 for client 5202 (USD), on a day the ECB rate is stale."""
    config = _config(*rules)
    entry = time_entry(2, 10, 137.5, client=5202, project=6202)
    return normalize_lines(
        raw_frame([entry], entity="de"),
        raw_frame([], entity="de"),
        directory({6202: True}, {5202: "USD"}),
        config.entity("de"),
        config,
        STALE,
        "run",
    )


def test_contract_rate_converts_when_the_market_has_no_rate_and_reporting_is_the_base() -> None:
    assert _de_result().quarantine["reason"].to_list() == ["fx_rate_missing"]
    result = _de_result(_rule("WAYNE-EUR", "0.9", client=5202, to_currency="EUR"))
    assert result.quarantine.height == 0
    line = result.lines.row(0, named=True)
    # EUR is both the base and the reporting currency: 1,375.00 x 0.9 = 1,237.50 on both.
    assert (line["amount_base"], line["amount_reporting"]) == (D("1237.50"), D("1237.50"))
    assert (line["fx_rate_reporting"], line["fx_type"]) == (D("0.9"), "contract")


def _write(tmp_path: Path, contract_rates: str) -> Path:
    mapping = (DEFAULT_CONFIG_PATH.parent / "mapping.yaml").read_text()
    (tmp_path / "mapping.yaml").write_text(f"{mapping}\nfx_contract_rates:\n{contract_rates}")
    path = tmp_path / "billbridge.yaml"
    path.write_text(DEFAULT_CONFIG_PATH.read_text())
    return path


def test_every_conflict_is_refused_at_load_and_listed(tmp_path: Path) -> None:
    rates = """\
  - { id: A, client: 5001, from_currency: USD, to_currency: GBP, rate: "0.80", effective_from: 2026-01-01 }
  - { id: B, client: 5001, from_currency: USD, to_currency: GBP, rate: "0.81", effective_from: 2026-06-01, effective_to: 2026-12-31 }
  - { id: ZERO, project: 6001, from_currency: USD, to_currency: GBP, rate: "0", effective_from: 2026-01-01 }
  - { id: NEG, project: 6002, from_currency: USD, to_currency: GBP, rate: "-1.25", effective_from: 2026-01-01 }
  - { id: ODD, client: 5003, from_currency: USD, to_currency: XYZ, rate: "1.5", effective_from: 2026-01-01 }
  - { id: SELF, client: 5002, from_currency: USD, to_currency: USD, rate: "1", effective_from: 2026-01-01 }
  - { id: SELF, client: 5101, from_currency: GBP, to_currency: USD, rate: "1.3", effective_from: 2026-01-01 }
"""
    with pytest.raises(ConfigurationError) as err:
        load_config(_write(tmp_path, rates))
    message = str(err.value)
    assert str(tmp_path / "mapping.yaml") in message
    for expected in (
        "contract rate id 'SELF' is used twice",
        "contract rates 'A' and 'B' both fix USD->GBP for the same client on overlapping dates",
        "contract rate 'ZERO': rate must be above 0 (got 0)",
        "contract rate 'NEG': rate must be above 0 (got -1.25)",
        "contract rate 'ODD': to_currency 'XYZ' is not a known ISO 4217 currency",
        "contract rate 'SELF': converts USD to itself",
    ):
        assert expected in message


def test_scope_and_dates_are_checked_at_load(tmp_path: Path) -> None:
    rates = """\
  - { id: BOTH, client: 5001, project: 6001, from_currency: USD, to_currency: GBP, rate: "0.8", effective_from: 2026-01-01 }
  - { id: UNDATED, client: 5001, from_currency: USD, to_currency: GBP, rate: "0.8" }
"""
    with pytest.raises(ConfigurationError) as err:
        load_config(_write(tmp_path, rates))
    message = str(err.value)
    assert "fx_contract_rates.0" in message and "name exactly one of client or project" in message
    assert "fx_contract_rates.1.effective_from" in message and "Field required" in message


def test_unknown_entity_is_refused_naming_the_rate(tmp_path: Path) -> None:
    rates = """\
  - { id: MARS, entity: mars, client: 5001, from_currency: USD, to_currency: GBP, rate: "0.8", effective_from: 2026-01-01 }
"""
    with pytest.raises(ConfigurationError, match="contract rate 'MARS' names unknown entity 'mars'"):
        load_config(_write(tmp_path, rates))


def test_non_overlapping_contracts_for_one_scope_load() -> None:
    config = _config(
        _rule("H1", "0.80", client=5001, effective_from=date(2026, 1, 1), effective_to=date(2026, 6, 30)),
        _rule("H2", "0.82", client=5001, effective_from=date(2026, 7, 1)),
    )
    assert BillbridgeConfig.model_validate(config.model_dump()).mapping.fx_contract_rates[1].id == "H2"
