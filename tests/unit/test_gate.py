"""The check gate on its own: a small asset over two entity-months, a real DuckDB file, a real instance."""

from datetime import date
from decimal import Decimal
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from assets.gate import CheckGate, Outcomes, conforms
from assets.partitions import MonthSlice
from checks.schemas import RetainerBalances
from resources.warehouse import Warehouse

LEDGER = dg.AssetKey(["test", "ledger"])
CHECKS = [
    dg.AssetCheckSpec("sums_agree", asset=LEDGER, blocking=True, description="Lines sum to totals."),
    dg.AssetCheckSpec("tidy_names", asset=LEDGER, blocking=False, description="Names are tidy."),
]
AUGUST, SEPTEMBER = MonthSlice("us", date(2026, 8, 1)), MonthSlice("us", date(2026, 9, 1))
HELD: Outcomes = {"sums_agree": (True, "3 invoices agree"), "tidy_names": (True, "all tidy")}


def _ledger_asset(warehouse: Warehouse, months: list[tuple[MonthSlice, Outcomes]]) -> dg.AssetsDefinition:
    @dg.asset(key=LEDGER, check_specs=CHECKS)
    def ledger(context: dg.AssetExecutionContext):  # type: ignore[no-untyped-def]
        gate = CheckGate(CHECKS, warehouse, context.run.run_id)
        for part, outcomes in months:
            if not gate.admit(part, outcomes):
                yield from gate.stop()
            with gate.transaction(part) as con:
                con.execute("CREATE TABLE IF NOT EXISTS main.written (label VARCHAR)")
                con.execute("INSERT INTO main.written VALUES (?)", [part.label()])
        yield dg.MaterializeResult(check_results=gate.results())

    return ledger


def _run(
    tmp_path: Path, months: list[tuple[MonthSlice, Outcomes]]
) -> tuple[dg.ExecuteInProcessResult, Warehouse, dict[str, AssetCheckExecutionRecordStatus]]:
    warehouse = Warehouse(home=str(tmp_path))
    with dg.instance_for_test() as instance:
        result = dg.materialize([_ledger_asset(warehouse, months)], instance=instance, raise_on_error=False)
        keys = [dg.AssetCheckKey(LEDGER, spec.name) for spec in CHECKS]
        latest = instance.event_log_storage.get_latest_asset_check_execution_by_key(keys)
    return result, warehouse, {key.name: record.status for key, record in latest.items()}


def _written(warehouse: Warehouse) -> list[str]:
    if not warehouse.exists("us"):
        return []
    with warehouse.connect("us") as con:
        con.execute("CREATE TABLE IF NOT EXISTS main.written (label VARCHAR)")
        return [row[0] for row in con.execute("SELECT label FROM main.written ORDER BY 1").fetchall()]


def _recorded(warehouse: Warehouse) -> list[tuple[str, str, bool]]:
    return warehouse.query(
        "us", "SELECT partition, check_name, passed FROM quality.check_results ORDER BY 1, 2"
    ).rows()


def test_passing_months_are_written_with_their_outcomes_and_reported(tmp_path: Path) -> None:
    result, warehouse, latest = _run(tmp_path, [(AUGUST, HELD), (SEPTEMBER, HELD)])
    assert result.success
    assert _written(warehouse) == ["us|2026-08", "us|2026-09"]
    assert _recorded(warehouse) == [
        ("us|2026-08", "sums_agree", True), ("us|2026-08", "tidy_names", True),
        ("us|2026-09", "sums_agree", True), ("us|2026-09", "tidy_names", True),
    ]  # fmt: skip
    assert latest == {
        "sums_agree": AssetCheckExecutionRecordStatus.SUCCEEDED,
        "tidy_names": AssetCheckExecutionRecordStatus.SUCCEEDED,
    }
    [evaluation, _] = result.get_asset_check_evaluations()
    # Attached to this run's materialization, each month's detail in one table.
    assert evaluation.target_materialization_data is not None
    assert "| us\\|2026-09 | True | 3 invoices agree |" in str(evaluation.metadata["detail"].value)
    assert evaluation.metadata["entity_months"].value == 2


def test_a_failed_blocking_check_stops_before_the_month_is_written_and_reports_first(tmp_path: Path) -> None:
    broken: Outcomes = {
        "sums_agree": (False, "INV-7 total 100.00 != lines 99.99"),
        "tidy_names": (True, "all tidy"),
    }
    result, warehouse, latest = _run(tmp_path, [(AUGUST, HELD), (SEPTEMBER, broken)])
    assert not result.success
    # August passed and was written before September was judged; September is not written.
    assert _written(warehouse) == ["us|2026-08"]
    assert ("us|2026-09", "sums_agree", False) in _recorded(warehouse)
    assert latest == {
        "sums_agree": AssetCheckExecutionRecordStatus.FAILED,
        "tidy_names": AssetCheckExecutionRecordStatus.SUCCEEDED,
    }
    failed = next(e for e in result.get_asset_check_evaluations() if not e.passed)
    assert (failed.check_name, failed.blocking, failed.metadata["broken_in"].value) == (
        "sums_agree",
        True,
        "us|2026-09",
    )
    error = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    assert error is not None
    assert error.message.strip().endswith(
        "blocking check(s) sums_agree failed, nothing of us|2026-09 written (us|2026-08 written): "
        "sums_agree on us|2026-09: INV-7 total 100.00 != lines 99.99"
    )


def test_a_failed_check_that_does_not_block_is_reported_and_the_month_written(tmp_path: Path) -> None:
    untidy: Outcomes = {"sums_agree": (True, "agree"), "tidy_names": (False, "2 names with trailing spaces")}
    result, warehouse, latest = _run(tmp_path, [(AUGUST, untidy)])
    assert result.success
    assert _written(warehouse) == ["us|2026-08"]
    assert latest["tidy_names"] == AssetCheckExecutionRecordStatus.FAILED


def test_outcomes_must_name_exactly_the_declared_checks(tmp_path: Path) -> None:
    gate = CheckGate(CHECKS, Warehouse(home=str(tmp_path)), "run-1")
    with pytest.raises(ValueError, match=r"us\|2026-08: outcomes for \['sums_agree'\]"):
        gate.judge(AUGUST.label(), {"sums_agree": (True, "")})


def test_a_schema_failure_becomes_an_outcome_naming_the_column() -> None:
    row = {
        "entity": "us", "period": "2026-08", "client_id": 5001, "currency": "USD", "retainer_id": "R1",
        "opening": Decimal("10.0000"), "top_up": Decimal("0.0000"), "drawn": Decimal("4.0000"),
        "closing": Decimal("6.0000"), "rule_set_version": "v", "run_id": "r",
    }  # fmt: skip
    money = pl.Decimal(18, 4)
    schema = {k: money for k in ("opening", "top_up", "drawn", "closing")}
    good = pl.DataFrame([row], schema_overrides=schema)
    assert conforms(RetainerBalances, good) == (True, "1 row(s) match RetainerBalances")
    passed, detail = conforms(RetainerBalances, good.with_columns(pl.col("closing").cast(pl.Float64)))
    assert not passed
    assert detail.startswith("RetainerBalances: closing dtype")
