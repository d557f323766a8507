"""`billbridge migrate`: bring every warehouse file to this code's layout (docs/decisions/0023).

Files are migrated when a process opens them too, as long as every pending step is additive; this
command shows what would run (`--dry-run`), takes a backup copy of each file first, and is the only
way to apply a step marked as not safe at start-up.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from resources.migrations import Chain, MigrationError, migrate_file
from resources.migrations.entity import ENTITY_MIGRATIONS
from resources.migrations.group import GROUP_MIGRATIONS
from resources.warehouse import Warehouse, default_home


def warehouse_files(warehouse: Warehouse) -> list[tuple[Path, Chain]]:
    """Every entity file in the warehouse folder and the group file, with the chain each follows."""
    folder = Path(warehouse.home or default_home()) / "warehouse"
    files: list[tuple[Path, Chain]] = [(p, ENTITY_MIGRATIONS) for p in sorted(folder.glob("*.duckdb"))]
    if warehouse.group_path().exists():
        files.append((warehouse.group_path(), GROUP_MIGRATIONS))
    return files


def cmd_migrate(args: argparse.Namespace) -> int:
    """Plan (and unless --dry-run, apply) the pending migrations of every warehouse file."""
    files = warehouse_files(Warehouse())
    if not files:
        print("billbridge migrate: no warehouse files yet; they are created at the current layout")
        return 0
    failed = 0
    for path, chain in files:
        try:
            current, backup = migrate_file(path, chain, dry_run=args.dry_run, make_backup=not args.no_backup)
        except MigrationError as exc:
            print(f"FAILED {exc}")
            failed += 1
            continue
        if args.dry_run or not current.pending:
            print(current.describe())
        else:
            kept = f" (backup {backup})" if backup else ""
            print(
                f"{path}: migrated {current.applied} -> {chain.latest}: {', '.join(m.label for m in current.pending)}{kept}"
            )
    return 1 if failed else 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add `billbridge migrate`."""
    migrate = sub.add_parser("migrate", help="migrate every warehouse file to this version's layout")
    migrate.add_argument("--dry-run", action="store_true", help="only say what would be applied")
    migrate.add_argument("--no-backup", action="store_true", help="skip the copy taken before migrating")
    migrate.set_defaults(func=cmd_migrate)
