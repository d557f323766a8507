"""Closed periods archived to Parquet with a checksummed manifest, and restored (docs/decisions/0032).

`$BILLBRIDGE_HOME/archive/<entity>/<period>/` holds one Parquet file per table kept by period
(rules/retention/tables.py) and `manifest.json`: per table its rows, SHA-256, registered schema
version, and when it was written; the client ids the period's rows name (for client holds) and the
encryption key ids its ciphertexts need. Rows are copied as stored: encrypted personal fields stay
encrypted in the archive (resources/field_crypto.py). A restore checks everything before writing
anything: a file missing or altered, a manifest without a key, a key id gone from the key ring, a
schema of another major version: one message, nothing restored. Restoring twice inserts nothing.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from resources.atomic_files import write_atomically
from resources.audit_log import AuditEvent, AuditLog
from resources.crypto import PERSON_KEY_PREFIX, KeyProblem, load_key_ring
from resources.person_keys import unreadable_person_keys
from resources.private_files import private_dir
from resources.warehouse import Warehouse, default_home, write_parquet_atomically
from rules.retention.decisions import check_period, is_closed
from rules.retention.tables import CLIENT_COLUMNS, CLIENT_PAYLOADS, RETAINED, RETAINED_TABLES
from rules.schemas.catalog import table as registered

MANIFEST = "manifest.json"
ARCHIVED = "retention.archived"  # the audit action that records a manifest's SHA-256
MANIFEST_FORMAT = 1
_KEY_ID = re.compile(r"enc1:([A-Za-z0-9_-]+):")


class ArchiveError(RuntimeError):
    """An archive cannot be written, read or restored: the message says which file and why."""


@dataclass(frozen=True)
class ArchivedTable:
    """One table's rows of the period in one Parquet file."""

    table: str
    file: str
    rows: int
    sha256: str
    schema_version: str


@dataclass(frozen=True)
class Manifest:
    """What an archived period holds (manifest.json)."""

    entity: str
    period: str
    written_at: str
    tables: tuple[ArchivedTable, ...]
    clients: tuple[int, ...] = ()
    key_ids: tuple[str, ...] = ()

    def to_json(self) -> bytes:
        body = {"format": MANIFEST_FORMAT, **asdict(self)}
        return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()

    @staticmethod
    def parse(path: Path, text: str) -> Manifest:
        """The manifest in `text`; ArchiveError naming `path` and the missing or bad key."""
        try:
            body = json.loads(text)
            tables = tuple(
                ArchivedTable(
                    t["table"], t["file"], int(t["rows"]), str(t["sha256"]), str(t["schema_version"])
                )
                for t in body["tables"]
            )
            return Manifest(
                str(body["entity"]),
                str(body["period"]),
                str(body["written_at"]),
                tables,
                tuple(int(c) for c in body.get("clients", [])),
                tuple(str(k) for k in body.get("key_ids", [])),
            )
        except KeyError as exc:
            raise ArchiveError(
                f"{path}: the manifest has no key {exc.args[0]!r}; nothing was changed"
            ) from None
        except (ValueError, TypeError) as exc:
            raise ArchiveError(f"{path}: not a readable manifest ({exc}); nothing was changed") from None


def sha256_of(path: Path) -> str:
    """The SHA-256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _key_ids(frame: pl.DataFrame) -> set[str]:
    found: set[str] = set()
    for name, dtype in frame.schema.items():
        if dtype == pl.String and frame[name].str.contains("enc1:", literal=True).any():
            for value in frame[name].drop_nulls().unique():
                found.update(_KEY_ID.findall(value))
    return found


def _client_ids(table: str, frame: pl.DataFrame) -> set[int]:
    """The PM client ids a table's rows name (a column, or `client.id` inside a raw payload)."""
    if table in CLIENT_COLUMNS:
        return {int(c) for c in frame[CLIENT_COLUMNS[table]].drop_nulls().unique()}
    if table in CLIENT_PAYLOADS:
        found = frame["payload"].str.json_path_match("$.client.id").drop_nulls().unique()
        return {int(c) for c in found if c.lstrip("-").isdigit()}
    return set()


def _major(version: str) -> str:
    return version.split(".")[0]


@dataclass(frozen=True)
class Archive:
    """The archive folder beside an entity's warehouse file; the only code that writes or reads it."""

    warehouse: Warehouse
    # When set: each manifest's SHA-256 is recorded in the audit trail as it is written, and an
    # archive whose manifest differs from the last one recorded is refused (a rewritten manifest).
    log: AuditLog | None = None
    actor: str = "billbridge"

    @property
    def root(self) -> Path:
        return Path(self.warehouse.home or default_home()) / "archive"

    def folder(self, entity: str, period: str) -> Path:
        self.warehouse.path(entity)  # refuses anything that is not an entity id
        return self.root / entity / check_period(period)

    def periods(self, entity: str) -> list[str]:
        """The entity's archived periods (those with a manifest), oldest first."""
        base = self.root / entity
        return sorted(p.parent.name for p in base.glob(f"*/{MANIFEST}")) if base.exists() else []

    def manifest(self, entity: str, period: str) -> Manifest:
        """The period's manifest; ArchiveError when there is none or it cannot be read."""
        path = self.folder(entity, period) / MANIFEST
        if not path.exists():
            raise ArchiveError(f"{entity} {period} has no archive ({path} is missing)")
        return Manifest.parse(path, path.read_text(encoding="utf-8"))

    def problems(self, manifest: Manifest) -> list[str]:
        """Everything that stops this archive from being restored (empty: it is intact)."""
        folder = self.folder(manifest.entity, manifest.period)
        found = []
        for entry in manifest.tables:
            path = folder / entry.file
            if entry.table not in RETAINED:
                found.append(f"{entry.table} is not a table kept by period")
            elif not path.exists():
                found.append(f"{path} is missing")
            elif sha256_of(path) != entry.sha256:
                found.append(f"{path} does not match its checksum (altered or damaged)")
            elif _major(entry.schema_version) != _major(registered(entry.table).version):
                found.append(
                    f"{entry.table} was archived at schema {entry.schema_version}, this billbridge writes "
                    f"{registered(entry.table).version}"
                )
        if manifest.key_ids:
            try:
                ring = load_key_ring(create=False)
                # Person keys live in the person key store, wrapped by the ring (decision 0033); an erased
                # person's is gone on purpose: their values restore as stored and read as erased.
                needed = {k for k in manifest.key_ids if not k.startswith(PERSON_KEY_PREFIX)}
                missing = sorted(needed - set(ring.keys))
                missing += unreadable_person_keys(set(manifest.key_ids), ring)
            except KeyProblem as exc:
                missing, found = list(manifest.key_ids), [*found, str(exc)]
            if missing:
                found.append(
                    f"encryption key(s) {', '.join(missing)} the archive's values need are not in the key ring"
                )
        return found

    def recorded_manifest(self, entity: str, period: str) -> str | None:
        """The SHA-256 of the manifest last recorded for the period in the audit trail (None: none)."""
        if self.log is None:
            return None
        recorded = None
        for entry in self.log.entries():
            if entry["action"] == ARCHIVED and entry["target"] == f"{entity} {period}":
                recorded = entry["detail"].get("manifest_sha256")
        return recorded

    def verified(self, entity: str, period: str) -> Manifest:
        """The manifest of an intact archive; ArchiveError naming every problem otherwise."""
        manifest = self.manifest(entity, period)
        problems = self.problems(manifest)
        recorded = self.recorded_manifest(entity, period)
        if recorded is not None and recorded != sha256_of(self.folder(entity, period) / MANIFEST):
            problems.insert(
                0, f"{MANIFEST} differs from the one the audit trail recorded when it was archived"
            )
        if problems:
            raise ArchiveError(f"archive {entity} {period}: " + "; ".join(problems) + "; nothing was changed")
        return manifest

    def write(self, entity: str, period: str, today: date) -> Manifest:
        """Archive a closed period's rows of every table kept by period; the manifest written last.

        Writing again replaces the archive, unless rows it holds are gone from the warehouse (purged):
        those would be lost, so the period must be restored first."""
        if not is_closed(period, today):
            raise ArchiveError(f"{period} is not closed yet: only months before the current one are archived")
        folder = self.folder(entity, period)
        if (folder / MANIFEST).exists():
            self._refuse_if_purged(self.verified(entity, period))
        frames = self._slices(entity, period)
        private_dir(folder)
        entries: list[ArchivedTable] = []
        clients: set[int] = set()
        key_ids: set[str] = set()
        for name, frame in frames.items():
            path = folder / f"{name}.parquet"
            write_parquet_atomically(frame, path)
            entries.append(
                ArchivedTable(name, path.name, frame.height, sha256_of(path), registered(name).version)
            )
            clients.update(_client_ids(name, frame))
            key_ids.update(_key_ids(frame))
        manifest = Manifest(
            entity, period, datetime.now(UTC).isoformat(timespec="seconds"), tuple(entries),
            tuple(sorted(clients)), tuple(sorted(key_ids)),
        )  # fmt: skip
        write_atomically(folder / MANIFEST, manifest.to_json())
        if self.log is not None:
            digest = sha256_of(folder / MANIFEST)
            rows = sum(e.rows for e in entries)
            detail = {"manifest_sha256": digest, "tables": len(entries), "rows": rows}
            self.log.append(AuditEvent(self.actor, ARCHIVED, f"{entity} {period}", "ok", detail))
        return manifest

    def _slices(self, entity: str, period: str) -> dict[str, pl.DataFrame]:
        """The period's rows of every table kept by period, as stored (ciphertexts included)."""
        frames = {}
        with self.warehouse.connect(entity) as con:
            for retained in RETAINED_TABLES:
                frame = con.sql(
                    f"SELECT * FROM {retained.name} WHERE {retained.slice_sql()}", params=[period]
                ).pl()
                if frame.height:
                    frames[retained.name] = frame
        return frames

    def _refuse_if_purged(self, manifest: Manifest) -> None:
        with self.warehouse.connect(manifest.entity) as con:
            gone = {e.table: self.missing_rows(con, manifest, e) for e in manifest.tables}
        lost = {t: n for t, n in gone.items() if n}
        if lost:
            listed = ", ".join(f"{t} ({n} row(s))" for t, n in sorted(lost.items()))
            raise ArchiveError(
                f"{manifest.entity} {manifest.period} was purged in part ({listed} only in the archive): "
                f"run `billbridge restore --entity {manifest.entity} --period {manifest.period}` before "
                "archiving it again; nothing was changed"
            )

    def _columns(self, con: duckdb.DuckDBPyConnection, path: Path) -> str:
        names = [
            row[0] for row in con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
        ]
        return ", ".join(f'"{n}"' for n in names)

    def missing_rows(self, con: duckdb.DuckDBPyConnection, manifest: Manifest, entry: ArchivedTable) -> int:
        """Archived rows of `entry` the warehouse does not hold (each duplicate counted)."""
        path = self.folder(manifest.entity, manifest.period) / entry.file
        cols, where = self._columns(con, path), RETAINED[entry.table].slice_sql()
        sql = (
            f"SELECT count(*) FROM (SELECT {cols} FROM read_parquet(?) "
            f"EXCEPT ALL SELECT {cols} FROM {entry.table} WHERE {where})"
        )
        return int(_one(con, sql, [str(path), manifest.period]))

    def unarchived_rows(
        self, con: duckdb.DuckDBPyConnection, manifest: Manifest, entry: ArchivedTable
    ) -> int:
        """Rows of the warehouse's slice the archive does not hold (written or changed since archiving)."""
        path = self.folder(manifest.entity, manifest.period) / entry.file
        cols, where = self._columns(con, path), RETAINED[entry.table].slice_sql()
        sql = (
            f"SELECT count(*) FROM (SELECT {cols} FROM {entry.table} WHERE {where} "
            f"EXCEPT ALL SELECT {cols} FROM read_parquet(?))"
        )
        return int(_one(con, sql, [manifest.period, str(path)]))

    def restore(self, entity: str, period: str) -> dict[str, int]:
        """Put back the archived rows the warehouse lacks, in one transaction; rows inserted per table."""
        manifest = self.verified(entity, period)
        folder = self.folder(entity, period)
        inserted = {}
        try:
            with self.warehouse.transaction(entity) as con:
                for entry in manifest.tables:
                    path, where = folder / entry.file, RETAINED[entry.table].slice_sql()
                    cols = self._columns(con, path)
                    before = _one(con, f"SELECT count(*) FROM {entry.table}", [])
                    con.execute(
                        f"INSERT INTO {entry.table} ({cols}) SELECT {cols} FROM read_parquet(?) "
                        f"EXCEPT ALL SELECT {cols} FROM {entry.table} WHERE {where}",
                        [str(path), period],
                    )
                    inserted[entry.table] = _one(con, f"SELECT count(*) FROM {entry.table}", []) - before
        except duckdb.ConstraintException as exc:
            raise ArchiveError(
                f"archive {entity} {period}: the warehouse holds other rows under an archived key ({exc}); "
                "nothing was restored"
            ) from None
        return inserted


def _one(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> int:
    row = con.execute(sql, params).fetchone()
    return int(row[0]) if row else 0
