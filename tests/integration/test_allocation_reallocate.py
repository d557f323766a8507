"""`reallocate` through real Dagster on a real warehouse: runs append, the diff explains a rule change."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from assets.allocation.allocation_assets import cost_allocations
from pipelines.definitions import defs
from pipelines.partitions import month_key
from pipelines.runner import QUIET, sync_month
from resources.allocation_config import DEFAULT_RULES_PATH
from resources.configuration import current_config
from resources.warehouse import Warehouse
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration

SEP = date(2026, 9, 1)
CENT = Decimal("0.01")


def _reallocate(instance: dg.DagsterInstance, **config: Any) -> dg.ExecuteInProcessResult:
    return defs.resolve_job_def("reallocate").execute_in_process(
        instance=instance,
        run_config={
            **QUIET,
            "ops": {"reallocate_scope": {"config": {"entities": ["us"], "months": ["2026-09"], **config}}},
        },
        raise_on_error=False,
    )


def _output_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    event = next(e for e in result.all_events if e.is_successful_output)
    return {k: v.value for k, v in event.step_output_data.metadata.items()}


def _draft_rules(tmp_path: Path) -> Path:
    """A draft copy of the shipped rule set with rent allocated by hours instead of headcount."""
    for name in ("overheads.csv", "usage.csv"):
        (tmp_path / name).write_text((DEFAULT_RULES_PATH.parent / name).read_text())
    text = DEFAULT_RULES_PATH.read_text()
    old = "{ id: RENT-HEADCOUNT, pool: rent, driver: headcount,"
    assert old in text
    draft = tmp_path / "allocation_rules.yaml"
    draft.write_text(
        text.replace(old, "{ id: RENT-HOURS, pool: rent, driver: hours,").replace(
            '"2026.11.1"', '"2026.12.0-draft"'
        )
    )
    return draft


def test_reallocate_appends_runs_and_diffs_a_rule_change(sandboxes: Sandboxes, tmp_path: Path) -> None:
    warehouse = Warehouse()
    company = sandboxes.company
    # Independent pool: September internal time at cost rate, rounded half-up per entry, of the
    # people whose home entity is us (internal work is a cost of the person's own entity).
    people = getattr(current_config().mapping, "people", None) or []
    us_people = {p.pm_user_id for p in people if p.home_entity == "us"} or {
        e["user"]["id"] for e in company.time_entries
    }
    internal_time = sum(
        (
            (Decimal(str(e["hours"])) * Decimal(str(e["cost_rate"]))).quantize(CENT, rounding=ROUND_HALF_UP)
            for e in company.time_entries
            if e["project"]["id"] == 6301
            and e["spent_date"].startswith("2026-09")
            and e["user"]["id"] in us_people
        ),
        Decimal(0),
    )
    assert internal_time > 0
    with dg.instance_for_test() as instance:
        for outcome in sync_month(instance, defs, "us", SEP):
            assert outcome.success, outcome.error
        # The partitioned asset with the shipped rule set: the first allocation run.
        first = dg.materialize(
            [cost_allocations],
            partition_key=str(month_key("us", SEP)),
            instance=instance,
            resources={"warehouse": warehouse},
        )
        assert first.success
        pools = dict(
            warehouse.query(
                "us", "SELECT pool_id, sum(amount) AS s FROM allocation.slices GROUP BY ALL"
            ).iter_rows()
        )
        assert pools == {
            "internal_time": internal_time,
            "rent": Decimal("12000.00"),
            "software": Decimal("1450.00"),
            "management": Decimal("9000.00"),
        }
        schedule = warehouse.query(
            "us", "SELECT count(*) AS n, sum(amount) AS s FROM allocation.depreciation_schedule"
        )
        assert schedule.row(0) == (36, Decimal("7200.00"))
        journals = warehouse.query(
            "us", "SELECT journal_ref, sum(line_amount) AS s FROM allocation.journal_drafts GROUP BY ALL"
        )
        assert journals.height == 37 and set(journals["s"]) == {Decimal(0)}

        draft = _draft_rules(tmp_path)
        dry = _reallocate(
            instance, rule_set_path=str(draft), rule_set_version="2026.12.0-draft", dry_run=True
        )
        assert dry.success
        meta = _output_metadata(dry)
        assert meta["dry_run"] is True
        project_rows = [r for r in meta["diff"].splitlines() if r.startswith("| project ")]
        assert len(project_rows) == 3 and all("rule change" in r for r in project_rows)
        assert (
            warehouse.query("us", "SELECT count(*) AS n FROM allocation.runs")["n"][0] == 1
        )  # nothing written

        wrong = _reallocate(instance, rule_set_path=str(draft), rule_set_version="2026.11.1")
        assert not wrong.success  # the version guard refuses the wrong file

        real = _reallocate(instance, rule_set_path=str(draft))
        assert real.success
        runs = warehouse.query(
            "us", "SELECT run_id, rule_set_version FROM allocation.runs ORDER BY created_at"
        )
        assert runs["run_id"].to_list() == [first.run_id, real.run_id]  # the earlier run is kept
        assert runs["rule_set_version"][1].startswith("2026.12.0-draft+")
        kept = warehouse.query(
            "us",
            "SELECT count(*) AS n FROM allocation.slices WHERE run_id = ? AND pool_id = 'rent'",
            [first.run_id],
        )
        assert kept["n"][0] == 3
        # Rent now follows September hours on the client projects: check each slice against 12000 x h / H.
        hours = dict(
            warehouse.query(
                "us",
                "SELECT CAST(project_id AS VARCHAR), sum(quantity) FROM normalized.billable_lines "
                "WHERE source_kind = 'time' AND project_id <> 6301 AND day BETWEEN '2026-09-01' AND '2026-09-30' GROUP BY ALL",
            ).iter_rows()
        )
        rent = dict(
            warehouse.query(
                "us",
                "SELECT target_id, amount FROM allocation.slices WHERE run_id = ? AND pool_id = 'rent'",
                [real.run_id],
            ).iter_rows()
        )
        total_hours = sum(hours.values(), Decimal(0))
        assert set(rent) == set(hours) and sum(rent.values(), Decimal(0)) == Decimal("12000.00")
        for project, amount in rent.items():
            assert abs(amount - Decimal(12000) * hours[project] / total_hours) < CENT
        materialized = instance.get_latest_materialization_event(
            dg.AssetKey(["allocation", "cost_allocations"])
        )
        assert materialized is not None and materialized.run_id == real.run_id
