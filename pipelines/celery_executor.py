"""Dagster's Celery executor with entity-affine queues (docs/decisions/0037), and the workers' app.

`dagster_celery.celery_executor` sends a step to the queue named by the step's tag, which is
fixed when the asset is defined; the entity is known only when a run starts. This executor is
the Celery executor with one change: before the run's steps are submitted, the app's default
queue becomes the queue of the run's entity (rules/celery_routing.py), so every step of a run
goes to the one worker that owns its entity's file. The broker comes from
BILLBRIDGE_CELERY_BROKER, the shard count from BILLBRIDGE_CELERY_SHARDS; the workers
(`celery -A pipelines.celery_app worker -Q billbridge-<n> -c 1`) read the same variables.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg
from dagster._core.execution.retries import RetryMode
from dagster_celery.config import dict_wrapper
from dagster_celery.executor import CELERY_CONFIG, CeleryExecutor

from pipelines.concurrency import DAGSTER_ENTITY_TAG, ENTITY_TAG
from rules.celery_routing import queue_of

BROKER_ENV = "BILLBRIDGE_CELERY_BROKER"
SHARDS_ENV = "BILLBRIDGE_CELERY_SHARDS"
DEFAULT_BROKER = "amqp://guest:guest@127.0.0.1:5672//"
DEFAULT_SHARDS = 2
NO_ENTITY = "group"  # runs over no entity (none today) share the group file's worker


def broker_url() -> str:
    """The Celery broker both the runs and the workers use."""
    return os.environ.get(BROKER_ENV) or DEFAULT_BROKER


def shard_count() -> int:
    """How many shards (queues, workers) the entities are spread over; a bad value stops here."""
    raw = os.environ.get(SHARDS_ENV) or str(DEFAULT_SHARDS)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{SHARDS_ENV} must be a whole number of at least 1, not {raw!r}")
    return int(raw)


def entity_of_run(tags: Mapping[str, str]) -> str:
    """The entity whose file a run writes: billbridge's tag, else the partition's (runs from the UI)."""
    return tags.get(ENTITY_TAG) or tags.get(DAGSTER_ENTITY_TAG) or NO_ENTITY


class EntityAffineCeleryExecutor(CeleryExecutor):
    """The Celery executor, sending every step of a run to its entity's shard queue."""

    def __init__(self, retries: RetryMode, shards: int, **app: Any) -> None:
        super().__init__(retries, **app)
        self.shards = shards

    def execute(self, plan_context: Any, execution_plan: Any) -> Any:
        """Route the run to its entity's queue, then run the Celery execution loop unchanged."""
        queue = queue_of(entity_of_run(plan_context.dagster_run.tags), self.shards)
        self.config_source = dict_wrapper({**vars(self.config_source), "task_default_queue": queue})
        return super().execute(plan_context, execution_plan)


@dg.executor(
    name="billbridge_celery",
    config_schema={
        **CELERY_CONFIG,
        "shards": dg.Field(int, is_required=False, description=f"Default: ${SHARDS_ENV}, else 2."),
    },
    requirements=dg.multiple_process_executor_requirements(),
)
def entity_affine_celery_executor(init_context: dg.InitExecutorContext) -> EntityAffineCeleryExecutor:
    """Celery with entity-affine queues; broker and shard count from the environment unless configured."""
    config = init_context.executor_config
    shards = config.get("shards")
    return EntityAffineCeleryExecutor(
        RetryMode.from_config(config["retries"]),  # type: ignore[arg-type]  # untyped config, as in dagster_celery
        shards if isinstance(shards, int) else shard_count(),
        broker=config.get("broker") or broker_url(),
        backend=config.get("backend"),
        include=config.get("include"),
        config_source=config.get("config_source"),
    )
