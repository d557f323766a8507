"""Close entity-months on the Celery workers (docs/decisions/0037): the team deployment's scale-out.

The same billing-to-posting run as `pipelines/runner.bill_month`, launched from this process on
the `bill_and_post_celery` job: the run is recorded in the instance here, and every step runs on
the worker of the entity's shard (pipelines/celery_executor.py). The workers load the job from
this module path, so they and this process must see the same code, BILLBRIDGE_HOME (shared
storage beyond one machine) and Dagster instance.
"""

from __future__ import annotations

import time
import warnings
from datetime import date
from pathlib import Path

import dagster as dg
from dagster._core.definitions.reconstruct import ReconstructableJob, ReconstructableRepository

from assets.partitions import month_key
from pipelines.concurrency import TRACE_TAG, entity_tags
from pipelines.jobs import CELERY_SUFFIX
from pipelines.orphans import process_tags
from pipelines.runner import (
    RunOutcome,
    RunSettings,
    _failure,
    _logging,
    bill_run_config,
    log_path,
    month_closed,
)

REPOSITORY_ROOT = Path(__file__).resolve().parents[1]
PARTITION_TAG = "dagster/partition"


def celery_job(name: str) -> ReconstructableJob:
    """`<name>_celery` from the code location, as a pointer the workers can load it from."""
    repository = ReconstructableRepository.for_module(
        "pipelines.definitions", "defs", working_directory=str(REPOSITORY_ROOT)
    )
    return repository.get_reconstructable_job(f"{name}{CELERY_SUFFIX}")


def bill_month_on_workers(
    instance: dg.DagsterInstance,
    entity: str,
    month: date,
    settings: RunSettings | None = None,
    trace_id: str = "",
) -> RunOutcome:
    """Billing-to-posting for the entity-month on its shard's worker; waits for the run to end."""
    settings = settings or RunSettings()
    key = str(month_key(entity, month))
    tags = {
        **entity_tags(entity, "runner"),
        **process_tags(),
        PARTITION_TAG: key,
        **({TRACE_TAG: trace_id} if trace_id else {}),
    }
    log_path().parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with warnings.catch_warnings():
        # dagster-celery registers its task again for every step it submits: the same task, a warning each.
        warnings.filterwarnings("ignore", message="Task name 'execute_plan' is already registered")
        with dg.execute_job(
            celery_job("bill_and_post"),
            instance,
            run_config={**_logging(settings), **bill_run_config(settings)},
            tags=tags,
        ) as result:
            run = RunOutcome(
                "bill_and_post_celery",
                key,
                result.run_id,
                result.success,
                _failure(result),
                seconds=time.monotonic() - started,
            )
    return month_closed(instance, entity, month, run)
