"""The consistency job against both sandboxes: an entry deleted in the PM system after its month was
posted is seen by re-listing the month (Harvest sends no webhook and `updated_since` cannot return it),
tombstoned, reported as billed but gone, re-normalized by the repair sensor, and credited."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import dagster as dg
import pytest

from assets.partitions import month_key
from assets.raw.pm_consistency import PM_CONSISTENT
from pipelines.consistency import changes_of, months_to_check
from pipelines.definitions import defs
from pipelines.runner import sync_month
from resources.configuration import current_config
from resources.warehouse import Warehouse
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration
AUGUST = date(2026, 8, 1)
DELETED = 1000000001  # billed on BB-US-202608-5002-USD: 1.5 h at 140.00
EDITED = 1000000002


def test_a_deletion_after_posting_is_tombstoned_reported_and_credited(sandboxes: Sandboxes) -> None:
    warehouse = Warehouse()
    with dg.instance_for_test() as instance:
        assert all(o.success for o in sync_month(instance, defs, "us", AUGUST))
        sandboxes.harvest.delete_time_entry(DELETED)
        hours = next(e for e in sandboxes.company.time_entries if e["id"] == EDITED)["hours"]
        sandboxes.harvest.update_time_entry(EDITED, hours=hours + 1)

        check = defs.resolve_job_def("check_pm_consistency").execute_in_process(
            instance=instance, partition_key=str(month_key("us", AUGUST)), raise_on_error=False
        )
        assert check.success
        [evaluation] = check.get_asset_check_evaluations()
        assert (evaluation.check_name, evaluation.passed) == (PM_CONSISTENT, False)
        metadata = check.asset_materializations_for_node("quality__pm_consistency")[0].metadata
        assert metadata["tombstones"].value == 1 and metadata["missed_or_changed"].value == 1
        assert metadata["billed_but_gone"].value == 1
        row = warehouse.query(
            "us", "SELECT tombstones, billed_but_gone, consistent FROM quality.pm_consistency"
        ).row(0)
        assert row == (1, 1, False)
        assert (
            warehouse.query("us", f"SELECT count(*) FROM raw.time_entries WHERE record_id = {DELETED}").item()
            == 0
        )
        versions = warehouse.query(
            "us", f"SELECT version, change FROM raw.record_versions WHERE record_id = {DELETED} ORDER BY 1"
        ).rows()
        assert versions == [(1, "created"), (2, "deleted")]

        # The repair sensor asks for the touched days again, tagged as corrections (August is posted).
        context = dg.build_sensor_context(instance=instance, definitions=defs)
        requests = defs.get_sensor_def("pm_consistency_repairs").evaluate_tick(context).run_requests or []
        days = {e["spent_date"] for e in sandboxes.company.time_entries if e["id"] == EDITED} | {"2026-08-03"}
        assert sorted(str(r.partition_key) for r in requests) == sorted(f"{d}|us" for d in days)
        assert all(r.tags.get("billbridge/correction") == "true" for r in requests)
        for request in requests:  # what the daemon would launch
            run = defs.resolve_job_def("extract_and_normalize").execute_in_process(
                instance=instance, partition_key=request.partition_key, tags=request.tags
            )
            assert run.success
        # Billing the month again drafts the correction: the deleted entry's hours are credited.
        billing = defs.resolve_job_def("bill_and_post").execute_in_process(
            instance=instance, partition_key=str(month_key("us", AUGUST)), raise_on_error=False
        )
        assert billing.success
    credited = warehouse.query(
        "us",
        "SELECT s.correction_quantity FROM billing.correction_sources AS s WHERE s.document_kind = 'credit_note' "
        f"AND list_contains(s.current_line_ids, 'time-{DELETED}') IS NOT TRUE",
    )["correction_quantity"].to_list()
    assert Decimal("-1.5000") in credited


def test_changes_name_the_day_a_moved_record_left() -> None:
    logged = [
        {
            "kind": "time_entries",
            "record_id": 5,
            "version": 2,
            "hash": "h",
            "day": "2026-08-04",
            "previous_day": "2026-08-03",
            "entity": "us",
        },
        {
            "kind": "expenses",
            "record_id": 6,
            "version": 2,
            "hash": "deleted",
            "day": "2026-08-05",
            "previous_day": "2026-08-05",
            "entity": "us",
        },
    ]
    assert [(c.record_id, c.day) for c in changes_of(logged)] == [
        (5, "2026-08-03"),
        (5, "2026-08-04"),
        (6, "2026-08-05"),
    ]


def test_the_nightly_check_covers_the_previous_and_current_month() -> None:
    assert months_to_check(date(2026, 9, 3)) == [date(2026, 8, 1), date(2026, 9, 1)]
    assert months_to_check(date(2027, 1, 31)) == [date(2026, 12, 1), date(2027, 1, 1)]
    assert current_config().entity_ids  # one request per entity and month
