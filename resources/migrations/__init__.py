"""Numbered, idempotent migrations per warehouse file, recorded in the file (docs/decisions/0023).

Each file (an entity's, the group's) records the migrations applied to it in
`meta.schema_migrations`. Opening a file applies what is pending when every pending step is safe
at process start (additive), in one transaction, after a backup copy; a file recorded at a newer
migration than this code knows refuses to open. `billbridge migrate` does the same on demand,
with a dry run. A migration that fails rolls the whole transaction back: the file stays as it was
and the error names the step.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import duckdb

META_DDL = """
CREATE SCHEMA IF NOT EXISTS meta;
CREATE TABLE IF NOT EXISTS meta.schema_migrations (
    number INTEGER NOT NULL PRIMARY KEY, name VARCHAR NOT NULL, checksum VARCHAR NOT NULL,
    applied_at TIMESTAMPTZ NOT NULL, billbridge_version VARCHAR NOT NULL
);
"""


class MigrationError(RuntimeError):
    """A warehouse file cannot be brought to this code's layout; the message says what to do."""


@dataclass(frozen=True)
class Migration:
    """One numbered step: `before`, then `sql`, then `then` (data steps), inside one transaction."""

    number: int
    name: str
    sql: str = ""
    before: Callable[[duckdb.DuckDBPyConnection], None] | None = None
    then: Callable[[duckdb.DuckDBPyConnection], None] | None = None
    auto: bool = True  # safe to apply when a process opens the file (additive, no long rewrite)
    # Checksums of earlier texts of this step that left a file in the same state as the text now
    # (a text edited before its release, its additions moved to a later idempotent step).
    accepted: tuple[str, ...] = ()

    @property
    def checksum(self) -> str:
        """What the file records: a released migration must never change."""
        return hashlib.sha256(f"{self.number}\n{self.name}\n{self.sql}".encode()).hexdigest()

    @property
    def label(self) -> str:
        return f"{self.number:04d} ({self.name})"


@dataclass(frozen=True)
class Chain:
    """The migrations of one kind of file, in order (numbers 1, 2, 3, ... without gaps)."""

    kind: str
    migrations: tuple[Migration, ...]

    def __post_init__(self) -> None:
        numbers = [m.number for m in self.migrations]
        if numbers != list(range(1, len(numbers) + 1)):
            raise ValueError(f"{self.kind} migrations must be numbered 1..n without gaps, got {numbers}")

    @property
    def latest(self) -> int:
        return self.migrations[-1].number


@dataclass(frozen=True)
class Plan:
    """Where a file stands against a chain."""

    path: Path
    chain: Chain
    applied: int
    pending: tuple[Migration, ...] = field(default=())

    def describe(self) -> str:
        """One line per pending step, or that the file is current."""
        if not self.pending:
            return f"{self.path}: at migration {self.applied}, current"
        steps = ", ".join(m.label for m in self.pending)
        return f"{self.path}: at migration {self.applied}; would apply {steps}"


def code_version() -> str:
    """This billbridge's package version (recorded with each migration applied)."""
    try:
        return version("billbridge")
    except PackageNotFoundError:
        return "unknown"


def _applied(con: duckdb.DuckDBPyConnection) -> list[tuple[int, str, str]]:
    exists = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = 'meta' AND table_name = 'schema_migrations'"
    ).fetchone()
    if not exists or not exists[0]:
        return []
    return [
        (int(n), str(name), str(checksum))
        for n, name, checksum in con.execute(
            "SELECT number, name, checksum FROM meta.schema_migrations ORDER BY number"
        ).fetchall()
    ]


def plan(con: duckdb.DuckDBPyConnection, path: Path, chain: Chain) -> Plan:
    """Where the file stands; raises MigrationError for a file newer than this code or an edited step."""
    applied = _applied(con)
    known = {m.number: m for m in chain.migrations}
    for number, name, checksum in applied:
        if number not in known:
            raise MigrationError(
                f"{path} is at {chain.kind} migration {applied[-1][0]} ({applied[-1][1]}), newer than this "
                f"billbridge ({code_version()}) knows (up to {chain.latest}): upgrade billbridge, or restore "
                "the backup taken before the file was migrated"
            )
        if checksum not in (known[number].checksum, *known[number].accepted):
            raise MigrationError(
                f"{path}: {chain.kind} migration {known[number].label} differs from the one applied to the "
                f"file ({name}): released migrations must never change; add a new numbered one instead"
            )
    done = applied[-1][0] if applied else 0
    return Plan(path, chain, done, tuple(m for m in chain.migrations if m.number > done))


def backup(con: duckdb.DuckDBPyConnection, path: Path, target: int) -> Path | None:
    """Copy the file beside itself before migrating it (None for a file with no tables yet)."""
    tables = con.execute("SELECT count(*) FROM duckdb_tables() WHERE NOT internal").fetchone()
    if not path.exists() or not tables or not tables[0]:
        return None
    con.execute("CHECKPOINT")  # the copy must hold everything the write-ahead log still had
    copy = path.with_name(f"{path.name}.pre-migration-{target:04d}-{datetime.now(UTC):%Y%m%dT%H%M%S}.bak")
    shutil.copy2(path, copy)
    return copy


def apply(con: duckdb.DuckDBPyConnection, current: Plan, *, make_backup: bool = True) -> Path | None:
    """Apply the plan's pending steps in one transaction; returns the backup's path (if one was made).

    Any failure rolls everything back and raises MigrationError naming the step.
    """
    if not current.pending:
        return None
    copy = backup(con, current.path, current.pending[-1].number) if make_backup else None
    con.begin()
    step = current.pending[0]
    try:
        con.execute(META_DDL)
        for step in current.pending:
            if step.before is not None:
                step.before(con)
            if step.sql:
                con.execute(step.sql)
            if step.then is not None:
                step.then(con)
            con.execute(
                "INSERT INTO meta.schema_migrations VALUES (?, ?, ?, now(), ?)",
                [step.number, step.name, step.checksum, code_version()],
            )
    except Exception as exc:
        con.rollback()
        kept = f"; backup at {copy}" if copy else ""
        raise MigrationError(
            f"{current.path}: {current.chain.kind} migration {step.label} failed: {type(exc).__name__}: "
            f"{str(exc).splitlines()[0]}; the file is unchanged (rolled back){kept}"
        ) from exc
    con.commit()
    return copy


def open_current(con: duckdb.DuckDBPyConnection, path: Path, chain: Chain) -> None:
    """Bring a file just opened for writing up to date, or refuse it (newer, or a step needing `migrate`)."""
    current = plan(con, path, chain)
    manual = [m.label for m in current.pending if not m.auto]
    if manual:
        raise MigrationError(
            f"{path} needs {chain.kind} migration(s) {', '.join(manual)}, which are not applied on open: "
            "run `billbridge migrate --dry-run`, then `billbridge migrate`"
        )
    apply(con, current)


def check_current(con: duckdb.DuckDBPyConnection, path: Path, chain: Chain) -> None:
    """For a read-only connection: refuse a file that is not at this code's migration."""
    current = plan(con, path, chain)
    if current.pending:
        raise MigrationError(
            f"{path} is at {chain.kind} migration {current.applied}, older than this billbridge "
            f"({chain.latest}): run `billbridge migrate`"
        )


def migrate_file(
    path: Path, chain: Chain, *, dry_run: bool, make_backup: bool = True
) -> tuple[Plan, Path | None]:
    """`billbridge migrate` for one file: its plan, applied unless `dry_run` (then the file is only read).

    Returns the plan and the backup made (None when nothing was pending or no backup was asked for).
    """
    con = duckdb.connect(str(path), read_only=dry_run)
    try:
        current = plan(con, path, chain)
        return current, None if dry_run else apply(con, current, make_backup=make_backup)
    finally:
        con.close()
