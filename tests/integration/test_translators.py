"""Translators side by side: an account answering with page numbers and today's field names, and one
answering with cursors and Harvest v1's `spent_at`, extract the same raw rows and normalize to
identical lines; each raw row records the version it arrived in."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta

import polars as pl
import pytest

from assets.partitions import DaySlice
from assets.raw.pm_extracts import extract_slice
from assets.raw.raw_checks import PAYLOAD_DRIFT, raw_outcomes
from resources.configuration import current_config
from resources.fx import EcbRates
from resources.harvest import HarvestClient
from resources.warehouse import Warehouse
from rules.normalizing import normalize_lines
from rules.routing import EntityRoutes
from sandbox.company import generate_company
from sandbox.harvest import HarvestSandbox
from sandbox.harvest.variants import CursorPagination, ListVariant, RenamedFields

pytestmark = pytest.mark.integration
AUGUST = DaySlice("us", tuple(date(2026, 8, 1) + timedelta(days=i) for i in range(31)))


def _extract_and_normalize(
    *variants: ListVariant,
) -> tuple[Warehouse, pl.DataFrame, pl.DataFrame, tuple[bool, str]]:
    config = current_config()
    with HarvestSandbox(generate_company(seed=7), rate_limit=None, variants=variants, record=True) as sandbox:
        harvest = HarvestClient(
            base_url=sandbox.url, account_id="100001", access_token="demo-harvest-token", per_page=50
        )
        warehouse = Warehouse(home=tempfile.mkdtemp(prefix="translators-"))
        counts = extract_slice(harvest, warehouse, AUGUST, "run", EntityRoutes.from_config(config))
        cursors = [x for x in sandbox.exchanges if "cursor" in x.query]
    where = "WHERE entity = 'us'"
    result = normalize_lines(
        warehouse.query("us", f"SELECT * FROM raw.time_entries {where}"),
        warehouse.query("us", f"SELECT * FROM raw.expenses {where}"),
        warehouse.query("us", "SELECT kind, payload FROM raw.directory"),
        config.entity("us"), config, EcbRates().snapshot(), "run",
    )  # fmt: skip
    assert bool(cursors) == any(isinstance(v, CursorPagination) for v in variants)
    drift = raw_outcomes("us", [counts["time_entries"], counts["expenses"]])[PAYLOAD_DRIFT]
    return warehouse, result.lines, result.quarantine, drift


def test_both_source_versions_give_identical_normalized_lines() -> None:
    _, lines, quarantine, drift = _extract_and_normalize()
    legacy_warehouse, legacy_lines, legacy_quarantine, legacy_drift = _extract_and_normalize(
        CursorPagination(), RenamedFields()
    )
    assert drift[0] and not legacy_drift[0]  # the deprecated field names are named; the rows still flow
    assert "record(s) in deprecated v2-legacy-spent_at" in legacy_drift[1]
    assert lines.height > 100
    assert legacy_lines.equals(lines)
    # The quarantine's payload carries notes encrypted with a random nonce (resources/field_crypto.py).
    assert legacy_quarantine.drop("payload").equals(quarantine.drop("payload")) and quarantine.height
    versions = legacy_warehouse.query("us", "SELECT DISTINCT contract_version FROM raw.time_entries")[
        "contract_version"
    ].to_list()
    assert (
        len(versions) == 1 and "cursor pages" in versions[0] and "v2-legacy-spent_at records" in versions[0]
    )
    sent = legacy_warehouse.query(
        "us", "SELECT payload, source_payload FROM raw.record_versions WHERE kind = 'time_entries' LIMIT 1"
    ).row(0)
    assert '"spent_date"' in sent[0] and '"spent_at"' in sent[1]  # today's shape, and exactly what was sent
