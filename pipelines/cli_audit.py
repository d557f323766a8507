"""`billbridge audit verify|show`: check that the audit trail is intact, and read it."""

from __future__ import annotations

import argparse
import json
import sys
from collections import deque
from typing import Any

from resources.audit_log import AuditLog


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Recompute the hash chain; one line per problem, exit 1 when the log was tampered with."""
    verdict = AuditLog().verify(expect_head=args.expect_head)
    for problem in verdict.problems:
        print(f"audit log TAMPERED: {problem}", file=sys.stderr)
    if verdict.problems:
        return 1
    print(f"audit log intact: {verdict.entries} entries, head {verdict.head}")
    return 0


def cmd_audit_show(args: argparse.Namespace) -> int:
    """The latest entries (optionally one actor's or one action's), oldest first."""
    wanted = deque(
        (
            e
            for e in AuditLog().entries()
            if (not args.actor or e["actor"] == args.actor)
            and (not args.action or e["action"].startswith(args.action))
        ),
        maxlen=args.last,
    )
    for entry in wanted:
        if args.json:
            print(json.dumps(entry, sort_keys=True))
        else:
            print(
                f"{entry['seq']:>7} {entry['at'][:19]} {entry['actor']:12} {entry['outcome']:8} {entry['action']:22} {entry['target']}"
            )
    return 0


def register(subparsers: Any) -> None:
    """Add `billbridge audit ...`."""
    audit = subparsers.add_parser("audit", help="the hash-chained audit trail")
    sub = audit.add_subparsers(dest="action", required=True)
    verify = sub.add_parser("verify", help="detect edited, deleted or reordered entries")
    verify.add_argument("--expect-head", help="the head hash recorded elsewhere (detects a rewritten log)")
    verify.set_defaults(func=cmd_audit_verify)
    show = sub.add_parser("show", help="the latest entries")
    show.add_argument("--last", type=int, default=50)
    show.add_argument("--actor")
    show.add_argument("--action", help="prefix, e.g. dlq. or configuration.")
    show.add_argument("--json", action="store_true")
    show.set_defaults(func=cmd_audit_show)
