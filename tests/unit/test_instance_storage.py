"""The local instance's event log holds its SQLite connections (decision 0049) and stays Dagster's own:
the generated instance uses it, runs read back whole, a live run's shard is touched on every event,
and an instance made with the old default is brought onto it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import dagster as dg
import pytest

from pipelines import runner
from pipelines.instance_storage import HELD_RUN_SHARDS, HeldSqliteEventLogStorage


@dg.asset(partitions_def=dg.DailyPartitionsDefinition("2026-10-01", end_date="2026-10-04"))
def daily_thing() -> None:
    """One materialization per day of the run's range, as the extraction's assets have."""


def _run(instance: dg.DagsterInstance) -> str:
    job = dg.Definitions(assets=[daily_thing]).resolve_implicit_global_asset_job_def()
    tags = {runner.RANGE_START: "2026-10-01", runner.RANGE_END: "2026-10-03"}
    result = job.execute_in_process(instance=instance, tags=tags)
    assert result.success
    return result.run_id


def test_the_generated_instance_stores_events_through_held_connections(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(runner.EVENT_BATCH_ENV)
    home = runner.ensure_dagster_home()
    assert os.environ[runner.EVENT_BATCH_ENV] == "1000"  # Dagster batches the planned events only when asked
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, HeldSqliteEventLogStorage)
        run_id = _run(instance)
        shard = Path(storage.path_for_shard(run_id))
        assert shard.parent == home / "history" / "runs"
        before = shard.stat().st_mtime_ns
        time.sleep(0.01)
        # The event goes to the WAL, not the file the UI's watcher of a live run looks at: touched.
        instance.report_engine_event("one more event", instance.get_run_by_id(run_id))
        assert shard.stat().st_mtime_ns > before
        materialized = instance.fetch_materializations(daily_thing.key, limit=10).records
        assert sorted(r.partition_key for r in materialized) == ["2026-10-01", "2026-10-02", "2026-10-03"]
        planned = instance.fetch_planned_materializations(daily_thing.key, limit=10).records
        assert len(planned) == 3  # stored as one batch, mirrored in the index
        logged = len(instance.all_logs(run_id))
    # A process without the held storage (the UI's, say) reads the same files.
    with dg.DagsterInstance.from_config(str(home), config_filename="none.yaml") as plain:
        assert len(plain.fetch_materializations(daily_thing.key, limit=10).records) == 3
        assert len(plain.all_logs(run_id)) == logged


def test_a_process_holds_a_few_run_shards_and_lets_the_rest_go() -> None:
    runner.ensure_dagster_home()
    with dg.DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, HeldSqliteEventLogStorage)
        runs = [_run(instance) for _ in range(HELD_RUN_SHARDS + 2)]
        assert set(storage._engines) == {"index", *runs[-HELD_RUN_SHARDS:]}
        assert all(instance.get_run_by_id(run_id) for run_id in runs)
    assert not storage._engines  # disposed with the instance


def test_an_instance_made_with_the_old_default_is_brought_onto_the_held_event_log() -> None:
    home = Path(os.environ["DAGSTER_HOME"])
    home.mkdir(parents=True)
    old = runner._DAGSTER_YAML.split(runner._HELD_EVENT_LOG)[0]
    (home / "dagster.yaml").write_text(old)
    runner.ensure_dagster_home()
    assert (home / "dagster.yaml").read_text() == runner._DAGSTER_YAML
    edited = old + "retention:\n  schedule:\n    purge_after_days: 90\n"
    (home / "dagster.yaml").write_text(edited)
    runner.ensure_dagster_home()
    assert (home / "dagster.yaml").read_text() == edited  # a file someone edited is theirs
