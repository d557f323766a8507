"""`billbridge gdpr export`: a person's subject access export (erasure is not built yet)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from resources.configuration import current_config
from resources.subject_access import subject_access, write_export
from resources.warehouse import Warehouse


def cmd_gdpr_export(args: argparse.Namespace) -> int:
    """Write everything held about one PM user, decrypted, as JSON."""
    document = subject_access(Warehouse(), current_config().entity_ids, args.person)
    out = Path(args.out or f"subject-access-{args.person}.json")
    write_export(document, out)
    counts = {e: sum(len(rows) for rows in tables.values()) for e, tables in document["entities"].items()}
    held = ", ".join(f"{e}: {n} record(s)" for e, n in counts.items()) or "nothing held"
    print(f"wrote {out}: {held}")
    return 0


def register(subparsers: Any) -> None:
    """Add `billbridge gdpr ...`."""
    gdpr = subparsers.add_parser("gdpr", help="data subject requests")
    sub = gdpr.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export", help="everything held about one person (subject access), as JSON")
    export.add_argument("--person", type=int, required=True, help="the person's PM user id")
    export.add_argument("--out", help="file to write (default subject-access-PERSON.json)")
    export.set_defaults(func=cmd_gdpr_export)
