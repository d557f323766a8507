"""`billbridge reconcile` (load the inbox and receivables, then match a month) and `billbridge workbench`."""

from __future__ import annotations

import argparse
import getpass
from datetime import UTC, date, datetime
from typing import Any

from pipelines.cli_args import entity_id, period


def cmd_reconcile(args: argparse.Namespace) -> int:
    """Run `load_bank_statements` for the entity's yesterday, then `reconcile_bank` for the month (which
    matches, drafts the settlement Payments and posts them through the outbox)."""
    import dagster as dg

    from assets.partitions import day_key, month_key
    from pipelines.concurrency import entity_tags
    from pipelines.definitions import current_definitions
    from pipelines.runner import QUIET, _failure, ensure_dagster_home
    from resources.configuration import current_config
    from rules.calendar import previous_local_day

    ensure_dagster_home()
    entity = current_config().entity(args.entity)
    day = previous_local_day(datetime.now(UTC), entity.timezone)
    runs = [("load_bank_statements", day_key(entity.id, day)),
            ("reconcile_bank", month_key(entity.id, date.fromisoformat(f"{args.period}-01")))]  # fmt: skip
    with dg.DagsterInstance.get() as instance:
        for job, key in runs:
            result = current_definitions().resolve_job_def(job).execute_in_process(
                instance=instance, partition_key=str(key), tags=entity_tags(entity.id, "cli"), run_config=QUIET,
                raise_on_error=False,
            )  # fmt: skip
            if not result.success:
                print(f"{job} {key} FAILED (run {result.run_id[:8]}): {_failure(result)}")
                return 1
            print(f"{job} {key} ok (run {result.run_id[:8]})")
    return 0


def cmd_workbench(args: argparse.Namespace) -> int:
    """Serve the workbench on 127.0.0.1 until Ctrl-C."""
    import uvicorn

    from resources.bank_statements_rules import load_reconciliation_rules
    from resources.configuration import current_config
    from resources.warehouse import Warehouse
    from web.app import WorkbenchSettings, create_app

    config = current_config()
    entities = tuple(config.entity_ids)
    contact_of: dict[str, dict[str, str]] = {}
    for client in config.mapping.clients:
        contact_of.setdefault(client.entity, {})[str(client.pm_client_id)] = client.contact_name
    settings = WorkbenchSettings(
        Warehouse(), load_reconciliation_rules(entities=entities), entities, user_header=args.user_header or "",
        local_user="" if args.user_header else (args.user or getpass.getuser()), contact_of=contact_of,
    )  # fmt: skip
    print(f"workbench on http://127.0.0.1:{args.port} (acting person: "
          f"{'header ' + args.user_header if args.user_header else settings.local_user})")  # fmt: skip
    uvicorn.run(create_app(settings), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


def register(subparsers: Any) -> None:
    """Add `billbridge reconcile` and `billbridge workbench`."""
    reconcile = subparsers.add_parser(
        "reconcile", help="read the bank statement inbox, match an entity-month and post its payments"
    )
    reconcile.add_argument("--entity", required=True, type=entity_id)
    reconcile.add_argument(
        "--period", required=True, type=period, help="YYYY-MM of the bank lines' booking dates"
    )
    reconcile.set_defaults(func=cmd_reconcile)
    workbench = subparsers.add_parser("workbench", help="the reconciliation workbench on 127.0.0.1")
    workbench.add_argument("--port", type=int, default=8714)
    workbench.add_argument("--user-header", help="request header naming the person (set by your proxy)")
    workbench.add_argument("--user", help="the person acting when no header is used (default: your login)")
    workbench.set_defaults(func=cmd_workbench)
