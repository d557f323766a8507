"""The stored ledger: contacts, documents and idempotency records of every tenant in one SQLite file."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.xero.exact import dumps_exact, iso_utc, loads_exact

_SCHEMA = """
CREATE TABLE IF NOT EXISTS contacts (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    updated_utc TEXT NOT NULL,
    idempotency_key TEXT,
    body TEXT NOT NULL,
    UNIQUE (tenant, contact_id)
);
CREATE INDEX IF NOT EXISTS contacts_by_name ON contacts (tenant, name COLLATE NOCASE);
CREATE TABLE IF NOT EXISTS documents (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    number TEXT,
    reference TEXT,
    status TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    contact_name TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    updated_utc TEXT NOT NULL,
    idempotency_key TEXT,
    request_json TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (tenant, doc_id)
);
CREATE INDEX IF NOT EXISTS documents_by_number ON documents (tenant, number COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS documents_by_contact ON documents (tenant, contact_id);
CREATE INDEX IF NOT EXISTS documents_by_key ON documents (tenant, idempotency_key);
-- Money movements and the credits they leave (Payments, BankTransactions, Overpayments, Prepayments),
-- kept apart from documents so that a ledger file written before they existed opens unchanged.
CREATE TABLE IF NOT EXISTS transactions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant TEXT NOT NULL,
    collection TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    doc_type TEXT NOT NULL,
    number TEXT,
    reference TEXT,
    status TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    contact_name TEXT NOT NULL,
    parent_id TEXT NOT NULL,
    created_utc TEXT NOT NULL,
    updated_utc TEXT NOT NULL,
    idempotency_key TEXT,
    request_json TEXT NOT NULL,
    body TEXT NOT NULL,
    UNIQUE (tenant, doc_id)
);
CREATE INDEX IF NOT EXISTS transactions_by_collection ON transactions (tenant, collection);
CREATE INDEX IF NOT EXISTS transactions_by_parent ON transactions (tenant, parent_id);
CREATE TABLE IF NOT EXISTS idempotency (
    tenant TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    status INTEGER NOT NULL,
    response_body BLOB NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE TABLE IF NOT EXISTS counters (
    tenant TEXT NOT NULL,
    name TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (tenant, name)
);
"""

# Automatic number prefixes, as a tenant's invoice settings give them.
NUMBER_PREFIXES = {"invoice_number": "INV", "credit_note_number": "CN"}


@dataclass(frozen=True)
class NewDocument:
    """A document to store: its body and the columns it is found by."""

    tenant: str
    doc_id: str
    doc_type: str
    number: str | None
    reference: str | None
    status: str
    contact_id: str
    contact_name: str
    request_element: Any  # the element as the client sent it
    body: dict[str, Any]


@dataclass(frozen=True)
class NewTransaction(NewDocument):
    """A payment, bank transaction or credit to store: also its collection and the document it settles."""

    collection: str
    parent_id: str  # the invoice or credit note a payment settles; "" when none


@dataclass(frozen=True)
class IdempotencyRecord:
    """The answer remembered for an Idempotency-Key, with the request it answered."""

    fingerprint: str
    status: int
    response_body: bytes
    created_at: float


class Ledger:
    """SQLite storage shared by the server threads; one lock serialises every access.

    Writes (documents plus their idempotency record) commit in one transaction, so a crash or a
    dropped connection can never leave a stored document without its key, or the reverse.
    """

    def __init__(self, db_path: str | Path):
        self.lock = threading.RLock()
        self.con = sqlite3.connect(str(db_path), check_same_thread=False, isolation_level=None)
        self.con.row_factory = sqlite3.Row
        with self.lock:
            self.con.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection (a file ledger persists)."""
        with self.lock:
            self.con.close()

    def query(self, sql: str, params: Iterable[Any] = ()) -> list[sqlite3.Row]:
        """Rows of a read, under the lock."""
        with self.lock:
            return list(self.con.execute(sql, tuple(params)))

    def bodies(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        """The parsed `body` column of each row a query selects."""
        return [loads_exact(row["body"]) for row in self.query(sql, params)]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One write transaction under the lock: committed when the block ends, rolled back if it raises."""
        with self.lock:
            self.con.execute("BEGIN IMMEDIATE")
            try:
                yield
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise

    def next_number(self, tenant: str, counter: str = "invoice_number") -> str:
        """The next automatic number (`INV-0001`, `CN-0001`), as a tenant's invoice settings give."""
        row = self.con.execute(
            "INSERT INTO counters VALUES (?, ?, 1) "
            "ON CONFLICT (tenant, name) DO UPDATE SET value = value + 1 RETURNING value",
            (tenant, counter),
        ).fetchone()
        return f"{NUMBER_PREFIXES[counter]}-{int(row[0]):04d}"

    # -- documents -------------------------------------------------------------------------------

    def _insert(self, table: str, columns: dict[str, Any]) -> None:
        names, marks = ", ".join(columns), ", ".join("?" * len(columns))
        self.con.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", tuple(columns.values()))

    @staticmethod
    def _columns(document: NewDocument, key: str | None, now: float) -> dict[str, Any]:
        """The stored columns every document and transaction has."""
        return {
            "tenant": document.tenant,
            "doc_id": document.doc_id,
            "doc_type": document.doc_type,
            "number": document.number,
            "reference": document.reference,
            "status": document.status,
            "contact_id": document.contact_id,
            "contact_name": document.contact_name,
            "created_utc": iso_utc(now),
            "updated_utc": iso_utc(now),
            "idempotency_key": key,
            "request_json": dumps_exact(document.request_element),
            "body": dumps_exact(document.body),
        }

    def _replace_body(self, table: str, tenant: str, doc_id: str, body: dict[str, Any], now: float) -> None:
        self.con.execute(
            f"UPDATE {table} SET body = ?, status = ?, updated_utc = ? WHERE tenant = ? AND doc_id = ?",
            (dumps_exact(body), body["Status"], iso_utc(now), tenant, doc_id),
        )

    def insert_document(self, document: NewDocument, key: str | None, now: float) -> None:
        """Store a new document (the caller holds a transaction)."""
        self._insert("documents", self._columns(document, key, now))

    def update_document(self, tenant: str, doc_id: str, body: dict[str, Any], now: float) -> None:
        """Replace a stored document's body and status (the caller holds a transaction)."""
        self._replace_body("documents", tenant, doc_id, body, now)

    def find_document(self, tenant: str, doc_id: str, types: tuple[str, ...]) -> dict[str, Any] | None:
        """A stored document of one of `types` by id (any letter case), or None."""
        placeholders = ",".join("?" * len(types))
        row = self.con.execute(
            f"SELECT body FROM documents WHERE tenant = ? AND doc_id = ? COLLATE NOCASE "
            f"AND doc_type IN ({placeholders})",
            (tenant, doc_id.lower(), *types),
        ).fetchone()
        return None if row is None else loads_exact(row["body"])

    def documents(self, tenant: str, doc_type: str | None) -> list[dict[str, Any]]:
        """A tenant's stored documents in creation order, of one type or (None) of all."""
        sql = "SELECT body FROM documents WHERE tenant = ?"
        params: list[Any] = [tenant]
        if doc_type is not None:
            sql += " AND doc_type = ?"
            params.append(doc_type)
        return self.bodies(sql + " ORDER BY seq", params)

    # -- transactions ----------------------------------------------------------------------------

    def insert_transaction(self, row: NewTransaction, key: str | None, now: float) -> None:
        """Store a new payment, bank transaction or credit (the caller holds a transaction)."""
        columns = {**self._columns(row, key, now), "collection": row.collection, "parent_id": row.parent_id}
        self._insert("transactions", columns)

    def update_transaction(self, tenant: str, doc_id: str, body: dict[str, Any], now: float) -> None:
        """Replace a stored transaction's body and status (the caller holds a transaction)."""
        self._replace_body("transactions", tenant, doc_id, body, now)

    def find_transaction(self, tenant: str, collection: str, doc_id: str) -> dict[str, Any] | None:
        """A stored transaction of a collection by id (any letter case), or None."""
        row = self.con.execute(
            "SELECT body FROM transactions WHERE tenant = ? AND collection = ? AND doc_id = ? COLLATE NOCASE",
            (tenant, collection, doc_id.lower()),
        ).fetchone()
        return None if row is None else loads_exact(row["body"])

    def transactions(self, tenant: str, collection: str) -> list[dict[str, Any]]:
        """A tenant's stored transactions of one collection in creation order."""
        return self.bodies(
            "SELECT body FROM transactions WHERE tenant = ? AND collection = ? ORDER BY seq",
            [tenant, collection],
        )

    def documents_numbered(self, tenant: str, number: str, types: tuple[str, ...]) -> list[dict[str, Any]]:
        """Every stored document of `types` with this number (ignoring case), oldest first."""
        placeholders = ",".join("?" * len(types))
        rows = self.con.execute(
            f"SELECT body FROM documents WHERE tenant = ? AND number = ? COLLATE NOCASE "
            f"AND doc_type IN ({placeholders}) ORDER BY seq",
            (tenant, number, *types),
        ).fetchall()
        return [loads_exact(row["body"]) for row in rows]

    # -- contacts --------------------------------------------------------------------------------

    def insert_contact(self, tenant: str, contact: dict[str, Any], key: str | None, now: float) -> None:
        """Store a new active contact (the caller holds a transaction)."""
        self.con.execute(
            "INSERT INTO contacts (tenant, contact_id, name, status, created_utc, updated_utc, idempotency_key, body) "
            "VALUES (?, ?, ?, 'ACTIVE', ?, ?, ?, ?)",
            (
                tenant,
                contact["ContactID"],
                contact["Name"],
                iso_utc(now),
                iso_utc(now),
                key,
                dumps_exact(contact),
            ),
        )

    def contact_by_id(self, tenant: str, contact_id: str) -> sqlite3.Row | None:
        """The (contact_id, name) row of a contact, or None."""
        row: sqlite3.Row | None = self.con.execute(
            "SELECT contact_id, name FROM contacts WHERE tenant = ? AND contact_id = ?",
            (tenant, contact_id.lower()),
        ).fetchone()
        return row

    def first_contact_named(self, tenant: str, name: str) -> sqlite3.Row | None:
        """The oldest contact with this name (ignoring case), or None."""
        row: sqlite3.Row | None = self.con.execute(
            "SELECT contact_id, name FROM contacts WHERE tenant = ? AND name = ? COLLATE NOCASE ORDER BY seq LIMIT 1",
            (tenant, name),
        ).fetchone()
        return row

    def active_name_taken(self, tenant: str, name: str) -> bool:
        """Whether an active contact already has this name (ignoring case)."""
        row = self.con.execute(
            "SELECT 1 FROM contacts WHERE tenant = ? AND name = ? COLLATE NOCASE AND status = 'ACTIVE'",
            (tenant, name),
        ).fetchone()
        return row is not None

    def contacts(self, tenant: str) -> list[dict[str, Any]]:
        """A tenant's stored contacts in creation order."""
        return self.bodies("SELECT body FROM contacts WHERE tenant = ? ORDER BY seq", [tenant])

    # -- idempotency -----------------------------------------------------------------------------

    def recall(self, tenant: str, key: str) -> IdempotencyRecord | None:
        """The answer remembered for a tenant's key, however old (the caller judges the window)."""
        row = self.con.execute(
            "SELECT fingerprint, status, response_body, created_at FROM idempotency WHERE tenant = ? AND key = ?",
            (tenant, key),
        ).fetchone()
        if row is None:
            return None
        return IdempotencyRecord(
            row["fingerprint"], int(row["status"]), bytes(row["response_body"]), float(row["created_at"])
        )

    def remember(self, tenant: str, key: str, record: IdempotencyRecord) -> None:
        """Keep the answer for a key (the caller holds the write's transaction)."""
        self.con.execute(
            "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
            (tenant, key, record.fingerprint, record.status, record.response_body, record.created_at),
        )
