"""Closing entity-months on Celery workers: one worker against two (docs/decisions/0037).

`python -m bench.celery_workers [--entries 20000] [--entities 20] [--workers 1 2]` from the repository
root, with RabbitMQ on BILLBRIDGE_CELERY_BROKER (default amqp://guest:guest@127.0.0.1:5672//). Printed,
never asserted. For each worker count: a fresh BILLBRIDGE_HOME with the group at scale and its
sandboxes in processes of their own, at the providers' limits (bench/group_close.py), every entity's
month extracted in-process (not timed), then every entity's `bill_and_post_celery` run launched at once, each from
its own process; wall time from the first launch to the last run's end, and each worker's peak
RSS (the worker and its pool child).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.celery_executor import BROKER_ENV, SHARDS_ENV, broker_url
from pipelines.celery_workers import REPOSITORY_ROOT, peak_rss_mib, running_workers
from resources.configuration import current_config
from sandbox.group_company import GroupProfile


def _close(entity: str, month: date) -> None:
    """One entity-month's close on the workers (the child process of `_bench`)."""
    from pipelines.celery_runner import bill_month_on_workers

    with dg.DagsterInstance.get() as instance:
        outcome = bill_month_on_workers(instance, entity, month)
    print(f"  {entity}: {'ok' if outcome.success else outcome.error} in {outcome.seconds:.1f} s")
    sys.exit(0 if outcome.success else 1)


def _bench(workers: int, profile: GroupProfile) -> None:
    from bench.group_close import group_sandboxes, scratch_group
    from pipelines.runner import RunSettings, ensure_dagster_home, extract_month

    month = profile.month
    with scratch_group(profile) as (home, env), group_sandboxes(profile, env, home) as sandboxes:
        os.environ.update({**env, **sandboxes.env, SHARDS_ENV: str(workers), BROKER_ENV: broker_url()})
        current_config.cache_clear()  # the group's configuration, not whichever this process read first
        from pipelines.definitions import defs

        entities = current_config().entity_ids
        ensure_dagster_home()
        with dg.DagsterInstance.get() as instance:
            for entity in entities:
                extract_month(instance, defs, entity, month, RunSettings())
            child_env = {**os.environ, "PYTHONPATH": str(REPOSITORY_ROOT)}
            with running_workers(workers, child_env, Path(home)) as started:
                began = time.perf_counter()
                closes = [
                    subprocess.Popen(
                        [
                            sys.executable,
                            "-m",
                            "bench.celery_workers",
                            "--close",
                            entity,
                            "--month",
                            str(month),
                        ],
                        cwd=REPOSITORY_ROOT,
                        env=child_env,
                    )
                    for entity in entities
                ]
                codes = [close.wait() for close in closes]
                wall = time.perf_counter() - began
                rss = [peak_rss_mib(worker.pid) for worker in started]
        print(
            f"{workers} worker(s), {len(entities)} entity closes of {month:%Y-%m} "
            f"({sandboxes.summary['time_entries']:,} time entries): {wall:.1f} s wall, "
            f"{codes.count(0)} of {len(codes)} succeeded; peak RSS per worker: "
            + ", ".join(f"{mib:.0f} MiB" for mib in rss)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--month", type=date.fromisoformat, default=GroupProfile.month)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--entries", type=int, default=20_000, help="time entries of the group's month")
    parser.add_argument("--entities", type=int, default=20)
    parser.add_argument("--close", help=argparse.SUPPRESS)  # internal: one close in a child process
    args = parser.parse_args()
    if args.close:
        _close(args.close, args.month)
        return
    for workers in args.workers:
        _bench(workers, GroupProfile(entries=args.entries, entities=args.entities, month=args.month))


if __name__ == "__main__":
    main()
