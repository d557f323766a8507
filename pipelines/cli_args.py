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
from typing import Any

from resources.configuration import current_config
from rules.config_types import ConfigurationError

PERIOD_PATTERN = r"[0-9]{4}-(0[1-9]|1[0-2])"


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
