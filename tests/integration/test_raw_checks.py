"""The raw layer's checks in Dagster: a field money depends on changing type blocks normalization in the
same run (the lines would be priced wrong); a lone malformed record only warns, and the rest proceed."""

from __future__ import annotations

from datetime import date
from typing import Any

import dagster as dg
import pytest

from assets.normalized.billable_lines import build_billable_lines
from assets.partitions import Partitions, day_key
from assets.raw.pm_extracts import build_pm_extracts
from resources.configuration import load_config
from resources.fx import EcbRates
from resources.harvest import HarvestClient
from resources.warehouse import Warehouse
from sandbox.company import generate_company
from sandbox.harvest import HarvestSandbox
from sandbox.harvest.variants import EveryRecord, ListVariant, RecordFault

pytestmark = pytest.mark.integration
DAY = date(2026, 8, 3)


def _run(*variants: ListVariant) -> dg.ExecuteInProcessResult:
    with HarvestSandbox(generate_company(seed=7), rate_limit=None, variants=variants) as sandbox:
        harvest = HarvestClient(base_url=sandbox.url, account_id="100001", access_token="demo-harvest-token")
        config = load_config()
        partitions = Partitions.of(config)
        return dg.materialize(
            [build_pm_extracts(partitions), build_billable_lines(partitions)],
            partition_key=str(day_key("us", DAY)),
            resources={"harvest": harvest, "warehouse": Warehouse(), "fx": EcbRates(), "settings": config},
            raise_on_error=False,
        )


def _checks(result: dg.ExecuteInProcessResult) -> dict[tuple[str, str], Any]:
    return {(e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()}


def test_hours_turning_into_strings_block_the_lines_priced_from_them() -> None:
    result = _run(EveryRecord("time_entries", "hours", str))
    checks = _checks(result)
    stable = checks[("raw/time_entries", "priced_fields_stable")]
    assert not stable.passed and stable.severity == dg.AssetCheckSeverity.ERROR
    assert "hours number -> string" in stable.metadata["detail"].value
    assert "| `hours` | type_change | number | string | yes |" in stable.metadata["diff"].value
    assert not checks[("raw/time_entries", "records_screened")].passed
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert "raw/time_entries" in materialized and "normalized/billable_lines" not in materialized


def test_a_lone_malformed_record_warns_and_the_rest_is_normalized() -> None:
    result = _run(RecordFault("time_entries", 1000000001, "hours", "1.5"))
    assert result.success
    checks = _checks(result)
    screened = checks[("raw/time_entries", "records_screened")]
    assert not screened.passed and screened.severity == dg.AssetCheckSeverity.WARN
    assert "1 rejected (wrong_type: 1)" in screened.metadata["detail"].value
    assert checks[("raw/time_entries", "priced_fields_stable")].passed
    lines = Warehouse().query(
        "us", "SELECT source_id FROM normalized.billable_lines WHERE source_kind = 'time'"
    )
    assert lines.height > 0 and 1000000001 not in lines["source_id"].to_list()
