"""The health assets: did the partition's job get done? A blocking check and a failed run when not.

`health/quarantine_share` closes each extraction run (entity x day), `health/month_outcome`
each billing run (entity x month). Both record their numbers as metadata (plotted by the UI),
report their check, and then fail the step with one line per finding, so the run fails, the
run-failure alert fires with that line, and `billbridge sync` exits non-zero with the same
words. Deliberate waits (kill switch, lock date) are a warning on the check, not a failure.
"""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from assets.health.states import Outcome, days_outcome, month_outcome, posting_stop_reason
from assets.normalized.billable_lines import BILLABLE_LINES, QUARANTINE
from assets.partitions import Partitions, day_slices, month_slices
from assets.posting.posted_invoices import POSTED_INVOICES
from resources.configuration import Settings
from resources.warehouse import Warehouse

MONTH_OUTCOME = dg.AssetKey(["health", "month_outcome"])
QUARANTINE_SHARE = dg.AssetKey(["health", "quarantine_share"])
MONTH_DONE = "month_done"
DAYS_USABLE = "days_not_mostly_quarantined"


def _report(
    asset: dg.AssetKey, check: str, outcomes: list[Outcome], base: str
) -> Iterator[dg.MaterializeResult]:
    """Metadata and the check result, then a Failure naming every failed finding (one line each);
    `base` is the runbooks' base URL."""
    findings = [f for o in outcomes for f in o.findings]
    failed = [f for f in findings if f.failed]
    totals: dict[str, int] = {}
    for outcome in outcomes:
        for name, value in outcome.numbers().items():
            totals[name] = totals.get(name, 0) + value
    text = "\n".join(f"- {'FAILED' if f.failed else 'attention'}: {f.line(base)}" for f in findings) or "done"
    metadata: dict[str, Any] = {**totals, "findings": dg.MetadataValue.md(text)}
    yield dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name=check,
                asset_key=asset,
                passed=not findings,
                # Attention only (kill switch, lock date): flagged in the UI, nothing blocked.
                severity=dg.AssetCheckSeverity.ERROR if failed else dg.AssetCheckSeverity.WARN,
                metadata={"findings": dg.MetadataValue.md(text)},
            )
        ],
    )
    if failed:
        raise dg.Failure(description="; ".join(f.line(base) for f in failed), allow_retries=False)


def _health(key: dg.AssetKey, check: str, check_description: str) -> dict[str, Any]:
    """What both health assets declare alike: one blocking check, the group, kinds and owners."""
    return {
        "key": key,
        "backfill_policy": dg.BackfillPolicy.single_run(),
        "check_specs": [dg.AssetCheckSpec(check, asset=key, blocking=True, description=check_description)],
        "kinds": {"duckdb"},
        "group_name": "health",
        "owners": ["team:finance-systems"],
    }


def quarantine_share(
    context: dg.AssetExecutionContext, warehouse: Warehouse, settings: Settings
) -> Iterator[dg.MaterializeResult]:
    """How much of each entity's extracted days went to quarantine; a run that mostly quarantined fails."""
    yield from _report(
        QUARANTINE_SHARE,
        DAYS_USABLE,
        [days_outcome(warehouse, settings, p.entity, p.first, p.last) for p in day_slices(context)],
        settings.orchestration.runbook_base_url,
    )


def month_outcome_asset(
    context: dg.AssetExecutionContext, warehouse: Warehouse, settings: Settings
) -> Iterator[dg.MaterializeResult]:
    """Whether the entity-month is done: posted in full, nothing dead-lettered, not mostly quarantined."""
    outcomes = [
        month_outcome(
            warehouse, settings, p.entity, p.month, posting_stop_reason(context.instance, p.entity, p.month)
        )
        for p in month_slices(context)
    ]
    yield from _report(MONTH_OUTCOME, MONTH_DONE, outcomes, settings.orchestration.runbook_base_url)


def build_quarantine_share(partitions: Partitions) -> dg.AssetsDefinition:
    """`health/quarantine_share` over the configuration's entity-days."""
    return dg.asset(
        deps=[BILLABLE_LINES, QUARANTINE],
        partitions_def=partitions.entity_day,
        **_health(
            QUARANTINE_SHARE,
            DAYS_USABLE,
            "The run's days are not mostly quarantined (orchestration.quarantine_failure_share).",
        ),
    )(quarantine_share)


def build_month_outcome(partitions: Partitions) -> dg.AssetsDefinition:
    """`health/month_outcome` over the configuration's entity-months."""
    return dg.asset(
        deps=[POSTED_INVOICES],
        partitions_def=partitions.entity_month,
        **_health(
            MONTH_OUTCOME,
            MONTH_DONE,
            "Every drafted document is in the ledger, none is in the dead letters, and the month is not "
            "mostly quarantined.",
        ),
    )(month_outcome_asset)
