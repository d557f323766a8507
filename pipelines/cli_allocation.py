"""`billbridge allocate`: launch the `reallocate` job from the command line (recorded in the Dagster instance)."""

from __future__ import annotations

import argparse
from typing import Any


def cmd_allocate(args: argparse.Namespace) -> int:
    """Run `reallocate` for the given scope and print each entity-month's diff."""
    import dagster as dg

    from pipelines.definitions import current_definitions
    from pipelines.runner import QUIET, _failure, ensure_dagster_home

    ensure_dagster_home()
    op_config: dict[str, Any] = {
        "months": args.month,
        "entities": args.entity or [],
        "rule_set_path": args.rules or "",
        "rule_set_version": args.rule_set_version or "",
        "effective_date": args.effective_date or "",
        "dry_run": args.dry_run,
    }
    with dg.DagsterInstance.get() as instance:
        result = (
            current_definitions()
            .resolve_job_def("reallocate")
            .execute_in_process(
                instance=instance,
                run_config={**QUIET, "ops": {"reallocate_scope": {"config": op_config}}},
                raise_on_error=False,
            )
        )
    if not result.success:
        print(f"reallocate FAILED (run {result.run_id[:8]}): {_failure(result)}")
        return 1
    output = next(e for e in result.all_events if e.is_successful_output and e.step_key == "reallocate_scope")
    metadata = output.step_output_data.metadata
    mode = "dry run, nothing written" if args.dry_run else "written"
    print(f"reallocate ok (run {result.run_id[:8]}, {mode}), rule set {metadata['rule_set_version'].value}")
    print(metadata["diff"].value)
    return 0


def register(subparsers: Any) -> None:
    """Add `billbridge allocate`."""
    allocate = subparsers.add_parser(
        "allocate", help="re-run cost allocation for entity-months (the `reallocate` job)"
    )
    allocate.add_argument("--month", action="append", required=True, help="YYYY-MM (repeatable)")
    allocate.add_argument("--entity", action="append", help="entity id (repeatable; default: every entity)")
    allocate.add_argument("--rules", help="path of a (draft) rule set; default config/allocation_rules.yaml")
    allocate.add_argument("--rule-set-version", help="refuse to run unless the rule set has this version")
    allocate.add_argument("--effective-date", help="YYYY-MM-DD; months ending before it are kept as they are")
    allocate.add_argument("--dry-run", action="store_true", help="compute and diff, write nothing")
    allocate.set_defaults(func=cmd_allocate)
