"""`billbridge gdpr export|erase`: a person's subject access export, and their erasure by crypto-shredding."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from pipelines.cli_args import one_line_errors
from resources.access_config import current_identity
from resources.audit_log import AuditEvent, AuditLog
from resources.configuration import current_config
from resources.crypto import KeyProblem
from resources.erasure import KEPT, ErasureRequest, erase_person
from resources.subject_access import subject_access, write_export
from resources.warehouse import Warehouse


def cmd_gdpr_export(args: argparse.Namespace) -> int:
    """Write everything held about one PM user, decrypted, as JSON."""
    document = subject_access(Warehouse(), current_config().entity_ids, args.person)
    out = Path(args.out or f"subject-access-{args.person}.json")
    write_export(document, out)
    counts = {e: sum(len(rows) for rows in tables.values()) for e, tables in document["entities"].items()}
    held = ", ".join(f"{e}: {n} record(s)" for e, n in counts.items()) or "nothing held"
    erased = "; the person was erased" if document.get("erased") else ""
    print(f"wrote {out}: {held}{erased}")
    return 0


def cmd_gdpr_erase(args: argparse.Namespace) -> int:
    """Destroy one person's data key everywhere; register the erasure and the basis for what is kept."""
    if not args.reason.strip() or not args.basis.strip():
        print("billbridge gdpr erase: --reason and --basis must say something", file=sys.stderr)
        return 2
    actor = current_identity().user
    request = ErasureRequest(args.person, args.reason.strip(), args.basis.strip(), actor)
    report = erase_person(Warehouse(), current_config().entity_ids, request)
    detail = {
        "person": args.person,
        "basis": request.basis,
        "kept": KEPT["kept"],
        "resealed": sum(report.resealed.values()),
        "documents_naming_the_person": report.naming_documents,
    }
    AuditLog().append(AuditEvent(actor, "gdpr.erasure", f"person={args.person}", "ok", detail))
    again = " (already erased; registered again)" if report.already_erased else ""
    print(f"erased person {args.person}: their key is destroyed{again}")
    for place, count in sorted(report.resealed.items()):
        print(f"  re-sealed before shredding {place:40} {count:>8,}")
    for place, count in sorted(report.naming_documents.items()):
        print(f"  kept (issued documents naming them) {place:31} {count:>8,}")
    return 0


def register(subparsers: Any) -> None:
    """Add `billbridge gdpr ...`."""
    gdpr = subparsers.add_parser("gdpr", help="data subject requests")
    sub = gdpr.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export", help="everything held about one person (subject access), as JSON")
    export.add_argument("--person", type=int, required=True, help="the person's PM user id")
    export.add_argument("--out", help="file to write (default subject-access-PERSON.json)")
    export.set_defaults(func=one_line_errors(cmd_gdpr_export, KeyProblem))
    erase = sub.add_parser("erase", help="erase one person by destroying their data key (crypto-shredding)")
    erase.add_argument("--person", type=int, required=True, help="the person's PM user id")
    erase.add_argument("--reason", required=True, help="why (e.g. the request's reference)")
    erase.add_argument(
        "--basis", required=True, help="legal basis for what is kept (e.g. bookkeeping law's retention duty)"
    )
    erase.set_defaults(func=one_line_errors(cmd_gdpr_erase, KeyProblem))
