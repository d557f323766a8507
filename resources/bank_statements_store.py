"""Statement files into the warehouse: kept as received, loaded once, quarantined whole when bad.

One file, one transaction: the file row (raw bytes, hash, outcome) and its lines commit together,
so a crash never leaves half a statement. A file whose hash is already stored is not loaded again.
A statement overlapping one already loaded for the same account (its dates intersect) is kept as
`overlap`, naming the earlier file (and whether dates and balances are identical: a re-sent file),
and its lines are not loaded: they would be counted twice.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime

import duckdb

from resources.bank_statements import (
    ParsedStatement,
    StatementParseError,
    UnbalancedStatementError,
    parse_statement,
)
from resources.bank_statements_tables import RECONCILIATION_DDL
from resources.warehouse import Warehouse

LOADED, QUARANTINED, UNBALANCED, OVERLAP, SEEN = (
    "loaded",
    "quarantined",
    "unbalanced",
    "overlap",
    "seen_before",
)


@contextmanager
def reconciliation_transaction(warehouse: Warehouse, entity: str) -> Iterator[duckdb.DuckDBPyConnection]:
    """The entity's file in one transaction, with the reconciliation tables created if missing."""
    with warehouse.transaction(entity) as con:
        if not warehouse.read_only:  # a reader (billbridge report) never writes; see pipelines/report.py
            con.execute(RECONCILIATION_DDL)
        yield con


@dataclass(frozen=True)
class FileOutcome:
    """What became of one received file."""

    file_name: str
    file_hash: str
    status: str
    reason: str = ""
    line_number: int = 0
    lines_loaded: int = 0


@dataclass(frozen=True)
class ReceivedFile:
    """A file as it arrived in the inbox."""

    entity: str
    name: str
    raw: bytes
    received_day: date
    run_id: str

    @property
    def file_hash(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


def _overlapping(con: duckdb.DuckDBPyConnection, entity: str, s: ParsedStatement) -> str | None:
    rows = con.execute(
        "SELECT file_name, from_date = ? AND to_date = ? AND opening_balance = ? AND closing_balance = ? "
        "FROM reconciliation.statement_files WHERE entity = ? AND status = ? AND account_id = ? "
        "AND from_date <= ? AND to_date >= ? ORDER BY received_at LIMIT 1",
        [s.from_date, s.to_date, s.opening_balance, s.closing_balance, entity, LOADED, s.account_id,
         s.to_date, s.from_date],
    ).fetchall()  # fmt: skip
    if not rows:
        return None
    row = rows[0]
    same = "same account, dates and balances as" if row[1] else "dates overlap those of"
    return f"{same} {row[0]} (account {s.account_id}, {s.from_date}..{s.to_date}): not loaded twice"


def _insert_file(
    con: duckdb.DuckDBPyConnection, f: ReceivedFile, outcome: FileOutcome, s: ParsedStatement | None
) -> None:
    statement = (
        [s.format, s.account_id, s.currency, s.statement_ref, s.from_date, s.to_date, s.opening_balance,
         s.closing_balance, len(s.lines)]
        if s is not None else [None] * 9
    )  # fmt: skip
    con.execute(
        "INSERT INTO reconciliation.statement_files (file_hash, entity, file_name, received_day, received_at, "
        "status, reason, line_number, format, account_id, currency, statement_ref, from_date, to_date, "
        "opening_balance, closing_balance, line_count, raw, run_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [f.file_hash, f.entity, f.name, f.received_day, datetime.now(UTC), outcome.status, outcome.reason or None,
         outcome.line_number or None, *statement, f.raw, f.run_id],
    )  # fmt: skip


def _insert_lines(con: duckdb.DuckDBPyConnection, f: ReceivedFile, s: ParsedStatement) -> None:
    statement_id = f.file_hash[:12]
    rows = [
        [f"{statement_id}-{n:05d}", f.entity, statement_id, s.account_id, line.booking_date, line.amount,
         line.currency or s.currency, line.counterparty_name, line.remittance, line.bank_reference, line.charges,
         n, f.received_day]
        for n, line in enumerate(s.lines, start=1)
    ]  # fmt: skip
    if rows:
        con.executemany(
            "INSERT INTO reconciliation.bank_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )


def receive_file(warehouse: Warehouse, received: ReceivedFile) -> FileOutcome:
    """Store `received` once: loaded, quarantined (unreadable or unbalanced), or held as an overlap."""
    with reconciliation_transaction(warehouse, received.entity) as con:
        seen = con.execute(
            "SELECT file_name, status FROM reconciliation.statement_files WHERE file_hash = ?",
            [received.file_hash],
        ).fetchall()
        if seen:
            reason = f"same content as {seen[0][0]} ({seen[0][1]}): not loaded twice"
            return FileOutcome(received.name, received.file_hash, SEEN, reason)
        statement: ParsedStatement | None = None
        try:
            statement = parse_statement(received.raw)
        except StatementParseError as exc:
            outcome = FileOutcome(received.name, received.file_hash, QUARANTINED, str(exc), exc.line)
        except UnbalancedStatementError as exc:
            outcome = FileOutcome(received.name, received.file_hash, UNBALANCED, str(exc))
        else:
            overlap = _overlapping(con, received.entity, statement)
            status = OVERLAP if overlap else LOADED
            loaded = 0 if overlap else len(statement.lines)
            outcome = FileOutcome(received.name, received.file_hash, status, overlap or "", 0, loaded)
        _insert_file(con, received, outcome, statement)
        if outcome.status == LOADED and statement is not None:
            _insert_lines(con, received, statement)
        return outcome
