"""Closing entity-months on Celery workers: one worker against two (docs/decisions/0037).

`python -m bench.celery_workers [--month 2026-10-01] [--workers 1 2]` from the repository root, with RabbitMQ on
BILLBRIDGE_CELERY_BROKER (default amqp://guest:guest@127.0.0.1:5672//). Printed, never asserted.
For each worker count: a fresh BILLBRIDGE_HOME and sandboxes, every entity's month extracted
in-process (not timed), then every entity's `bill_and_post_celery` run launched at once, each from
its own process; wall time from the first launch to the last run's end, and each worker's peak
RSS (the worker and its pool child).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import dagster as dg

from pipelines.celery_executor import BROKER_ENV, SHARDS_ENV, broker_url
from pipelines.celery_workers import REPOSITORY_ROOT, peak_rss_mib, running_workers
from resources.configuration import current_config


def _close(entity: str, month: date) -> None:
    """One entity-month's close on the workers (the child process of `_bench`)."""
    from pipelines.celery_runner import bill_month_on_workers

    with dg.DagsterInstance.get() as instance:
        outcome = bill_month_on_workers(instance, entity, month)
    print(f"  {entity}: {'ok' if outcome.success else outcome.error} in {outcome.seconds:.1f} s")
    sys.exit(0 if outcome.success else 1)


def _bench(workers: int, month: date) -> None:
    from pipelines.cli import running_sandboxes
    from pipelines.definitions import defs
    from pipelines.runner import RunSettings, ensure_dagster_home, extract_month

    entities = [e.id for e in current_config().entities]
    with tempfile.TemporaryDirectory() as home:
        os.environ.update({"BILLBRIDGE_HOME": home, "DAGSTER_HOME": f"{home}/dagster_home"})
        os.environ.update({SHARDS_ENV: str(workers), BROKER_ENV: broker_url()})
        ensure_dagster_home()
        with running_sandboxes() as env, dg.DagsterInstance.get() as instance:
            os.environ.update(env)
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
            f"{workers} worker(s), {len(entities)} entity closes of {month:%Y-%m}: {wall:.1f} s wall, "
            f"{codes.count(0)} of {len(codes)} succeeded; peak RSS per worker: "
            + ", ".join(f"{mib:.0f} MiB" for mib in rss)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--month", type=date.fromisoformat, default=date(2026, 10, 1))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--close", help=argparse.SUPPRESS)  # internal: one close in a child process
    args = parser.parse_args()
    if args.close:
        _close(args.close, args.month)
        return
    for workers in args.workers:
        _bench(workers, args.month)


if __name__ == "__main__":
    main()
