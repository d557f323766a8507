"""Orchestration overheads: backfill runs per partition, and executor start-up.

`python -m bench.orchestration` (run from the repository root). Printed, never asserted:

* a month of one entity's days as one ranged run (what `BackfillPolicy.single_run()` gives a
  backfill) against the same days as one run per partition, over the PM sandbox;
* one entity-day through the extraction step with the in-process executor against the same
  step with the multiprocess executor (a spawned process per step).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date, timedelta

import dagster as dg

from assets.partitions import day_key
from pipelines.runner import QUIET, RANGE_END, RANGE_START

ENTITY = "uk"


def _job(executor: dg.ExecutorDefinition, name: str, groups: tuple[str, ...]) -> dg.JobDefinition:
    from pipelines.definitions import defs

    job = dg.define_asset_job(name, selection=dg.AssetSelection.groups(*groups), executor_def=executor)
    return dg.Definitions.merge(defs, dg.Definitions(jobs=[job])).resolve_job_def(name)


def in_process_job() -> dg.JobDefinition:
    """extract_and_normalize as shipped (reconstructable for `execute_job`)."""
    return _job(dg.in_process_executor, "extract_in_process", ("raw", "normalized"))


def extract_in_process_job() -> dg.JobDefinition:
    """The extraction step alone, in-process."""
    return _job(dg.in_process_executor, "raw_in_process", ("raw",))


def extract_multiprocess_job() -> dg.JobDefinition:
    """The extraction step alone with Dagster's default multiprocess executor (a process per step)."""
    return _job(dg.multiprocess_executor, "raw_multiprocess", ("raw",))


def _timed(instance: dg.DagsterInstance, job_fn: object, tags: dict[str, str]) -> float:
    started = time.perf_counter()
    with dg.execute_job(dg.reconstructable(job_fn), instance=instance, tags=tags, run_config=QUIET) as result:  # type: ignore[arg-type]
        assert result.success, result.run_id
    return time.perf_counter() - started


def bench_orchestration(days: int) -> None:
    """Print the figures (sandboxes on loopback, a throwaway Dagster instance and warehouse)."""
    from pipelines.cli import running_sandboxes

    with tempfile.TemporaryDirectory() as home:
        os.environ["BILLBRIDGE_HOME"] = home
        os.environ["DAGSTER_HOME"] = os.path.join(home, "dagster_home")
        os.makedirs(os.environ["DAGSTER_HOME"])
        with (
            running_sandboxes() as env,
            dg.instance_for_test(temp_dir=os.environ["DAGSTER_HOME"]) as instance,
        ):
            os.environ.update(env)
            first = date(2026, 9, 1)
            span = [first + timedelta(days=i) for i in range(days)]
            _timed(
                instance, in_process_job, {"dagster/partition": str(day_key(ENTITY, first))}
            )  # warm caches
            ranged = _timed(
                instance,
                in_process_job,
                {RANGE_START: str(day_key(ENTITY, span[0])), RANGE_END: str(day_key(ENTITY, span[-1]))},
            )
            started = time.perf_counter()
            for day in span:
                _timed(instance, in_process_job, {"dagster/partition": str(day_key(ENTITY, day))})
            per_partition = time.perf_counter() - started
            print(f"backfill of {days} {ENTITY} entity-days (PM sandbox, demo company):")
            print(
                f"  one ranged run (single_run policy)   {ranged:6.2f} s   {ranged / days * 1000:6.0f} ms per partition"
            )
            print(
                f"  one run per partition                {per_partition:6.2f} s   "
                f"{per_partition / days * 1000:6.0f} ms per partition"
            )
            inproc = [
                _timed(instance, extract_in_process_job, {"dagster/partition": str(day_key(ENTITY, first))})
                for _ in range(3)
            ]
            multi = [
                _timed(instance, extract_multiprocess_job, {"dagster/partition": str(day_key(ENTITY, first))})
                for _ in range(3)
            ]
            print("one entity-day through the extraction step, raw/* (median of 3):")
            print(f"  in-process executor                  {sorted(inproc)[1]:6.2f} s")
            print(f"  multiprocess executor                {sorted(multi)[1]:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--days", type=int, default=30)
    bench_orchestration(parser.parse_args().days)


if __name__ == "__main__":
    main()
