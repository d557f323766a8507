"""`billbridge hold set|lift|list`, `archive`, `restore` and `purge`: retention (docs/decisions/0032).

A purge deletes only archived rows past retention and under no legal hold; without `--dry-run`
it runs only after a dry run of the same entity planned exactly the same deletions, or with `--yes`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from typing import Any

from pipelines.cli_args import entity_id, one_line_errors, period
from resources.access_config import current_identity
from resources.archive import Archive, ArchiveError
from resources.audit_log import AuditEvent, AuditLog
from resources.configuration import current_config
from resources.crypto import KeyProblem
from resources.legal_holds import HoldError, HoldRequest, active_scopes, holds, lift_hold, set_hold
from resources.retention_purge import Purger
from resources.warehouse import Warehouse
from rules.retention.decisions import HoldScope, PurgePlan, PurgeScope


def cmd_hold_set(args: argparse.Namespace) -> int:
    """Put the entity (or one client, or one period) under a legal hold."""
    scope = HoldScope(args.entity, args.client, args.period)
    request = HoldRequest(current_identity().user, args.reason)
    hold_id = set_hold(Warehouse(), scope, request, AuditLog())
    print(f"legal hold {hold_id} set on {scope}: {args.reason}")
    return 0


def cmd_hold_lift(args: argparse.Namespace) -> int:
    """Lift one active hold, with a reason."""
    request = HoldRequest(current_identity().user, args.reason)
    lift_hold(Warehouse(), args.entity, args.id, request, AuditLog())
    print(f"legal hold {args.id} lifted: {args.reason}")
    return 0


def cmd_hold_list(args: argparse.Namespace) -> int:
    """The entity's holds (active ones; every one with --all)."""
    frame = holds(Warehouse(read_only=True), args.entity, include_lifted=args.all)
    if frame.height == 0:
        print(f"no {'' if args.all else 'active '}legal holds for {args.entity}")
    for row in frame.iter_rows(named=True):
        scope = HoldScope(row["entity"], row["client_id"], row["period"])
        state = f"lifted {row['lifted_at']:%Y-%m-%d} by {row['lifted_by']}" if row["lifted_at"] else "active"
        print(
            f"{row['hold_id']}  {scope}  set {row['set_at']:%Y-%m-%d} by {row['set_by']}  {state}: {row['reason']}"
        )
    return 0


def _archive() -> Archive:
    """The archive, its manifests anchored in the audit trail under the caller's name."""
    return Archive(Warehouse(), AuditLog(), current_identity().user)


def cmd_archive(args: argparse.Namespace) -> int:
    """Write a closed period's rows to Parquet with a checksummed manifest."""
    archive = _archive()
    manifest = archive.write(args.entity, args.period, date.today())
    rows = sum(t.rows for t in manifest.tables)
    print(f"archived {args.entity} {args.period}: {rows:,} row(s) in {len(manifest.tables)} table(s) under "
          f"{archive.folder(args.entity, args.period)}")  # fmt: skip
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    """Put an archived period's rows back into the warehouse (rows already there are left alone)."""
    inserted = _archive().restore(args.entity, args.period)
    for table, count in sorted(inserted.items()):
        print(f"  {table:40} {count:>10,} row(s) restored")
    print(f"restored {args.entity} {args.period}: {sum(inserted.values()):,} row(s)")
    return 0


def _print_plan(plan: PurgePlan) -> None:
    for item in plan.deletable:
        print(f"  delete {item.period} {item.table:40} {item.rows:>10,} row(s)")
    for item, reason in plan.kept:
        print(f"  keep   {item.period} {item.table:40} {item.rows:>10,} row(s): {reason}")
    rows = sum(s.rows for s in plan.deletable)
    print(f"{plan.entity}: {rows:,} row(s) in {len(plan.deletable)} slice(s) past retention and not held")


def cmd_purge(args: argparse.Namespace) -> int:
    """Dry run: the report. Real run: delete what the same dry run listed (or --yes)."""
    config = current_config()
    purger = Purger(_archive())
    warehouse = purger.archive.warehouse
    scope = PurgeScope(
        args.entity, config.entity(args.entity).jurisdiction, config.retention, active_scopes(warehouse, args.entity),
        date.today(),
    )  # fmt: skip
    plan = purger.plan(scope)
    _print_plan(plan)
    if args.dry_run:
        purger.record_dry_run(plan)
        detail = {"fingerprint": plan.fingerprint(), "rows": sum(x.rows for x in plan.deletable)}
        AuditLog().append(
            AuditEvent(current_identity().user, "retention.purge_planned", args.entity, "ok", detail)
        )
        print(f"dry run: nothing deleted; `billbridge purge --entity {args.entity}` deletes the above")
        return 0
    if not args.yes and not purger.matches_dry_run(plan):
        print(f"billbridge purge: refused: run `billbridge purge --entity {args.entity} --dry-run` first and "
              "read its report (or pass --yes); the plan differs from the last dry run", file=sys.stderr)  # fmt: skip
        return 2
    deleted = purger.purge(plan)
    AuditLog().append(
        AuditEvent(current_identity().user, "retention.purged", args.entity, "ok", {"deleted": deleted})
    )
    print(f"purged {sum(deleted.values()):,} row(s) from {args.entity}")
    return 0


def _one_line(func: Any) -> Any:
    return one_line_errors(func, ArchiveError, HoldError, KeyProblem)


def _hold_parsers(subparsers: Any) -> None:
    hold = subparsers.add_parser("hold", help="legal holds: nothing held is purged")
    sub = hold.add_subparsers(dest="action", required=True)
    set_ = sub.add_parser("set", help="hold an entity, or one client or period of it")
    set_.add_argument("--entity", required=True, type=entity_id)
    set_.add_argument("--client", type=int, help="PM client id: only the periods naming this client")
    set_.add_argument("--period", type=period, help="only this month, YYYY-MM")
    set_.add_argument("--reason", required=True)
    set_.set_defaults(func=_one_line(cmd_hold_set))
    lift = sub.add_parser("lift", help="lift one hold, with a reason")
    lift.add_argument("--entity", required=True, type=entity_id)
    lift.add_argument("--id", required=True, help="the hold id `hold set` printed")
    lift.add_argument("--reason", required=True)
    lift.set_defaults(func=_one_line(cmd_hold_lift))
    listing = sub.add_parser("list", help="the entity's active holds")
    listing.add_argument("--entity", required=True, type=entity_id)
    listing.add_argument("--all", action="store_true", help="lifted holds too")
    listing.set_defaults(func=_one_line(cmd_hold_list))


def register(subparsers: Any) -> None:
    """Add `billbridge hold ...`, `archive`, `restore` and `purge`."""
    _hold_parsers(subparsers)
    for name, func, help_ in (
        ("archive", cmd_archive, "write a closed period to Parquet with a checksummed manifest"),
        ("restore", cmd_restore, "put an archived period back into the warehouse"),
    ):
        parser = subparsers.add_parser(name, help=help_)
        parser.add_argument("--entity", required=True, type=entity_id)
        parser.add_argument("--period", required=True, type=period, help="YYYY-MM")
        parser.set_defaults(func=_one_line(func))
    purge = subparsers.add_parser("purge", help="delete archived rows past retention and not held")
    purge.add_argument("--entity", required=True, type=entity_id)
    purge.add_argument("--dry-run", action="store_true", help="print the report; delete nothing")
    purge.add_argument("--yes", action="store_true", help="purge without a matching dry run")
    purge.set_defaults(func=_one_line(cmd_purge))
