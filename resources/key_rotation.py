"""Re-encrypt every stored personal value under the active key, in place (`billbridge keys rotate`).

Values written in clear (before field encryption, or with it switched off) are encrypted on
the way, so a rotation also brings older files under encryption.

Only the encrypted values change: each table's personal columns are rewritten row by row by
`rowid` inside one transaction per table, so money, ids and every other column keep their
bytes, and a failure rolls that table back. The old key stays in the ring, so readers keep
working during the rotation (decrypting whichever key a value names); runs writing the same
entity file wait for DuckDB's one-writer lock, table by table, rather than stop.

Values under a person's data key (docs/decisions/0033) keep their bytes: the person keys are
re-wrapped under the new ring key instead, in one transaction on the person key store.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import duckdb
import polars as pl

from resources.crypto import PREFIX, KeyRing
from resources.event_inbox import EventInbox
from resources.field_crypto import SENSITIVE_COLUMNS, Field, Memo, enabled, encrypt_payload, seal
from resources.person_keys import PersonKeyStore
from resources.token_store import TokenStore
from resources.warehouse import Warehouse
from resources.webhook_secrets import WebhookSecrets

_CIPHERTEXT = re.compile(PREFIX + r":[A-Za-z0-9_-]+:[a-z0-9][a-z0-9._-]*:[A-Za-z0-9_=-]+")


@dataclass
class RotationReport:
    """What was re-encrypted, per place."""

    values: dict[str, int] = field(default_factory=dict)

    def add(self, place: str, count: int) -> None:
        if count:
            self.values[place] = self.values.get(place, 0) + count


def reencrypt_text(text: str, ring: KeyRing) -> str:
    """Every ciphertext inside `text` (a whole value or inside JSON) under the active key."""
    return _CIPHERTEXT.sub(lambda m: ring.reencrypt(m.group(0)), text)


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {
        f"{s}.{t}" for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()
    }


def _fresh(value: str, fields: tuple[Field, ...], ring: KeyRing, memo: Memo) -> str:
    """The value under the active key: its ciphertexts re-encrypted, its clear personal data encrypted."""
    value = reencrypt_text(value, ring)
    if not enabled():
        return value
    if fields[0].path == "":
        return str(seal(value, fields[0], ring, memo))
    try:
        return encrypt_payload(value, fields, ring, memo)
    except json.JSONDecodeError:  # a quarantined body that never was JSON: nothing to find in it
        return value


def _rotate_column(
    con: duckdb.DuckDBPyConnection, table: str, column: str, fields: tuple[Field, ...], ring: KeyRing
) -> int:
    rows = con.execute(
        f"SELECT rowid, {column} FROM {table} WHERE {column} IS NOT NULL AND {column} NOT LIKE ?",
        [f"{PREFIX}:{ring.active}:%"],
    ).fetchall()
    memo: Memo = {}
    updates = [(rowid, new) for rowid, old in rows if (new := _fresh(old, fields, ring, memo)) != old]
    return write_by_rowid(con, table, column, updates)


def write_by_rowid(
    con: duckdb.DuckDBPyConnection, table: str, column: str, updates: list[tuple[int, str]]
) -> int:
    """Set `column` of the rows named by rowid to new values (nothing else in the row changes)."""
    if not updates:
        return 0
    frame = pl.DataFrame(updates, schema={"row_id": pl.Int64, "value": pl.String}, orient="row")
    con.register("_rotated", frame)
    try:
        con.execute(
            f"UPDATE {table} SET {column} = r.value FROM _rotated AS r WHERE {table}.rowid = r.row_id"
        )
    finally:
        con.unregister("_rotated")
    return len(updates)


def rotate_warehouse(warehouse: Warehouse, entity: str, ring: KeyRing, report: RotationReport) -> None:
    """Re-encrypt one entity's file, one transaction per table."""
    with warehouse.connect(entity) as con:
        present = _tables(con)
        for table, columns in SENSITIVE_COLUMNS.items():
            if table not in present:
                continue
            con.begin()
            try:
                count = sum(
                    _rotate_column(con, table, column, fields, ring) for column, fields in columns.items()
                )
            except BaseException:
                con.rollback()
                raise
            con.commit()
            report.add(f"{entity}:{table}", count)


def rotate_inbox(inbox: EventInbox, ring: KeyRing, report: RotationReport) -> None:
    """Re-encrypt the stored webhook bodies."""
    if not inbox.path.exists():
        return
    with inbox._connect() as con:
        rows = con.execute("SELECT seq, body FROM events WHERE body LIKE ?", [f"{PREFIX}:%"]).fetchall()
        changed = [(new, seq) for seq, old in rows if (new := ring.reencrypt(old)) != old]
        con.executemany("UPDATE events SET body = ? WHERE seq = ?", changed)
    report.add("events inbox", len(changed))


def rotate_secrets(ring: KeyRing, report: RotationReport) -> None:
    """Re-save the token store's records and the webhook secrets under the active key."""
    store = TokenStore(keys=ring)
    for name in store.connections():
        record = store.load(name)
        if record is not None:
            with store.locked(name):
                store.save(record)
            report.add("token store", 1)
    secrets = WebhookSecrets(keys=ring)
    stored = secrets.stored()
    if stored:
        secrets.save(stored)
        report.add("webhook secrets", 1)


def rotate_everything(warehouse: Warehouse, entities: list[str], ring: KeyRing) -> RotationReport:
    """Every entity's file, the inbox, the token store, the webhook secrets and the person keys."""
    report = RotationReport()
    for entity in entities:
        if warehouse.exists(entity):
            rotate_warehouse(warehouse, entity, ring, report)
    rotate_inbox(EventInbox(), ring, report)
    rotate_secrets(ring, report)
    report.add("person keys (re-wrapped)", PersonKeyStore().rewrap(ring))
    return report
