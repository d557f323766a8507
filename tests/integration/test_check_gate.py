"""A failing blocking check shows as FAILED in the Dagster instance, with its detail, and writes nothing.

`billing/invoice_drafts` through real Dagster on a real DuckDB warehouse: the month is drafted
once; then another period's drafts claim one of its lines (as if billed there already), so
`no_time_entry_billed_twice` fails on the rerun. The instance must hold the failed evaluation
(what the UI shows on the asset), the run must fail naming the check and the entity-month, and
the month's drafts must be exactly those of the first run.
"""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from assets.billing.invoice_drafts import (
    BILLED_ONCE,
    INVOICE_DRAFTS,
    LINES_SUM_TO_TOTALS,
    build_invoice_drafts,
)
from assets.partitions import Partitions, month_key
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from resources.fx import EcbRates
from resources.warehouse import Warehouse, append
from rules.normalizing import normalize_lines
from tests.factories import directory, fx_snapshot, raw_frame, time_entry

pytestmark = pytest.mark.integration

CONFIG = load_config(DEFAULT_CONFIG_PATH)
AUGUST = month_key("uk", date(2026, 8, 1))
RATES = fx_snapshot({date(2026, 7, 31): {"USD": "1.25", "GBP": "0.8"}})


def _normalized(warehouse: Warehouse) -> list[str]:
    """Two priced August lines for uk (what extraction and normalization would have written); their ids."""
    entries = [
        time_entry(i, 2, 100, client=5101, project=6101, task=7000 + i, currency="GBP") for i in (1, 2)
    ]
    result = normalize_lines(
        raw_frame(entries, "uk"), raw_frame([], "uk"), directory({6101: True}, {5101: "GBP"}),
        CONFIG.entity("uk"), CONFIG, RATES, "normalize-run",
    )  # fmt: skip
    assert result.quarantine.height == 0 and result.lines.height == 2
    with warehouse.transaction("uk") as con:
        append(con, "normalized.billable_lines", result.lines)
    return sorted(result.lines["line_id"].to_list())


def _draft(instance: dg.DagsterInstance, warehouse: Warehouse) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [build_invoice_drafts(Partitions.of(CONFIG))],
        partition_key=str(AUGUST),
        instance=instance,
        resources={"warehouse": warehouse, "fx": EcbRates(), "settings": CONFIG},
        raise_on_error=False,
    )


def _latest(instance: dg.DagsterInstance, name: str) -> tuple[AssetCheckExecutionRecordStatus, str]:
    key = dg.AssetCheckKey(INVOICE_DRAFTS, name)
    record = instance.event_log_storage.get_latest_asset_check_execution_by_key([key])[key]
    return record.status, record.run_id


def test_a_failed_blocking_check_is_reported_to_dagster_and_nothing_is_written() -> None:
    warehouse = Warehouse()
    line_ids = _normalized(warehouse)
    drafts_sql = "SELECT invoice_number, total, content_hash, run_id FROM billing.invoice_drafts ORDER BY 1"
    with dg.instance_for_test() as instance:
        first = _draft(instance, warehouse)
        assert first.success
        drafted = warehouse.query("uk", drafts_sql)
        assert drafted.height == 1 and set(drafted["run_id"]) == {first.run_id}

        # July's drafts already bill one of August's lines.
        with warehouse.transaction("uk") as con:
            con.execute(
                "INSERT INTO billing.invoice_line_sources VALUES ('BB-UK-202607-5101-GBP', 1, 'uk', '2026-07', ?)",
                [line_ids[0]],
            )
        failed = _draft(instance, warehouse)
        assert not failed.success

        # The run fails in one line naming the check and the entity-month.
        error = next(e for e in failed.all_events if e.is_step_failure).step_failure_data.error
        assert error is not None
        assert f"blocking check(s) {BILLED_ONCE} failed, nothing of uk|2026-08 written" in error.message
        assert (
            f"{BILLED_ONCE} on uk|2026-08: 0 line(s) billed twice here, 1 already billed elsewhere"
            in error.message
        )

        # The instance (and so the UI) holds the failed check on the asset, with its detail, and the
        # check that held as passed: both from the failed run, neither attached to the first run's drafts.
        assert _latest(instance, BILLED_ONCE) == (AssetCheckExecutionRecordStatus.FAILED, failed.run_id)
        assert _latest(instance, LINES_SUM_TO_TOTALS) == (
            AssetCheckExecutionRecordStatus.SUCCEEDED,
            failed.run_id,
        )
        evaluations = {
            e.check_name: e
            for e in (
                record.get_dagster_event().asset_check_evaluation_data
                for record in instance.all_logs(
                    failed.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION
                )
            )
        }
        billed_twice = evaluations[BILLED_ONCE]
        assert (billed_twice.passed, billed_twice.blocking) == (False, True)
        assert billed_twice.target_materialization_data is None
        assert line_ids[0] in str(billed_twice.metadata["detail"].value)
        assert billed_twice.metadata["broken_in"].value == "uk|2026-08"
        assert instance.get_latest_materialization_event(INVOICE_DRAFTS).run_id == first.run_id  # type: ignore[union-attr]

    # Nothing of the month was written: the first run's drafts stand; the outcome is recorded.
    assert warehouse.query("uk", drafts_sql).equals(drafted)
    assert warehouse.query(
        "uk", "SELECT partition, check_name, passed, run_id FROM quality.check_results WHERE NOT passed"
    ).rows() == [("uk|2026-08", BILLED_ONCE, False, failed.run_id)]
