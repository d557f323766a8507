"""Argument types every command shares, so an id is checked the same way wherever it is typed.

`--entity` values name files (`warehouse/<entity>.duckdb`) and `--period` values name exports:
both are checked at parse time, before any command opens or creates a file. The warehouse
checks entity ids again at the file boundary (`Warehouse.path`) for callers outside the CLI.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from datetime import date
from typing import Any

from resources.configuration import current_config
from rules.config_types import ConfigurationError

PERIOD_PATTERN = r"[0-9]{4}-(0[1-9]|1[0-2])"
# What a command that reaches the providers needs set (`billbridge sandbox up` prints them for the sandboxes).
REQUIRED_ENV = (
    "HARVEST_BASE_URL",
    "HARVEST_ACCOUNT_ID",
    "HARVEST_ACCESS_TOKEN",
    "XERO_BASE_URL",
    "XERO_ACCESS_TOKEN",
)


def entity_id(value: str) -> str:
    """An entity id from the configuration (argparse type); the known ids otherwise."""
    try:
        current_config().entity(value)
    except KeyError as exc:
        raise argparse.ArgumentTypeError(str(exc.args[0])) from None
    except ConfigurationError as exc:
        raise argparse.ArgumentTypeError(f"cannot check entity ids: {exc}") from None
    return value


def period(value: str) -> str:
    """A month as YYYY-MM (argparse type)."""
    if not re.fullmatch(PERIOD_PATTERN, value):
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM, got {value!r}")
    return value


def one_line_errors(func: Callable[[argparse.Namespace], int], *expected: type[Exception]) -> Any:
    """`func`, with the `expected` errors printed as one line (exit 2) instead of a traceback."""

    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except expected as exc:
            command = f"{args.command} {getattr(args, 'action', '') or ''}".strip()
            print(f"billbridge {command}: {exc}", file=sys.stderr)
            return 2

    return run


def run_options(parser: argparse.ArgumentParser) -> None:
    """`--verbose` and `--wait`, for every command that runs jobs."""
    parser.add_argument(
        "--verbose", action="store_true", help="print Dagster's run log, tracebacks included, to the terminal"
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="while another billbridge run holds an entity, wait this long (default 600; 0: do not wait)",
    )


def check_period(month: date, first: date, today: date) -> None:
    """ValueError naming the partitions when `month` is before billing_start's month or after this month."""
    first_month, this_month = first.replace(day=1), today.replace(day=1)
    if month < first_month:
        raise ValueError(
            f"--period {month:%Y-%m} is before the first partition {first_month:%Y-%m} "
            f"(billing_start {first} in {current_config().source_path or 'the configuration'})"
        )
    if month > this_month:
        raise ValueError(
            f"--period {month:%Y-%m} has not started yet; the latest period is {this_month:%Y-%m}"
        )
