"""The code location loads, every asset tells its story in the UI (group, kinds, owners, description),
and the Definitions can be built for any configuration, one made in code included."""

from datetime import date
from pathlib import Path

import dagster as dg

from assets.partitions import DAY, ENTITY, MONTH, Partitions
from pipelines.definitions import build_definitions, defs
from resources.configuration import DEFAULT_CONFIG_PATH, load_config
from resources.fx import EcbRates
from resources.warehouse import Warehouse
from tests.factories import configuration, entity

DEMO = Partitions.of(load_config(DEFAULT_CONFIG_PATH))
ASSET_KEYS = {
    ("raw", "time_entries"),
    ("raw", "expenses"),
    ("raw", "pm_directory"),
    ("normalized", "billable_lines"),
    ("normalized", "quarantine"),
    ("billing", "invoice_drafts"),
    ("billing", "shadow_drafts"),
    ("billing", "correction_drafts"),
    ("billing", "intercompany_charges"),
    ("posting", "posted_invoices"),
    ("posting", "pm_write_back"),
    ("allocation", "cost_allocations"),
    ("allocation", "project_profitability"),
    ("allocation", "capex_journal_drafts"),
    ("reporting", "ledger_export"),
    ("reporting", "month_report"),
    ("consolidation", "group_consolidation"),
    ("health", "quarantine_share"),
    ("health", "month_outcome"),
    ("health", "slo_status"),
    ("health", "heartbeat"),
    ("reconciliation", "bank_statement_lines"),
    ("reconciliation", "receivables"),
    ("reconciliation", "bank_matches"),
    ("reconciliation", "settlement_payments"),
    ("quality", "pm_consistency"),
}
JOBS = {
    "extract_and_normalize",
    "bill_and_post",
    "reallocate",
    "weekly_review",
    "export_ledger",
    "consolidate_group",
    "measure_slos",
    "heartbeat",
    "shadow_drafts",
    "write_month_report",
}


def test_definitions_load_and_jobs_resolve() -> None:
    defs.validate_loadable(defs)
    assert defs.resolve_job_def("extract_and_normalize").partitions_def == DEMO.entity_day
    assert defs.resolve_job_def("bill_and_post").partitions_def == DEMO.entity_month


def test_every_asset_is_documented() -> None:
    graph = defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        spec = graph.get(key)
        groups = {
            "raw",
            "normalized",
            "billing",
            "posting",
            "allocation",
            "reporting",
            "consolidation",
            "health",
            "reconciliation",
            "consistency",
            "shadow",
        }
        assert spec.group_name in groups, key
        assert spec.description, key
        assert spec.owners, key
        assert spec.kinds, key


def test_money_checks_block_posting() -> None:
    checks = {c.name: c for c in defs.resolve_asset_graph().asset_check_keys}
    assert {"invoice_total_equals_sum_of_lines", "no_time_entry_billed_twice"} <= set(checks)
    spec = defs.resolve_assets_def(dg.AssetKey(["billing", "invoice_drafts"])).check_specs
    assert all(s.blocking for s in spec)


def test_partition_keys_are_built_not_formatted() -> None:
    day = dg.MultiPartitionKey({ENTITY: "us", DAY: "2026-08-03"})
    month = dg.MultiPartitionKey({ENTITY: "us", MONTH: "2026-08-01"})
    assert str(day) == "2026-08-03|us"
    assert str(month) == "us|2026-08-01"  # dimensions order by name: a hand-built key would be wrong


def test_definitions_are_built_from_a_configuration_made_in_code() -> None:
    # One entity, two clients, a later billing start: nothing of the demo file may show.
    tiny = configuration(entity("acme", currency="CAD", timezone="America/Toronto"),
                         clients={5001: "acme", 5002: "acme"}, billing_start=date(2027, 3, 15))  # fmt: skip
    built = build_definitions(tiny)
    built.validate_loadable(built)
    graph = built.resolve_asset_graph()
    assert {tuple(key.path) for key in graph.get_all_asset_keys()} == ASSET_KEYS
    assert graph.get(dg.AssetKey(["billing", "invoice_drafts"])).parent_keys == {
        dg.AssetKey(["normalized", "billable_lines"])
    }
    assert {job.name for job in built.resolve_all_job_defs()} >= JOBS

    days = built.resolve_job_def("extract_and_normalize").partitions_def
    months = built.resolve_job_def("bill_and_post").partitions_def
    assert isinstance(days, dg.MultiPartitionsDefinition) and isinstance(months, dg.MultiPartitionsDefinition)
    for partitions, time_dimension in ((days, DAY), (months, MONTH)):
        dims = {d.name: d.partitions_def for d in partitions.partitions_defs}
        assert dims[ENTITY].get_partition_keys() == ["acme"]
        assert str(dims[time_dimension].start.date()) == (
            "2027-03-15" if time_dimension == DAY else "2027-03-01"
        )
    group = built.resolve_job_def("consolidate_group").partitions_def
    assert isinstance(group, dg.TimeWindowPartitionsDefinition) and str(group.start.date()) == "2027-03-01"

    repo = built.get_repository_def()
    assert {s.name for s in repo.schedule_defs} == {
        "daily_sync_acme", "monthly_close_acme", "weekly_review", "pm_consistency_nightly",
        "heartbeat_schedule", "slo_schedule",
    }  # fmt: skip
    assert repo.get_schedule_def("daily_sync_acme").execution_timezone == "America/Toronto"
    assert {s.name for s in repo.sensor_defs} == {
        "pm_webhook_inbox", "pm_updated_since_poll", "alert_on_run_failure", "group_close",
        "bank_statement_inbox", "bank_lines_loaded", "audit_finished_runs", "audit_failed_runs",
        "pm_consistency_repairs",
    }  # fmt: skip
    assert built.resources["settings"] is tiny


def test_the_configuration_reaches_the_assets_as_the_settings_resource(tmp_path: Path) -> None:
    # The demo file knows no entity "acme": drafting its month succeeds only with the tiny configuration.
    tiny = configuration(clients={5001: "acme", 5002: "acme"})
    warehouse = Warehouse(home=str(tmp_path))
    built = build_definitions(tiny, resources={"warehouse": warehouse, "fx": EcbRates()})
    key = dg.MultiPartitionKey({ENTITY: "acme", MONTH: "2026-08-01"})
    with dg.instance_for_test() as instance:
        result = built.resolve_job_def("bill_and_post").execute_in_process(
            instance=instance,
            partition_key=str(key),
            asset_selection=[dg.AssetKey(["billing", "invoice_drafts"])],
        )
    assert result.success
    recorded = warehouse.query(
        "acme", "SELECT partition, check_name, passed FROM quality.check_results ORDER BY 2"
    )
    assert recorded.rows() == [
        ("acme|2026-08", "invoice_total_equals_sum_of_lines", True),
        ("acme|2026-08", "no_time_entry_billed_twice", True),
    ]
