"""`reallocate` through real Dagster on a real warehouse: runs append, the diff explains a rule change,
and the invariants are blocking asset checks the Dagster instance records (passing and failing)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from assets.allocation.allocation_assets import CHECKS, COST_ALLOCATIONS, build_cost_allocations
from assets.partitions import Partitions, month_key
from pipelines.cli import main
from pipelines.definitions import defs
from pipelines.runner import QUIET, sync_month
from resources.allocation_config import DEFAULT_RULES_PATH
from resources.configuration import current_config
from resources.warehouse import Warehouse
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration

SEP, OCT = date(2026, 9, 1), date(2026, 10, 1)
COST_ALLOCATIONS_ASSET = build_cost_allocations(Partitions.of(current_config()))
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


def _latest_checks(instance: dg.DagsterInstance) -> dict[str, tuple[AssetCheckExecutionRecordStatus, str]]:
    """Each allocation check's latest execution as the instance (and so the UI) holds it: (status, run id)."""
    records = instance.event_log_storage.get_latest_asset_check_execution_by_key(
        [dg.AssetCheckKey(COST_ALLOCATIONS, name) for name in CHECKS]
    )
    return {key.name: (record.status, record.run_id) for key, record in records.items()}


def _run_evaluations(instance: dg.DagsterInstance, run_id: str) -> list[dg.AssetCheckEvaluation]:
    """The check evaluations in a run's event log, as stored in the instance."""
    return [
        record.get_dagster_event().asset_check_evaluation_data
        for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
    ]


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
        # The close allocated the month (the first allocation run); the partitioned asset, materialized
        # again over the same inputs, keeps that run and reports its checks.
        first = dg.materialize(
            [COST_ALLOCATIONS_ASSET],
            partition_key=str(month_key("us", SEP)),
            instance=instance,
            resources={"warehouse": warehouse, "settings": current_config()},
        )
        assert first.success
        assert _latest_checks(instance) == {
            name: (AssetCheckExecutionRecordStatus.SUCCEEDED, first.run_id) for name in CHECKS
        }
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
        # A draft's dry run judges no stored allocation: the asset's checks still show the first run.
        assert {run for _, run in _latest_checks(instance).values()} == {first.run_id}

        wrong = _reallocate(instance, rule_set_path=str(draft), rule_set_version="2026.11.1")
        assert not wrong.success  # the version guard refuses the wrong file

        real = _reallocate(instance, rule_set_path=str(draft))
        assert real.success
        # The op job's invariants are check evaluations of the asset, recorded in the instance.
        assert _latest_checks(instance) == {
            name: (AssetCheckExecutionRecordStatus.SUCCEEDED, real.run_id) for name in CHECKS
        }
        evaluations = _run_evaluations(instance, real.run_id)
        assert {(e.check_name, e.passed, e.blocking) for e in evaluations} == {
            (name, True, True) for name in CHECKS
        }
        runs = warehouse.query(
            "us", "SELECT run_id, rule_set_version FROM allocation.runs ORDER BY created_at"
        )
        assert runs["run_id"][1] == real.run_id and runs.height == 2  # the earlier run is kept
        assert runs["rule_set_version"][1].startswith("2026.12.0-draft+")
        kept = warehouse.query(
            "us",
            "SELECT count(*) AS n FROM allocation.slices WHERE run_id = ? AND pool_id = 'rent'",
            [runs["run_id"][0]],
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


def _negative_seats_rules(tmp_path: Path) -> Path:
    """A draft rule set whose usage table gives project 6002 minus two seats in September (seats handed
    back, keyed as a negative count): SOFTWARE-SEATS, which does not allow negative shares, would
    charge 6002 a negative slice."""
    (tmp_path / "overheads.csv").write_text((DEFAULT_RULES_PATH.parent / "overheads.csv").read_text())
    usage = (DEFAULT_RULES_PATH.parent / "usage.csv").read_text()
    assert "us,2026-09,seats,6002,2\n" in usage
    (tmp_path / "usage.csv").write_text(
        usage.replace("us,2026-09,seats,6002,2\n", "us,2026-09,seats,6002,-2\n")
    )
    draft = tmp_path / "allocation_rules.yaml"
    draft.write_text(DEFAULT_RULES_PATH.read_text())
    return draft


def test_a_broken_invariant_fails_the_run_names_the_check_and_writes_nothing_of_the_scope(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Empty months: only the overheads exist. September's software (1,450.00) by seats 4 : -2 : 3
    # would be 1,160.00 / -580.00 / 870.00, and its hardware (7,200.00) is capitalized (37 journals).
    warehouse = Warehouse()
    draft = _negative_seats_rules(tmp_path)
    with dg.instance_for_test() as instance:
        broken = _reallocate(instance, months=["2026-08", "2026-09"], rule_set_path=str(draft))
        assert not broken.success
        failure = next(e for e in broken.all_events if e.is_step_failure).step_failure_data.error
        assert failure is not None
        assert "blocking check(s) no_forbidden_negative_share failed" in failure.message
        assert "us|2026-09: 1 negative slice(s) under rules that forbid it" in failure.message
        assert "->6002" in failure.message

        latest = _latest_checks(instance)
        assert latest.pop("no_forbidden_negative_share") == (
            AssetCheckExecutionRecordStatus.FAILED,
            broken.run_id,
        )
        assert latest == {
            name: (AssetCheckExecutionRecordStatus.SUCCEEDED, broken.run_id)
            for name in CHECKS
            if name != "no_forbidden_negative_share"
        }
        failed = next(e for e in _run_evaluations(instance, broken.run_id) if not e.passed)
        assert failed.blocking is True
        assert failed.metadata["broken_in"].value == "us|2026-09"
        assert failed.metadata["entity_months"].value == 2

        # Nothing of the scope is written: not September, and not August, which held.
        for table in ("runs", "slices", "journal_drafts", "profitability"):
            count = warehouse.query("us", f"SELECT count(*) AS n FROM allocation.{table}")["n"][0]
            assert count == 0, table
        assert warehouse.query(
            "us",
            "SELECT partition, check_name FROM quality.check_results WHERE NOT passed",
        ).rows() == [("us|2026-09", "no_forbidden_negative_share")]
        assert instance.get_latest_materialization_event(COST_ALLOCATIONS) is None

        # The partitioned asset with the same rule set (the environment's rule-set path) is blocked too.
        with pytest.MonkeyPatch.context() as env:
            env.setenv("BILLBRIDGE_ALLOCATION_RULES", str(draft))
            asset_run = dg.materialize(
                [COST_ALLOCATIONS_ASSET],
                partition_key=str(month_key("us", SEP)),
                instance=instance,
                resources={"warehouse": warehouse, "settings": current_config()},
                raise_on_error=False,
            )
        assert not asset_run.success
        assert _latest_checks(instance)["no_forbidden_negative_share"] == (
            AssetCheckExecutionRecordStatus.FAILED,
            asset_run.run_id,
        )
        assert warehouse.query("us", "SELECT count(*) AS n FROM allocation.journal_drafts")["n"][0] == 0

        # With the shipped usage table the same scope holds and is written, journals included.
        fixed = _reallocate(instance, months=["2026-08", "2026-09"])
        assert fixed.success
        assert _latest_checks(instance) == {
            name: (AssetCheckExecutionRecordStatus.SUCCEEDED, fixed.run_id) for name in CHECKS
        }
        assert warehouse.query("us", "SELECT count(*) AS n FROM allocation.runs")["n"][0] == 2
        journals = warehouse.query(
            "us", "SELECT count(DISTINCT journal_ref) AS n FROM allocation.journal_drafts"
        )
        assert journals["n"][0] == 37

    # `billbridge allocate` says the same in one line and exits 1.
    assert main(["allocate", "--month", "2026-09", "--entity", "us", "--rules", str(draft)]) == 1
    out = capsys.readouterr().out
    assert "reallocate FAILED" in out and "no_forbidden_negative_share" in out


def _ledger_net_by_account(journals: list[dict[str, Any]]) -> dict[str, Decimal]:
    net: dict[str, Decimal] = {}
    for journal in journals:
        for line in journal["JournalLines"]:
            net[line["AccountCode"]] = net.get(line["AccountCode"], Decimal(0)) + Decimal(
                str(line["LineAmount"])
            )
    return {account: amount for account, amount in net.items() if amount != 0}


def test_allocation_journals_post_month_by_month_and_a_reallocation_reverses_what_it_supersedes(
    sandboxes: Sandboxes, tmp_path: Path
) -> None:
    """Each month's close posts the allocation journals dated within it; after a reallocation with
    another rule set, re-closing the months reverses the superseded journals, so the ledger holds,
    account by account, exactly the current run's journals dated up to the last closed month."""
    tenant = current_config().entity("us").accounting_tenant_id
    with dg.instance_for_test() as instance:
        for month in (SEP, OCT):  # September's capitalization, then October's depreciation 1/36
            for outcome in sync_month(instance, defs, "us", month):
                assert outcome.success, outcome.error
        assert len(sandboxes.xero.documents(tenant, "MANUALJOURNAL")) == 2
        # The accountants shorten the hardware's life from three years to two: the depreciation changes.
        draft = _draft_rules(tmp_path)
        draft.write_text(draft.read_text().replace("life_months: 36", "life_months: 24"))
        real = _reallocate(instance, rule_set_path=str(draft))
        assert real.success
        for _ in range(2):  # the second round finds everything booked and sends nothing
            for month in (SEP, OCT):
                for outcome in sync_month(instance, defs, "us", month):
                    assert outcome.success, outcome.error
        ledger = sandboxes.xero.documents(tenant, "MANUALJOURNAL")
    # The capitalization is unchanged and stays; October's 200.00 (7,200.00 / 36) is reversed and
    # 300.00 (7,200.00 / 24) posted in its place: 2 + 1 + 1 journals, nothing dated after October.
    assert _ledger_net_by_account(ledger) == {
        "710": Decimal("7200.00"),
        "429": Decimal("-7200.00"),
        "416": Decimal("300.00"),
        "711": Decimal("-300.00"),
    }
    reversals = [j for j in ledger if "-REV: Reversal of " in j["Narration"]]
    assert (len(reversals), len(ledger)) == (1, 4)
    assert len({j["Narration"].split(": ", 1)[0] for j in ledger}) == len(ledger)  # no number twice
