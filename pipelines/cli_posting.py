"""`billbridge dlq ...` (dead letters) and `billbridge export-drafts` (CSV for urgent manual billing)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from pipelines.cli_args import entity_id, period
from resources.configuration import current_config
from resources.csv_export import write_spreadsheet_csv
from resources.warehouse import Warehouse

DLQ_ENV = ("XERO_BASE_URL", "XERO_ACCESS_TOKEN")


def _entity_of(dead_letter_id: str) -> str:
    """Dead-letter ids are `<entity>-<n>`."""
    entity, _, number = dead_letter_id.rpartition("-")
    if not entity or not number.isdigit():
        raise ValueError(f"dead letter ids look like us-3, got {dead_letter_id!r}")
    current_config().entity(entity)
    return entity


def cmd_dlq_list(args: argparse.Namespace) -> int:
    """Print open dead letters of every entity (or one), with --all the replayed and discarded too."""
    from resources.outbox.dead_letters import list_dead_letters

    config, warehouse = current_config(), Warehouse()
    entities = [args.entity] if args.entity else config.entity_ids
    rows = []
    for entity in entities:
        if warehouse.exists(entity):
            rows.extend(list_dead_letters(warehouse, entity, include_closed=args.all).to_dicts())
    if not rows:
        print("no dead letters")
        return 0
    for row in rows:
        error = str(row["error"]).replace("\n", " ")[:100]
        print(
            f"{row['dead_letter_id']:8} {row['state']:9} {row['document_number']:32} attempts {row['attempts']}  {error}"
        )
    return 0


def cmd_dlq_show(args: argparse.Namespace) -> int:
    """Print one dead letter as JSON: document, error, attempts and every request and response."""
    from resources.outbox.dead_letters import show_dead_letter

    letter: dict[str, Any] = show_dead_letter(Warehouse(), _entity_of(args.id), args.id)
    letter["document"] = json.loads(letter["document"])
    print(json.dumps(letter, indent=2, default=str))
    return 0


def _ledger(command: str) -> Any:
    """The accounting connector from the environment (XERO_BASE_URL and a token or a connection),
    or None after one line saying what to set."""
    from resources.oauth import CONNECTION_ENV, unset_variables
    from resources.xero import XeroClient

    missing = unset_variables(DLQ_ENV)
    if missing:
        print(f"billbridge dlq {command}: set {', '.join(missing)} (or {CONNECTION_ENV})", file=sys.stderr)
        return None
    return XeroClient(base_url=os.environ["XERO_BASE_URL"])  # credentials: resources/oauth.bearer_auth


def cmd_dlq_replay(args: argparse.Namespace) -> int:
    """Replay dead letters through the exactly-once path (XERO_BASE_URL and a Xero token must be set)."""
    from assets.outbound_sources import DOCUMENT_SOURCES
    from assets.posting.dead_letters import replay_dead_letters

    xero = _ledger("replay")
    if xero is None:
        return 2
    by_entity: dict[str, list[str]] = {}
    for dead_letter_id in args.ids:
        by_entity.setdefault(_entity_of(dead_letter_id), []).append(dead_letter_id)
    ok = True
    for entity, ids in by_entity.items():
        outcome = replay_dead_letters(
            current_config().entity(entity), ids, Warehouse(), xero, DOCUMENT_SOURCES
        )
        print(
            f"{entity}: posted {len(outcome.posted_new)}, already in the ledger "
            f"{len(outcome.already_posted) + len(outcome.found_by_lookup)}, dead-lettered again "
            f"{len(outcome.dead_lettered)}"
        )
        for status in (outcome.skipped, outcome.blocked_by, outcome.stopped):
            if status:
                print(f"  not complete: {status}")
        ok &= not (outcome.dead_lettered or outcome.skipped or outcome.blocked_by or outcome.stopped)
    return 0 if ok else 1


def cmd_dlq_discard(args: argparse.Namespace) -> int:
    """Close a dead letter without sending it, keeping the reason; refused when the ledger holds it."""
    from assets.posting.dead_letters import discard_dead_letter

    xero = _ledger("discard")
    if xero is None:
        return 2
    discard_dead_letter(current_config().entity(_entity_of(args.id)), args.id, args.reason, Warehouse(), xero)
    print(f"discarded {args.id}: {args.reason}")
    return 0


def cmd_export_drafts(args: argparse.Namespace) -> int:
    """Write the entity-month's invoice drafts (one row per line, header fields repeated) as CSV."""
    config = current_config()
    config.entity(args.entity)
    warehouse = Warehouse()
    if not warehouse.exists(args.entity):
        print(f"billbridge export-drafts: no warehouse for entity {args.entity!r} yet", file=sys.stderr)
        return 1
    frame = warehouse.query(
        args.entity,
        """
        SELECT d.invoice_number, d.contact_name, d.currency, d.invoice_date, d.due_date, d.reference,
               l.line_no, l.description, l.quantity, l.unit_amount, l.line_amount, l.tax_type, l.tax_amount,
               l.account_code, d.subtotal, d.total_tax, d.total, d.content_hash
        FROM billing.invoice_drafts d JOIN billing.invoice_draft_lines l USING (invoice_number)
        WHERE d.entity = ? AND d.period = ? ORDER BY d.invoice_number, l.line_no
        """,
        [args.entity, args.period],
    )
    if frame.height == 0:
        print(f"billbridge export-drafts: no drafts for {args.entity} {args.period}", file=sys.stderr)
        return 1
    out = Path(args.out or f"drafts-{args.entity}-{args.period}.csv")
    write_spreadsheet_csv(frame, out)  # PM text neutralised against formulas; exact Decimal digits
    invoices = frame["invoice_number"].n_unique()
    print(f"wrote {invoices} draft invoice(s), {frame.height} line(s) to {out}")
    return 0


def _guarded(func: Any) -> Any:
    def run(args: argparse.Namespace) -> int:
        from resources.outbox.dead_letters import DeadLetterError

        try:
            return int(func(args))
        except (DeadLetterError, KeyError, ValueError) as exc:
            print(f"billbridge {args.command}: {exc}", file=sys.stderr)
            return 2

    return run


def register(subparsers: Any) -> None:
    """Add `dlq` and `export-drafts` to the billbridge command line."""
    dlq = subparsers.add_parser("dlq", help="dead letters: list, show, replay, discard")
    actions = dlq.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="open dead letters (--all for closed ones too)")
    listing.add_argument("--entity", type=entity_id)
    listing.add_argument("--all", action="store_true")
    listing.set_defaults(func=_guarded(cmd_dlq_list))
    show = actions.add_parser("show", help="one dead letter with its requests and responses")
    show.add_argument("id")
    show.set_defaults(func=_guarded(cmd_dlq_show))
    replay = actions.add_parser("replay", help="post dead letters again, exactly once")
    replay.add_argument("ids", nargs="+", metavar="ID")
    replay.set_defaults(func=_guarded(cmd_dlq_replay))
    discard = actions.add_parser("discard", help="close a dead letter without sending it")
    discard.add_argument("id")
    discard.add_argument("--reason", required=True)
    discard.set_defaults(func=_guarded(cmd_dlq_discard))
    export = subparsers.add_parser("export-drafts", help="invoice drafts as CSV for manual billing")
    export.add_argument("--entity", required=True, type=entity_id)
    export.add_argument("--period", required=True, type=period, help="YYYY-MM")
    export.add_argument("--out", help="CSV path (default drafts-ENTITY-PERIOD.csv)")
    export.set_defaults(func=_guarded(cmd_export_drafts))
