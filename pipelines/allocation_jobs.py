"""`reallocate`: re-run cost allocation on demand for a scope of entity-months, with a chosen rule set.

An op job, not a partitioned asset job: the launchpad cannot start a multi-partition
backfill with run config, so the scope (entities, months) travels in the run config and
the op loops over it. Every entity-month in scope is planned and checked first; the
invariants are reported as blocking check evaluations of `allocation/cost_allocations`
(the Dagster UI shows them on the asset, as for the partitioned asset), and one broken
invariant stops the run with nothing of the scope written. Each written entity-month is
then reported as a materialization of the asset's partition, so the catalog shows the
latest allocation whichever way it was produced (see docs/decisions/0004-cost-allocation-runs.md
and 0013-allocation-checks-and-journal-posting.md).
"""

from datetime import date, timedelta
from typing import Any

import dagster as dg
from pydantic import Field

from assets.allocation.allocation_assets import CHECKS, COST_ALLOCATIONS, judge_scope, run_metadata
from assets.allocation.runs import AllocationRun, plan_month, write_run
from assets.partitions import month_key
from resources.allocation_config import load_allocation_inputs
from resources.configuration import Settings
from resources.warehouse import Warehouse
from rules.calendar import add_months
from rules.config_types import ConfigurationError
from rules.settings import BillbridgeConfig


class ReallocateConfig(dg.Config):
    """Run config of `reallocate` (every field is editable in the launchpad)."""

    rule_set_path: str = Field(
        default="", description="a rule set file (e.g. a draft copy); empty: config/allocation_rules.yaml"
    )
    rule_set_version: str = Field(
        default="", description="if set, the file's `version` must equal it (guards against the wrong file)"
    )
    effective_date: str = Field(
        default="", description="YYYY-MM-DD; months ending before it keep their current allocation"
    )
    entities: list[str] = Field(default=[], description="entity ids; empty: every entity")
    months: list[str] = Field(description="months to reallocate, YYYY-MM")
    dry_run: bool = Field(default=False, description="compute and diff, write nothing")


def resolve_scope(config: ReallocateConfig, known: list[str]) -> tuple[list[str], list[date], list[date]]:
    """(entities among the `known` ones, months to reallocate, months skipped as before the effective
    date); ValueError on bad input."""
    entities = config.entities or known
    unknown = [e for e in entities if e not in known]
    if unknown:
        raise ValueError(f"entities {unknown} are not configured; configured: {known}")
    if not config.months:
        raise ValueError("months: give at least one month, YYYY-MM")
    try:
        months = sorted({date.fromisoformat(f"{m}-01") for m in config.months})
        effective = date.fromisoformat(config.effective_date) if config.effective_date else months[0]
    except ValueError as exc:
        raise ValueError(f"months are YYYY-MM and effective_date YYYY-MM-DD: {exc}") from None
    keep = [m for m in months if add_months(m, 1) <= effective]
    return entities, [m for m in months if m not in keep], keep


@dg.op(
    description="Reallocate the configured entity-months; a new allocation run id each, earlier runs kept.",
    tags={"kind": "allocation"},
)
def reallocate_scope(  # type: ignore[no-untyped-def]
    context: dg.OpExecutionContext, config: ReallocateConfig, warehouse: Warehouse, settings: Settings
):
    """Load the rule set, reallocate each entity-month in scope, report the diff per entity-month."""
    try:
        entities, months, kept = resolve_scope(config, settings.entity_ids)
        inputs = load_allocation_inputs(config.rule_set_path or None)
    except (ValueError, ConfigurationError) as exc:
        raise dg.Failure(description=f"reallocate: {exc}") from None
    version = inputs.rules.version
    if config.rule_set_version and config.rule_set_version != version:
        raise dg.Failure(
            description=f"reallocate: {inputs.source_path} is version {version!r}, "
            f"the run config asked for {config.rule_set_version!r}"
        )
    runs = [
        plan_month(warehouse, inputs, entity, settings.entity(entity).base_currency, month, context.run_id)
        for entity in entities
        for month in months
    ]
    # A dry run's checks judge a rule set that is not the asset's: they stay in the op's output.
    gate = judge_scope(warehouse, runs, context.run_id, record=not config.dry_run)
    if not config.dry_run:
        yield from gate.evaluations()
    if not gate.passed:
        raise gate.failure()
    if not config.dry_run:
        runs = [write_run(warehouse, inputs, run) for run in runs]
        for run in runs:
            yield dg.AssetMaterialization(
                asset_key=COST_ALLOCATIONS,
                partition=str(month_key(run.entity, date.fromisoformat(f"{run.period}-01"))),
                metadata={**run_metadata(run), "rule_set_version": inputs.version},
            )
    diff_sections = [f"### {r.entity} {r.period}\n\n{r.diff_markdown}" for r in runs]
    yield dg.Output(
        None,
        metadata={
            "dry_run": config.dry_run,
            "rule_set_version": inputs.version,
            "rule_set_path": inputs.source_path,
            "entity_months": len(runs),
            "kept_before_effective_date": ", ".join(m.strftime("%Y-%m") for m in kept) or "none",
            "changed_cost_objects": sum(r.diff.filter(r.diff["reason"] != "unchanged").height for r in runs),
            "diff": dg.MetadataValue.md("\n\n".join(diff_sections) or "_nothing in scope_"),
            "checks": dg.MetadataValue.md(_held_table(runs)),
        },
    )


def _held_table(runs: list[AllocationRun]) -> str:
    """Each invariant and whether it held in every entity-month of the scope, as a markdown table."""
    rows = ["| check | held in every entity-month |", "|---|---|"]
    rows += [f"| {name} | {all(run.outcome.checks[name][0] for run in runs)} |" for name in CHECKS]
    return "\n".join(rows)


def _launchpad_default(billing_start: date) -> dict[str, Any]:
    """What the launchpad opens with: a dry run of last month for every entity (valid as it stands)."""
    last_month = (date.today().replace(day=1) - timedelta(days=1)).replace(day=1)
    month = max(last_month, billing_start.replace(day=1))
    return {"ops": {"reallocate_scope": {"config": {"months": [month.strftime("%Y-%m")], "dry_run": True}}}}


def build_reallocate(config: BillbridgeConfig) -> dg.JobDefinition:
    """The `reallocate` job of a configuration: one op that loops over the configured entity-months."""

    @dg.job(
        description="Re-run cost allocation on demand: rule set (or draft), effective date, scope, dry run.",
        executor_def=dg.in_process_executor,
        config=_launchpad_default(config.billing_start),
    )
    def reallocate() -> None:
        reallocate_scope()

    return reallocate
