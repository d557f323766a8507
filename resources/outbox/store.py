"""One entity's outbox in its warehouse file: rows, the versions they send, what was booked, dead letters.

Every change of state is committed before the protocol goes on (that is what makes it survive a
kill), and every write that belongs to a change commits in the same transaction: a confirmed
row with its booked lines, a dead-lettered row with its dead letter, a sent row with its request.
During a pass the store keeps one connection open (`held`), and lets it go while the protocol
waits (`released`), so a reader from another process is kept out only while posting works.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import duckdb
import polars as pl

from resources.field_crypto import decrypt_frame
from resources.outbox.dead_letters import close_letters, insert_letters
from resources.outbox.request_log import RequestLog
from resources.outbox.tables import OUTBOX_LINES_SCHEMA, OUTBOX_SCHEMA, POSTED_LINES_SCHEMA, loaded, stored
from resources.warehouse import Warehouse, append
from rules.outbox.booked import booked_lines
from rules.outbox.rows import OutboxRow, Status


@dataclass
class Writes:
    """Changes collected while answers are handled, committed together by OutboxStore.commit."""

    changes: dict[str, tuple[OutboxRow | None, OutboxRow]] = field(default_factory=dict)
    versions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # number -> its lines
    documents: dict[str, str] = field(default_factory=dict)  # bodies for dead letters
    then: list[Callable[[duckdb.DuckDBPyConnection], None]] = field(default_factory=list)

    def change(self, before: OutboxRow | None, after: OutboxRow) -> None:
        """A row's new state (the first `before` and the latest `after` of a document win)."""
        first = self.changes.get(after.document_number, (before, after))[0]
        self.changes[after.document_number] = (first, after)

    def version(self, number: str, lines: list[dict[str, Any]]) -> None:
        """The lines of the version this document's row now sends."""
        self.versions[number] = lines

    def __bool__(self) -> bool:
        return bool(self.changes or self.versions or self.then)


class OutboxStore:
    """posting.outbox and its companions for one entity, written through the warehouse."""

    def __init__(self, warehouse: Warehouse, entity: str, run_id: str, requests: RequestLog | None = None):
        self.warehouse = warehouse
        self.entity = entity
        self.run_id = run_id
        self.requests = requests  # flushed with every commit
        self._con: duckdb.DuckDBPyConnection | None = None
        self._closer: ExitStack | None = None

    # -- the connection ----------------------------------------------------------------------------
    @contextmanager
    def held(self) -> Iterator[None]:
        """Keep one connection open for every transaction inside the block."""
        self._open()
        try:
            yield
        finally:
            self._close()

    @contextmanager
    def released(self) -> Iterator[None]:
        """Let the file go for the block (the protocol is waiting), and take it back afterwards."""
        if self._con is None:
            yield
            return
        self._close()
        try:
            yield
        finally:
            self._open()

    def _open(self) -> None:
        self._closer = ExitStack()
        self._con = self._closer.enter_context(self.warehouse.connect(self.entity))

    def _close(self) -> None:
        if self._closer is not None:
            self._closer.close()
        self._con, self._closer = None, None

    @contextmanager
    def transaction(self, entity: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
        """One transaction on the entity's file: on the held connection, else on a connection of its own."""
        if entity not in (None, self.entity):
            raise ValueError(f"the outbox store of {self.entity} cannot write {entity}'s file")
        if self._con is None:
            with self.warehouse.transaction(self.entity) as con:
                yield con
            return
        con = self._con
        con.begin()
        try:
            yield con
        except BaseException:
            con.rollback()
            raise
        con.commit()

    def query(self, entity: str, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
        """A read query, as the warehouse's `query` answers it (personal values decrypted), on the held
        connection when there is one, so document sources can read through the store."""
        if self._con is None or entity != self.entity:
            return self.warehouse.query(entity, sql, params)
        return decrypt_frame(self._con.sql(sql, params=params or []).pl())

    # -- rows --------------------------------------------------------------------------------------
    def rows(
        self, period: str, *, numbers: list[str] | None = None, statuses: tuple[Status, ...] | None = None
    ) -> dict[str, OutboxRow]:
        """The period's outbox rows by document number (only `numbers`, only `statuses`, when given)."""
        sql = "SELECT * FROM posting.outbox WHERE entity = ? AND period = ?"
        params: list[Any] = [self.entity, period]
        if numbers is not None:
            sql += " AND document_number IN (SELECT unnest(?::VARCHAR[]))"
            params.append(numbers)
        if statuses is not None:
            sql += " AND status IN (SELECT unnest(?::VARCHAR[]))"
            params.append([s.value for s in statuses])
        frame = self.query(self.entity, sql + " ORDER BY document_number", params)
        return {row["document_number"]: loaded(row) for row in frame.iter_rows(named=True)}

    def commit(self, writes: Writes) -> None:
        """Commit the collected changes, and everything that belongs with them, in one transaction."""
        if not writes and not self.requests:
            return
        now = datetime.now(UTC)
        afters = [replace(after, updated_at=now, run_id=self.run_id) for _, after in writes.changes.values()]
        numbers = [row.document_number for row in afters]
        with self.transaction() as con:
            if writes.versions:
                _replace(con, "posting.outbox_lines", list(writes.versions), _version_frame(writes.versions))
            _replace(
                con,
                "posting.outbox",
                numbers,
                pl.DataFrame([stored(r) for r in afters], schema=OUTBOX_SCHEMA),
            )
            self._booked(con, writes, afters, now)
            entered = [
                r for (before, _), r in zip(writes.changes.values(), afters, strict=True)
                if r.status is Status.DEAD_LETTER and (before is None or before.status is not Status.DEAD_LETTER)
            ]  # fmt: skip
            insert_letters(con, entered, writes.documents, self.run_id)
            for work in writes.then:
                work(con)
            if self.requests is not None:
                self.requests.flush(con)

    def _booked(
        self, con: duckdb.DuckDBPyConnection, writes: Writes, afters: list[OutboxRow], now: datetime
    ) -> None:
        """Keep what the ledger booked for rows just confirmed; close their dead letters, if any."""
        confirmed = [
            (before, after, after.booked)
            for (before, _), after in zip(writes.changes.values(), afters, strict=True)
            if after.booked is not None and (before is None or before.status is not Status.CONFIRMED)
        ]
        if not confirmed:
            return
        numbers = [after.document_number for _, after, _ in confirmed]
        sent = con.sql(
            "SELECT * FROM posting.outbox_lines WHERE document_number IN (SELECT unnest(?::VARCHAR[])) "
            "ORDER BY document_number, line_no",
            params=[numbers],
        ).pl()
        by_number: dict[str, list[dict[str, Any]]] = {}
        for line in sent.iter_rows(named=True):  # one pass over the rows, not a frame per document
            by_number.setdefault(line["document_number"], []).append(line)
        lines = [
            line
            for _, after, document in confirmed
            for line in booked_lines(
                document, by_number.get(after.document_number, []), row=stored(after), posted_at=now
            )
        ]
        _replace(con, "posting.posted_lines", numbers, pl.DataFrame(lines, schema=POSTED_LINES_SCHEMA))
        reopened = [
            a.document_number for b, a, _ in confirmed if b is not None and b.status is Status.DEAD_LETTER
        ]
        close_letters(con, reopened, "booked", f"found in the ledger by run {self.run_id}: closed as booked")

    # -- contacts ----------------------------------------------------------------------------------
    def contacts(self, names: list[str]) -> dict[str, str]:
        """The accounting system's ids of the contacts among `names` this entity has used before, by name."""
        found = self.query(
            self.entity,
            "SELECT contact_name, contact_id FROM posting.contacts "
            "WHERE contact_name IN (SELECT unnest(?::VARCHAR[]))",
            [names],
        )
        return {str(name): str(contact_id) for name, contact_id in found.iter_rows()}

    def remember_contacts(self, ids: dict[str, str]) -> None:
        """Keep contacts' ids (name -> ContactID) in one transaction, so the next pass need not look them up."""
        if not ids:
            return
        now = datetime.now(UTC)
        rows = pl.DataFrame(
            {"contact_name": list(ids), "contact_id": list(ids.values()), "created_at": [now] * len(ids)}
        )
        with self.transaction() as con:
            con.register("_contacts", rows)
            try:
                con.execute("INSERT OR REPLACE INTO posting.contacts SELECT * FROM _contacts")
            finally:
                con.unregister("_contacts")


def _version_frame(versions: dict[str, list[dict[str, Any]]]) -> pl.DataFrame:
    """The lines of the versions rows now send, as posting.outbox_lines stores them."""
    names = OUTBOX_LINES_SCHEMA.names()
    rows = [[line.get(name) for name in names] for lines in versions.values() for line in lines]
    return pl.DataFrame(rows, schema=OUTBOX_LINES_SCHEMA, orient="row")


def _replace(con: duckdb.DuckDBPyConnection, table: str, numbers: list[str], frame: pl.DataFrame) -> None:
    """Replace these documents' rows of `table` with `frame`."""
    if not numbers:
        return
    con.execute(f"DELETE FROM {table} WHERE document_number IN (SELECT unnest(?::VARCHAR[]))", [numbers])
    append(con, table, frame)
