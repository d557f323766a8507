"""The team deployment's run queue: every run it queues names one entity, and one run per entity runs.

Each entity's warehouse is one DuckDB file that admits one writer process (docs/decisions/0001),
so the queue (`tag_concurrency_limits` on ENTITY_TAG in deploy/dagster.yaml) lets one run per
entity at a time. A run names its entity when billbridge launches it (pipelines/concurrency.py);
runs Dagster makes itself do not: a backfill's partition-range run carries only its range, and
Dagster groups a multi-partition backfill by whichever dimension has fewer keys, so a backfill
over fewer days (or months) than entities comes as runs that each span every entity
(docs/decisions/0045). This coordinator, at submission, tags a one-entity run with its entity and
splits a run spanning several into one run per entity (same job, selection, configuration and
tags; the first keeps its id, the others are new runs of the same backfill), each queued as usual.
A run of a whole job (the Launchpad, no asset selection) is judged by its job's assets.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import dagster as dg
from dagster._core.definitions.partitions.partition_key_range import PartitionKeyRange
from dagster._core.run_coordinator.base import SubmitRunContext
from dagster._core.run_coordinator.queued_run_coordinator import QueuedRunCoordinator
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG as RANGE_END
from dagster._core.storage.tags import ASSET_PARTITION_RANGE_START_TAG as RANGE_START
from dagster._core.storage.tags import PARTITION_NAME_TAG as PARTITION_TAG

from assets.partitions import ENTITY, keys_by_entity
from pipelines.concurrency import ENTITY_TAG

SPLIT_FROM_TAG = "billbridge/split_from"  # the run a split one came from (its first entity's run)


def entity_ranges(keys: Sequence[str]) -> dict[str, dict[str, str]]:
    """The range tags of one run per entity over `keys` (a run's partitions, in partition order)."""
    return {entity: {RANGE_START: own[0], RANGE_END: own[-1]} for entity, own in keys_by_entity(keys).items()}


def _entity_partitions(context: SubmitRunContext) -> dg.MultiPartitionsDefinition | None:
    """The entity-partitioned definition of the run's assets, if it has one. A run launched for a
    whole job (the Launchpad, a schedule) has no asset selection: its job's assets are its assets."""
    graph, run = context.workspace.asset_graph, context.dagster_run
    for key in run.asset_selection or sorted(graph.asset_keys_for_job(run.job_name)):
        partitions = graph.get(key).partitions_def if graph.has(key) else None
        if (
            isinstance(partitions, dg.MultiPartitionsDefinition)
            and ENTITY in partitions.partition_dimension_names
        ):
            return partitions
    return None


def run_keys(tags: Mapping[str, str], partitions: dg.MultiPartitionsDefinition) -> list[str]:
    """The partition keys a run covers, from its tags (one key, a range, or none)."""
    if PARTITION_TAG in tags:
        return [tags[PARTITION_TAG]]
    if RANGE_START in tags and RANGE_END in tags:
        span = PartitionKeyRange(tags[RANGE_START], tags[RANGE_END])
        return [str(k) for k in partitions.get_partition_keys_in_range(span)]
    return []


class EntityAffineRunCoordinator(QueuedRunCoordinator):
    """The queued run coordinator, with every entity-partitioned run made a one-entity run."""

    def submit_run(self, context: SubmitRunContext) -> dg.DagsterRun:
        """Tag the run with its entity, or split it into one run per entity, then queue each."""
        run = context.dagster_run
        partitions = _entity_partitions(context)
        keys = run_keys(run.tags, partitions) if partitions is not None else []
        ranges = entity_ranges(keys)
        if not ranges:
            return super().submit_run(context)
        (first, first_range), *others = ranges.items()
        own = {ENTITY_TAG: first, **(first_range if len(ranges) > 1 else {})}
        if any(run.tags.get(k) != v for k, v in own.items()):
            self._instance.add_run_tags(run.run_id, own)
        for entity, span in others:
            sibling = self._sibling(
                context, {**run.tags, **span, ENTITY_TAG: entity, SPLIT_FROM_TAG: run.run_id}
            )
            super().submit_run(SubmitRunContext(sibling, context.workspace))
        tagged = self._instance.get_run_by_id(run.run_id)
        return super().submit_run(SubmitRunContext(tagged or run, context.workspace))

    def _sibling(self, context: SubmitRunContext, tags: Mapping[str, str]) -> dg.DagsterRun:
        """A new run of the same job, selection and configuration as the context's, with `tags`."""
        run, instance = context.dagster_run, self._instance
        plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id or "")
        return instance.create_run(
            job_name=run.job_name,
            run_id=None,
            run_config=run.run_config,
            status=dg.DagsterRunStatus.NOT_STARTED,
            tags=tags,
            root_run_id=None,
            parent_run_id=None,
            step_keys_to_execute=run.step_keys_to_execute,
            execution_plan_snapshot=plan,
            job_snapshot=instance.get_job_snapshot(run.job_snapshot_id or ""),
            parent_job_snapshot=None,
            asset_selection=run.asset_selection,
            asset_check_selection=run.asset_check_selection,
            resolved_op_selection=run.resolved_op_selection,
            op_selection=run.op_selection,
            remote_job_origin=run.remote_job_origin,
            job_code_origin=run.job_code_origin,
            asset_graph=context.workspace.asset_graph,
        )
