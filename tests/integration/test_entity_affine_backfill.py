"""A backfill launched as the UI launches one ends as runs that each write one entity's file.

Found (issue 17): Dagster groups a multi-partition backfill by whichever dimension has fewer keys,
so a backfill of 3 entities x 2 days came as 2 runs, each over one day of all 3 entities and
tagged with no entity at all (the queue's per-entity limit could not hold them). Here the
backfill is created in the instance and driven by the daemon's own backfill and queue
iterations, on deploy/dagster.yaml as shipped (PostgreSQL): the runs are split one per entity,
each tagged with it, all succeed, the backfill completes, and runs of one entity never overlap.
A one-month close backfill over every entity (one run from Dagster) is queued as one run per
entity. A run that still spans entities (launched by hand) fails at once with one line saying what
to do.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.execution.backfill import BulkActionStatus, PartitionBackfill
from dagster._core.test_utils import create_test_daemon_workspace_context
from dagster._core.workspace.load_target import GrpcServerTarget
from dagster._daemon.backfill import execute_backfill_iteration
from dagster._daemon.run_coordinator.queued_run_coordinator_daemon import QueuedRunCoordinatorDaemon

from pipelines.concurrency import ENTITY_TAG
from pipelines.definitions import defs
from pipelines.failures import run_failure_line
from pipelines.run_coordinator import RANGE_END, RANGE_START, SPLIT_FROM_TAG, EntityAffineRunCoordinator
from tests.conftest import Sandboxes
from tests.integration.processes import free_port, start_code_server, stop

pytestmark = pytest.mark.integration
ENTITIES = ("us", "uk", "de")
DAYS = ("2026-09-01", "2026-09-02")
WAIT_S = 600


def _backfill(instance: dg.DagsterInstance, job: str, partitions: list[str]) -> str:
    """An asset backfill of `job`'s assets over `partitions`, as the UI's launchPartitionBackfill makes it."""
    graph = defs.resolve_asset_graph()
    selection = sorted(defs.resolve_job_def(job).asset_layer.selected_asset_keys)
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=f"affinity-{job}",
        asset_graph=graph,
        partition_names=partitions,
        asset_selection=selection,
        backfill_timestamp=time.time(),
        tags={},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=None,
        description=None,
        run_config=None,
    )
    instance.add_backfill(backfill)
    return backfill.backfill_id


def _drive(
    instance: dg.DagsterInstance, target: GrpcServerTarget, backfill_id: str, log: logging.Logger
) -> list[list[str]]:
    """The daemon's backfill and run-queue iterations until the backfill ends; the entities of the
    runs in progress after each iteration."""
    queue = QueuedRunCoordinatorDaemon(interval_seconds=1)
    running_at_once: list[list[str]] = []
    in_progress = dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED])
    with create_test_daemon_workspace_context(target, instance) as context:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            list(execute_backfill_iteration(context, log))
            list(queue.run_iteration(context))
            running_at_once.append(
                sorted(r.tags.get(ENTITY_TAG, "?") for r in instance.get_runs(in_progress))
            )
            backfill = instance.get_backfill(backfill_id)
            if backfill is not None and backfill.status != BulkActionStatus.REQUESTED:
                break
            time.sleep(1)
    return running_at_once


def test_a_ui_backfill_over_entities_runs_one_entity_per_run_one_run_per_entity_at_a_time(
    sandboxes: Sandboxes, team_instance: Path, tmp_path: Path
) -> None:
    keys = [f"{day}|{entity}" for day in DAYS for entity in ENTITIES]
    log = logging.getLogger("test_entity_affine_backfill")
    port = free_port()
    # The code server as deployed (its own process group, so stopping it stops the runs it launched).
    code_server = start_code_server(port, tmp_path / "code_server.log")
    target = GrpcServerTarget(host="127.0.0.1", port=port, socket=None, location_name="billbridge")
    try:
        with dg.DagsterInstance.get() as instance:
            assert isinstance(instance.run_coordinator, EntityAffineRunCoordinator)
            backfill_id = _backfill(instance, "extract_and_normalize", keys)
            running_at_once = _drive(instance, target, backfill_id, log)
            runs = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
            backfill = instance.get_backfill(backfill_id)
            records = instance.get_run_records(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    finally:
        stop(code_server)

    assert backfill is not None and backfill.status == BulkActionStatus.COMPLETED_SUCCESS, [
        (r.status, r.tags.get(ENTITY_TAG), r.run_id) for r in runs
    ]
    # One run per entity-day: Dagster made 2 runs over 3 entities each; the coordinator split each in 3.
    assert len(runs) == 6, [r.tags for r in runs]
    assert {r.status for r in runs} == {dg.DagsterRunStatus.SUCCESS}
    covered = sorted((r.tags[RANGE_START], r.tags[RANGE_END], r.tags[ENTITY_TAG]) for r in runs)
    assert covered == sorted((k, k, k.split("|")[1]) for k in keys)
    assert sum(SPLIT_FROM_TAG in r.tags for r in runs) == 4  # each day's first entity kept Dagster's run
    # Never two runs of one entity at once: seen while the queue ran, and from the runs' own times.
    assert all(len(set(active)) == len(active) for active in running_at_once), running_at_once
    for entity in ENTITIES:
        spans = sorted(
            (r.start_time, r.end_time) for r in records if r.dagster_run.tags[ENTITY_TAG] == entity
        )
        assert all(end is not None and start is not None for start, end in spans)
        assert all(spans[i][1] <= spans[i + 1][0] for i in range(len(spans) - 1)), (entity, spans)
    # The backfill's runs wrote what it asked for: every entity-day's extraction is materialized.
    with dg.DagsterInstance.get() as instance:
        status = instance.get_status_by_partition(
            dg.AssetKey(["raw", "time_entries"]),
            keys,
            defs.resolve_job_def("extract_and_normalize").partitions_def,
        )
    assert status is not None and set(status.values()) == {dg.AssetPartitionStatus.MATERIALIZED}


def test_a_run_over_two_entities_fails_at_once_with_one_line(sandboxes: Sandboxes) -> None:
    job = defs.resolve_job_def("extract_and_normalize")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance,
            tags={RANGE_START: "2026-09-01|us", RANGE_END: "2026-09-01|uk"},
            raise_on_error=False,
        )
        line = run_failure_line(instance, result.run_id, os.environ, "")
    assert not result.success
    # The line the command line and the run-failure sensor print for the run.
    assert line.startswith(
        "pm_extracts: SeveralEntitiesError: this run covers the partitions of 2 entities (uk, us)"
    )
    assert "launch one run per entity" in line and "\n" not in line, line
    assert not sandboxes.harvest.exchanges, "the run reached the PM system before refusing"


def test_a_month_close_backfill_over_every_entity_is_queued_as_one_run_per_entity(
    sandboxes: Sandboxes, team_instance: Path, tmp_path: Path
) -> None:
    # Dagster makes one run over the 3 entities' month (one month < 3 entities): the group-scale close.
    keys = [f"{entity}|2026-09-01" for entity in ENTITIES]
    port = free_port()
    code_server = start_code_server(port, tmp_path / "code_server.log")
    target = GrpcServerTarget(host="127.0.0.1", port=port, socket=None, location_name="billbridge")
    try:
        with dg.DagsterInstance.get() as instance:
            backfill_id = _backfill(instance, "bill_and_post", keys)
            with create_test_daemon_workspace_context(target, instance) as context:
                list(execute_backfill_iteration(context, logging.getLogger("test_entity_affine_backfill")))
            queued = instance.get_runs(dg.RunsFilter(tags={"dagster/backfill": backfill_id}))
    finally:
        stop(code_server)
    assert {r.status for r in queued} == {dg.DagsterRunStatus.QUEUED}
    assert sorted((r.tags[ENTITY_TAG], r.tags[RANGE_START], r.tags[RANGE_END]) for r in queued) == [
        ("de", "de|2026-09-01", "de|2026-09-01"),
        ("uk", "uk|2026-09-01", "uk|2026-09-01"),
        ("us", "us|2026-09-01", "us|2026-09-01"),
    ]


def test_a_whole_job_run_for_one_partition_is_queued_under_its_entity(
    sandboxes: Sandboxes, team_instance: Path, tmp_path: Path
) -> None:
    """Found (stop 23's note): a run launched for a whole job (the Launchpad's "Materialize all", a
    schedule) carries no asset selection, so the queue found no entity partitions, tagged no entity,
    and its per-entity limit let it run beside another run writing the same file."""
    job = defs.resolve_job_def("bill_and_post")
    port = free_port()
    code_server = start_code_server(port, tmp_path / "code_server.log")
    target = GrpcServerTarget(host="127.0.0.1", port=port, socket=None, location_name="billbridge")
    try:
        with (
            dg.DagsterInstance.get() as instance,
            create_test_daemon_workspace_context(target, instance) as context,
        ):
            workspace = context.create_request_context()
            (repository,) = workspace.get_code_location("billbridge").get_repositories().values()
            remote_job = repository.get_full_job("bill_and_post")
            run = instance.create_run_for_job(
                job,
                tags={"dagster/partition": "uk|2026-09-01"},
                status=dg.DagsterRunStatus.NOT_STARTED,
                remote_job_origin=remote_job.get_remote_origin(),
                job_code_origin=remote_job.get_python_origin(),
            )
            assert not run.asset_selection  # as the Launchpad launches a whole job
            instance.submit_run(run.run_id, workspace)
            queued = instance.get_run_by_id(run.run_id)
    finally:
        stop(code_server)
    assert queued is not None and queued.status == dg.DagsterRunStatus.QUEUED
    assert queued.tags.get(ENTITY_TAG) == "uk", queued.tags
