"""What `billbridge sync` and `demo` do between parsing and the summary: plan, lock, run, say.

Before anything runs, runs left `STARTED` by a killed `billbridge` are marked failed. Each
entity's runs happen under that entity's lock (resources/run_lock.py): a second sync of
the same entity waits for the first, saying so, or gives up after `wait_s` with a plain
message and exit code 75 (EX_TEMPFAIL). Exit codes: 0 every job done; 1 something not done
(a failed run or a failed finding, one line each); 75 busy.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import dagster as dg

from pipelines import runner
from pipelines.orphans import fail_orphaned_runs
from pipelines.progress import Progress
from resources.configuration import current_config
from resources.run_lock import EntityBusyError, LockHolder, entity_lock
from resources.warehouse import default_home

EXIT_DONE, EXIT_NOT_DONE, EXIT_BUSY = 0, 1, 75


@dataclass(frozen=True)
class SyncRequest:
    """Which entity-months to run, and how."""

    entities: list[str]
    months: list[date]
    settings: runner.RunSettings = field(default_factory=runner.RunSettings)
    close_group: bool = False
    wait_s: float = 600.0


@dataclass
class SyncReport:
    """What the runs did: every outcome, and the entities that stayed busy."""

    outcomes: list[runner.RunOutcome] = field(default_factory=list)
    busy: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        if any(not o.done for o in self.outcomes):
            return EXIT_NOT_DONE
        return EXIT_BUSY if self.busy else EXIT_DONE


def _say_waiting(name: str, wait_s: float) -> Callable[[LockHolder | None], None]:
    """Say once, plainly, that another run holds the entity and how long this one waits."""

    def on_wait(holder: LockHolder | None) -> None:
        who = holder.describe() if holder else "another billbridge process"
        print(f"{name}: another billbridge run is working on this entity ({who}); waiting up to {wait_s:g} s")
        sys.stdout.flush()

    return on_wait


def _run_entity(
    instance: dg.DagsterInstance, entity: str, request: SyncRequest, progress: Progress, report: SyncReport
) -> None:
    defs = _definitions()
    for month in request.months:
        scope = f"{entity} {month:%Y-%m}"
        progress.begin(scope, "extract_and_normalize")
        extracted = runner.extract_month(instance, defs, entity, month, request.settings)
        if extracted is None:
            progress.skip("no day of this month has ended yet")
        else:
            progress.end(extracted)
            report.outcomes.append(extracted)
        progress.begin(scope, "bill_and_post")
        if extracted is not None and not extracted.success:
            progress.skip("the extraction failed")
            continue
        trace_id = extracted.run_id if extracted else ""  # the sync's billing is the extraction's trace
        billed = _close(instance, defs, entity, month, request.settings, trace_id)
        progress.end(billed)
        report.outcomes.append(billed)


def _close(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    entity: str,
    month: date,
    settings: runner.RunSettings,
    trace_id: str,
) -> runner.RunOutcome:
    """Billing-to-posting for the entity-month, in this process or on its shard's Celery worker."""
    if settings.executor == runner.CELERY:
        from pipelines.celery_runner import bill_month_on_workers  # imports dagster-celery: only when asked

        return bill_month_on_workers(instance, entity, month, settings, trace_id)
    return runner.bill_month(instance, defs, entity, month, settings, trace_id)


def run_sync(request: SyncRequest) -> SyncReport:
    """Run the request's entity-months (then the group closes), printing progress; the report says how it went."""
    runner.ensure_dagster_home()
    home = Path(default_home())
    report = SyncReport()
    total = 2 * len(request.entities) * len(request.months) + (
        len(request.months) if request.close_group else 0
    )
    progress = Progress(total, current_config().orchestration.runbook_base_url)
    with dg.DagsterInstance.get() as instance:
        for run in fail_orphaned_runs(instance):
            print(f"marked run {run.run_id[:8]} ({run.job_name}) failed: its billbridge process was killed")
        for entity in request.entities:
            try:
                with entity_lock(home, entity, request.wait_s, _say_waiting(entity, request.wait_s)):
                    _run_entity(instance, entity, request, progress, report)
            except EntityBusyError as exc:
                print(f"{exc}; not run. Try again when it has finished.")
                report.busy.append(entity)
                progress.done += 2 * len(request.months)
        if request.close_group:
            with entity_lock(home, "group", request.wait_s, _say_waiting("group", request.wait_s)):
                for month in request.months:
                    progress.begin(f"group {month:%Y-%m}", "consolidate_group")
                    outcome = runner.close_group(
                        instance,
                        _definitions(),
                        month,
                        request.settings.rerate_fx,
                        verbose=request.settings.verbose,
                    )
                    progress.end(outcome)
                    report.outcomes.append(outcome)
    return report


def _definitions() -> dg.Definitions:
    """The code location, imported when first needed (it loads every asset module)."""
    from pipelines.definitions import current_definitions

    return current_definitions()
