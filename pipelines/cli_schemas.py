"""`billbridge schemas`: check today's registry against the last release, or record a release's shapes."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from rules.schemas.catalog import PAYLOADS, RETIRED, TABLES
from rules.schemas.compatibility import snapshot, undeclared

RELEASED = Path(__file__).resolve().parents[1] / "docs" / "schemas"


def latest_release(folder: Path = RELEASED) -> dict:  # type: ignore[type-arg]
    """The newest released snapshot kept in the repository (docs/schemas/released-X.Y.Z.json)."""
    files = sorted(
        folder.glob("released-*.json"), key=lambda p: tuple(int(x) for x in p.stem.split("-")[1].split("."))
    )
    return json.loads(files[-1].read_text(encoding="utf-8"))


def cmd_check(args: argparse.Namespace) -> int:
    """Exit 1, one line per change, when a change's version bump is missing."""
    problems = undeclared(latest_release(), snapshot(TABLES, PAYLOADS), RETIRED)
    for line in problems:
        print(line)
    print("compatible as declared" if not problems else f"{len(problems)} undeclared change(s)")
    return 1 if problems else 0


def dumps(release: dict) -> str:  # type: ignore[type-arg]
    """A snapshot as JSON with one column or field per line, so a release's diff reads like the change."""
    text = json.dumps(release, indent=1)
    # Collapse each innermost object (a column, a field) onto its own line.
    return (
        re.sub(r"\{\n\s+([^{}\[\]]*?)\n\s*\}", lambda m: "{" + re.sub(r"\n\s+", " ", m.group(1)) + "}", text)
        + "\n"
    )


def cmd_snapshot(args: argparse.Namespace) -> int:
    """Write today's shapes as release `--release`."""
    target = RELEASED / f"released-{args.release}.json"
    target.write_text(dumps({"release": args.release, **snapshot(TABLES, PAYLOADS)}))
    print(f"wrote {target}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `billbridge schemas check|snapshot`."""
    schemas = sub.add_parser("schemas", help="table and payload schemas against the last release")
    action = schemas.add_subparsers(dest="action", required=True)
    action.add_parser("check", help="fail on a change whose version bump is missing").set_defaults(
        func=cmd_check
    )
    snap = action.add_parser("snapshot", help="record today's shapes as a release")
    snap.add_argument("--release", required=True, help="X.Y.Z")
    snap.set_defaults(func=cmd_snapshot)
