"""`billbridge close`: the group's month close from one command (pipelines/group_close_command.py)."""

from __future__ import annotations

import argparse
import sys
from datetime import date

from pipelines.cli_args import REQUIRED_ENV, check_period, entity_id, period, run_options


def cmd_close(args: argparse.Namespace) -> int:
    """Every entity's month closed, `--parallel` at a time, then the group close."""
    from pipelines.group_close_command import GroupCloseRequest, run_group_close
    from pipelines.runner import RunSettings
    from resources.configuration import current_config
    from resources.oauth import unset_variables

    missing = unset_variables(REQUIRED_ENV)
    if missing:
        print(f"billbridge close: set {', '.join(missing)} (for the local sandboxes: run "
              "`billbridge sandbox up` and use the variables it prints)", file=sys.stderr)  # fmt: skip
        return 2
    if args.parallel < 1:
        print(f"billbridge close: --parallel must be at least 1, got {args.parallel}", file=sys.stderr)
        return 2
    config = current_config()
    month = date.fromisoformat(f"{args.period}-01")
    try:
        check_period(month, config.billing_start, date.today())
    except ValueError as exc:
        print(f"billbridge close: {exc}", file=sys.stderr)
        return 2
    request = GroupCloseRequest(
        month, args.entity or config.entity_ids, args.parallel,
        RunSettings(args.rerate_fx, args.verbose, args.executor), args.wait,
    )  # fmt: skip
    return run_group_close(request).exit_code


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `billbridge close`."""
    close = sub.add_parser("close", help="the group's month close: every entity's, then the group's")
    close.add_argument("--period", required=True, type=period, help="YYYY-MM")
    close.add_argument("--entity", action="append", type=entity_id, help="only these entities (repeatable)")
    close.add_argument("--parallel", type=int, default=4, help="entities closed at once (default 4)")
    close.add_argument("--rerate-fx", action="store_true", help="convert with today's ECB rates")
    close.add_argument("--executor", choices=["in_process", "celery"], default="in_process",
                       help="celery: each entity's close on its Celery worker (deploy/celery.md)")  # fmt: skip
    run_options(close)
    close.set_defaults(func=cmd_close)
