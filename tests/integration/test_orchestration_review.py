"""The weekly review lists exceptions per entity and week; a poll of an unreachable PM API skips, never throws."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from pipelines.definitions import defs
from resources.harvest import HarvestClient
from resources.warehouse import Warehouse

pytestmark = pytest.mark.integration


def test_weekly_review_tables_exceptions_per_entity_and_week() -> None:
    with Warehouse().transaction("uk") as con:
        con.execute(
            "INSERT INTO normalized.quarantine (entity, day, source_kind, source_id, reason, detail, payload,"
            " rule_set_version, run_id) VALUES"
            " ('uk', DATE '2026-09-02', 'time', 1, 'negative_hours', '-1 h', '{}', 'v', 'r'),"
            " ('uk', DATE '2026-09-04', 'time', 2, 'negative_hours', '-2 h', '{}', 'v', 'r'),"
            " ('uk', DATE '2026-09-08', 'time', 3, 'unknown_project', 'p 9', '{}', 'v', 'r')"
        )
    with dg.instance_for_test() as instance:
        result = defs.resolve_job_def("weekly_review").execute_in_process(instance=instance)
    assert result.success
    [materialization] = [e for e in result.all_events if e.event_type_value == "STEP_OUTPUT"]
    metadata = materialization.step_output_data.metadata
    review = metadata["review"].value
    # 2 and 4 September 2026 fall in the week starting Monday 31 August; the 8th in the next.
    assert "| 2026-08-31 | uk | quarantine | negative_hours | 2 |" in review
    assert "| 2026-09-07 | uk | quarantine | unknown_project | 1 |" in review
    assert metadata["exceptions"].value == 3
    # The latest month's KPIs (decision 0034): a table, and each figure a number the UI plots.
    assert "| corrections per invoice |" in metadata["kpis"].value
    assert metadata["kpi/uk/invoices"] == dg.MetadataValue.int(0)


def test_poll_of_an_unreachable_pm_api_skips_and_keeps_its_cursor() -> None:
    harvest = HarvestClient(
        base_url="http://127.0.0.1:9/v2", account_id="1", access_token="t", max_attempts=1
    )
    cursor = json.dumps({"time_entries": "2026-11-01T00:00:00Z", "expenses": "2026-11-01T00:00:00Z"})
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={"harvest": harvest})
        result = defs.resolve_sensor_def("pm_updated_since_poll").evaluate_tick(context)
    assert not result.run_requests
    assert "PM API poll failed" in str(result.skip_message)
    assert result.cursor in (None, cursor)
