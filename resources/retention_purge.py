"""Purging archived periods past retention and not under a legal hold (docs/decisions/0032).

The plan (rules/retention/decisions.py) lists the archived slices the warehouse still holds; a dry
run saves its fingerprint beside the archive, and the real run deletes only when its own plan has
the same fingerprint (or the caller said --yes). Before deleting, in the deleting transaction, every
slice is checked against its archive: the archive intact, and every row of the slice in it; a row
written or changed since archiving stops the whole purge with nothing deleted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from resources.archive import Archive, ArchiveError, Manifest
from resources.atomic_files import write_atomically
from resources.private_files import private_dir
from rules.retention.decisions import ArchivedSlice, PurgePlan, PurgeScope, plan_purge
from rules.retention.tables import RETAINED

DRY_RUN_FILE = "purge-dry-run.json"


@dataclass(frozen=True)
class Purger:
    """Plans and runs purges of one archive (and the warehouse beside it)."""

    archive: Archive

    def plan(self, scope: PurgeScope) -> PurgePlan:
        """What a purge would delete and keep today: archived slices the warehouse still holds."""
        archived: dict[str, tuple[list[ArchivedSlice], frozenset[int]]] = {}
        warehouse = self.archive.warehouse
        if not warehouse.exists(scope.entity):
            return PurgePlan(scope.entity)
        with warehouse.connect(scope.entity) as con:
            for period in self.archive.periods(scope.entity):
                manifest = self.archive.manifest(scope.entity, period)
                slices = []
                for entry in manifest.tables:
                    retained = RETAINED.get(entry.table)
                    if retained is None:
                        continue
                    row = con.execute(
                        f"SELECT count(*) FROM {entry.table} WHERE {retained.slice_sql()}", [period]
                    ).fetchone()
                    if row and row[0]:
                        slices.append(ArchivedSlice(entry.table, period, int(row[0])))
                archived[period] = (slices, frozenset(manifest.clients))
        return plan_purge(scope, archived)

    def _dry_run_path(self, entity: str) -> Path:
        return self.archive.root / entity / DRY_RUN_FILE

    def record_dry_run(self, plan: PurgePlan) -> None:
        """Remember the dry run's fingerprint: the real run of the same scope checks it."""
        body = {"entity": plan.entity, "fingerprint": plan.fingerprint(), "at": datetime.now(UTC).isoformat()}
        path = self._dry_run_path(plan.entity)
        private_dir(path.parent)
        write_atomically(path, json.dumps(body).encode())

    def matches_dry_run(self, plan: PurgePlan) -> bool:
        """Whether the last dry run for this entity planned exactly these deletions."""
        path = self._dry_run_path(plan.entity)
        if not path.exists():
            return False
        try:
            return bool(json.loads(path.read_text(encoding="utf-8"))["fingerprint"] == plan.fingerprint())
        except (ValueError, KeyError):
            return False

    def purge(self, plan: PurgePlan) -> dict[str, int]:
        """Delete the plan's slices in one transaction; rows deleted per `table period`.
        ArchiveError (nothing deleted) when an archive is not intact or lacks a row of its slice."""
        manifests: dict[str, Manifest] = {}
        for item in plan.deletable:
            if item.period not in manifests:
                manifests[item.period] = self.archive.verified(plan.entity, item.period)
        deleted = {}
        with self.archive.warehouse.transaction(plan.entity) as con:
            for item in plan.deletable:
                manifest = manifests[item.period]
                entry = next(e for e in manifest.tables if e.table == item.table)
                newer = self.archive.unarchived_rows(con, manifest, entry)
                if newer:
                    raise ArchiveError(
                        f"{item.table} {item.period}: {newer} row(s) are not in the archive (written since it "
                        f"was made): archive {item.period} again, then purge; nothing was purged"
                    )
                row = con.execute(
                    f"DELETE FROM {item.table} WHERE {RETAINED[item.table].slice_sql()}", [item.period]
                ).fetchone()
                deleted[f"{item.table} {item.period}"] = int(row[0]) if row else 0
        self._dry_run_path(plan.entity).unlink(missing_ok=True)
        return deleted
