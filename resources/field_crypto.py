"""Personal data encrypted per field at the warehouse's write boundary (docs/decisions/0028).

`SENSITIVE_COLUMNS` says, per table, which columns hold personal data: a whole column (a
person's name on a normalized line) or fields inside a JSON payload (a time entry's notes and
its user's name, a user's names, e-mail and telephone). `encrypt_frame` runs in
`resources.warehouse.append`, through which every frame is written, so no writer can forget
it; values already encrypted pass through (the name normalization copies out of a raw payload
is already a ciphertext). Money, ids, dates and everything else stay clear, so the warehouse
stays fast. Names are encrypted deterministically (each distinct name once per frame); notes
and contact details with a random nonce.

`decrypt_frame` turns whole-value ciphertexts in any text column back into text; the
warehouse's `query` applies it, so readers that need a name (an intercompany line, a report)
get it without knowing about encryption, at the cost of one decryption per distinct value.
Payload fields stay encrypted on read: only `decrypt_payload` (the subject access export)
opens them.
"""

from __future__ import annotations

import functools
import json
import os
from dataclasses import dataclass
from functools import cache
from typing import Any

import polars as pl

from resources.crypto import PREFIX, KeyRing, is_encrypted, load_key_ring

ENCRYPTION_ENV = "BILLBRIDGE_FIELD_ENCRYPTION"  # "off" disables it (benchmarks, migrations)


@dataclass(frozen=True)
class Field:
    """One personal field: where it is in a payload (dotted; empty for a whole column) and its label."""

    path: str
    context: str
    deterministic: bool = False


NAME = Field("", "person.name", deterministic=True)
PM_RECORD_FIELDS = (
    Field("notes", "pm.notes"),
    Field("user.name", "person.name", deterministic=True),
    Field("first_name", "person.first_name", deterministic=True),
    Field("last_name", "person.last_name", deterministic=True),
    Field("email", "person.email", deterministic=True),
    Field("telephone", "person.telephone"),
    Field("receipt.url", "pm.receipt"),
    Field("receipt.file_name", "pm.receipt"),
)
# table -> column -> the personal fields in it (a single Field with an empty path: the whole value)
SENSITIVE_COLUMNS: dict[str, dict[str, tuple[Field, ...]]] = {
    "raw.time_entries": {"payload": PM_RECORD_FIELDS},
    "raw.expenses": {"payload": PM_RECORD_FIELDS},
    "raw.directory": {"payload": PM_RECORD_FIELDS},
    "raw.intercompany_time_entries": {"payload": PM_RECORD_FIELDS},
    "normalized.billable_lines": {"person_name": (NAME,)},
    "normalized.quarantine": {"payload": PM_RECORD_FIELDS},
    # Every version of every PM record (docs/decisions/0021), and what was refused: a rejected
    # payload may not even be JSON (a page's body), so it is encrypted whole.
    "raw.record_versions": {"payload": PM_RECORD_FIELDS, "source_payload": PM_RECORD_FIELDS},
    "raw.rejected_records": {"payload": (Field("", "pm.rejected"),)},
}


def enabled() -> bool:
    """Field encryption is on unless BILLBRIDGE_FIELD_ENCRYPTION=off."""
    return os.environ.get(ENCRYPTION_ENV, "on").lower() != "off"


@cache
def _ring_for(source: str) -> KeyRing:
    return load_key_ring()


def current_ring() -> KeyRing:
    """This process's key ring (cached per key source, so tests with their own home get their own)."""
    from resources.crypto import KEYS_ENV, default_key_file

    return _ring_for(os.environ.get(KEYS_ENV) or str(default_key_file()))


def _map_distinct(column: pl.Series, transform: Any) -> pl.Series:
    """Apply `transform` to each distinct non-null value once, then map the column through it."""
    distinct = column.drop_nulls().unique()
    if distinct.len() == 0:
        return column
    mapping = dict(zip(distinct.to_list(), [transform(v) for v in distinct.to_list()], strict=True))
    return column.replace_strict(mapping, default=None, return_dtype=pl.String)


def seal(value: Any, field: Field, ring: KeyRing, memo: dict[tuple[str, str], str] | None = None) -> Any:
    """A clear text value encrypted as `field` says (other values, and ciphertexts, as they are)."""
    if not isinstance(value, str) or value == "" or is_encrypted(value):
        return value
    if not field.deterministic or memo is None:
        return ring.encrypt(value, field.context, field.deterministic)
    # A deterministic value encrypts the same every time: once per distinct name in a frame.
    key = (field.context, value)
    if key not in memo:
        memo[key] = ring.encrypt(value, field.context, deterministic=True)
    return memo[key]


def _walk(record: Any, path: str, change: Any) -> None:
    """Replace the value at dotted `path` inside nested dicts by `change(value)`, if present."""
    *parents, leaf = path.split(".")
    for key in parents:
        record = record.get(key) if isinstance(record, dict) else None
    if isinstance(record, dict) and leaf in record:
        record[leaf] = change(record[leaf])


def encrypt_payload(
    payload: str, fields: tuple[Field, ...], ring: KeyRing, memo: dict[tuple[str, str], str] | None = None
) -> str:
    """The JSON payload with its personal fields encrypted (same key order and separators)."""
    record = json.loads(payload)
    for field in fields:
        _walk(record, field.path, functools.partial(seal, field=field, ring=ring, memo=memo))
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def decrypt_payload(payload: str, fields: tuple[Field, ...], ring: KeyRing) -> str:
    """The JSON payload as extracted (byte for byte, so its payload hash matches again)."""
    record = json.loads(payload)
    for field in fields:
        _walk(record, field.path, lambda v: ring.decrypt(v) if is_encrypted(v) else v)
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


def encrypt_frame(table: str, frame: pl.DataFrame, ring: KeyRing | None = None) -> pl.DataFrame:
    """`frame` bound for `table`, its personal columns and payload fields encrypted."""
    columns = SENSITIVE_COLUMNS.get(table)
    if not columns or not enabled() or frame.height == 0:
        return frame
    ring = ring or current_ring()
    changed = []
    for name, fields in columns.items():
        if name not in frame.columns or frame.schema[name] != pl.String:
            continue
        if fields[0].path == "":
            changed.append(
                _map_distinct(frame[name], functools.partial(seal, field=fields[0], ring=ring)).alias(name)
            )
        else:
            seal_payload = functools.partial(encrypt_payload, fields=fields, ring=ring, memo={})
            changed.append(frame[name].map_elements(seal_payload, return_dtype=pl.String))
    return frame.with_columns(changed) if changed else frame


def decrypt_frame(frame: pl.DataFrame, ring: KeyRing | None = None) -> pl.DataFrame:
    """Whole-value ciphertexts in any text column decrypted (one decryption per distinct value)."""
    marker = PREFIX + ":"
    encrypted = [
        name
        for name, dtype in frame.schema.items()
        if dtype == pl.String and frame.height and frame[name].str.starts_with(marker).any()
    ]
    if not encrypted:
        return frame
    ring = ring or current_ring()
    return frame.with_columns(
        _map_distinct(frame[name], lambda v: ring.decrypt(v) if is_encrypted(v) else v).alias(name)
        for name in encrypted
    )


def decrypt_payloads(frame: pl.DataFrame, column: str = "payload") -> pl.DataFrame:
    """`frame` with the personal fields inside its JSON `column` decrypted, for a rule that reads raw
    payloads and writes what it finds into a document (an intercompany line names the seller's person):
    `decrypt_frame` restores whole values only, never a field inside a payload."""
    marker = PREFIX + ":"
    if (
        column not in frame.columns
        or not frame.height
        or not frame[column].str.contains(marker, literal=True).any()
    ):
        return frame
    ring = current_ring()
    return frame.with_columns(
        pl.col(column).map_elements(
            lambda payload: decrypt_payload(payload, PM_RECORD_FIELDS, ring), return_dtype=pl.String
        )
    )
