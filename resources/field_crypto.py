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

A value that belongs to a known PM person (a record's `user.id`, a user record's own id, a
line's `person_id`) is sealed under that person's data key (resources/person_keys.py,
docs/decisions/0033), so erasing the person shreds it everywhere; it reads as `ERASED` after.
Values whose person is unknown (a rejected page) stay under the ring's key.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from resources.crypto import PERSON_KEY_PREFIX, PREFIX, KeyRing, is_encrypted, key_id_of, load_key_ring
from resources.person_keys import ERASED, PersonKeys, PersonKeyStore, default_person_key_path
from rules.exact_json import record_text
from rules.page_json import read_back as parse_record

ENCRYPTION_ENV = "BILLBRIDGE_FIELD_ENCRYPTION"  # "off" disables it (benchmarks, migrations)


@dataclass(frozen=True)
class Field:
    """One personal field: where it is in a payload (dotted; empty for a whole column) and its label."""

    path: str
    context: str
    deterministic: bool = False

    @functools.cached_property
    def parents(self) -> tuple[str, ...]:
        """The keys of the objects `path` passes through, outermost first (split once: sealing walks
        them for every record)."""
        return tuple(self.path.split(".")[:-1])

    @functools.cached_property
    def leaf(self) -> str:
        """The key of the value itself."""
        return self.path.split(".")[-1]


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
# table -> the column naming the person a whole-value personal column belongs to
PERSON_COLUMNS = {"normalized.billable_lines": "person_id"}
# the column saying which kind of PM record a payload is (a user record names itself by its id)
KIND_COLUMNS = ("kind", "source_kind")


def enabled() -> bool:
    """Field encryption is on unless BILLBRIDGE_FIELD_ENCRYPTION=off."""
    return os.environ.get(ENCRYPTION_ENV, "on").lower() != "off"


@cache
def _ring_for(source: str) -> KeyRing:
    return load_key_ring()


@cache
def _people_for(path: str) -> PersonKeys:
    return PersonKeys(PersonKeyStore(Path(path)))


def current_people() -> PersonKeys:
    """This process's cache of unwrapped person keys (per store file), erasures re-read when it changes."""
    people = _people_for(str(default_person_key_path()))
    people.refresh()
    return people


def person_of(record: Any, kind: str | None = None) -> int | None:
    """The PM person a record is about: its `user.id`, or a user record's own id."""
    if not isinstance(record, dict):
        return None
    user = record.get("user")
    if isinstance(user, dict) and isinstance(user.get("id"), int):
        return int(user["id"])
    if kind == "users" and isinstance(record.get("id"), int):
        return int(record["id"])
    return None


def open_value(value: str, ring: KeyRing, people: PersonKeys | None = None) -> str:
    """A stored ciphertext's plaintext, under the ring or a person's key (`ERASED` once erased)."""
    if key_id_of(value).startswith(PERSON_KEY_PREFIX):
        return (people or current_people()).decrypt(value, ring)
    return ring.decrypt(value)


def current_ring() -> KeyRing:
    """This process's key ring (cached per key source, so tests with their own home get their own)."""
    from resources.crypto import KEYS_ENV, default_key_file

    return _ring_for(os.environ.get(KEYS_ENV) or str(default_key_file()))


def _map_distinct(column: pl.Series, transform: Any) -> pl.Series:
    """Apply `transform` to each distinct non-null value once, then map the column through it.

    One hashing pass: a categorical cast under categories of its own (freed with the codes) numbers
    the distinct values, and the transformed values are gathered by those numbers (docs/decisions/0041).
    """
    categories = pl.Categories.random()
    numbered = column.cast(pl.Categorical(categories))  # keeps the categories alive while read
    distinct = categories.to_series().to_list()
    codes = numbered.to_physical()
    if not distinct:
        return column
    mapped = pl.Series([None if v is None else transform(v) for v in distinct], dtype=pl.String)
    return mapped.gather(codes).alias(column.name)


Memo = dict[tuple[int | None, str, str], str]
SEAL_CHUNK = 10_000  # payloads parsed at once when a frame is sealed


def _encrypt(value: str, field: Field, ring: KeyRing, person: int | None, people: PersonKeys | None) -> str:
    if person is None:
        return ring.encrypt(value, field.context, field.deterministic)
    return (people or current_people()).encrypt(person, value, field.context, ring, field.deterministic)


def seal(
    value: Any,
    field: Field,
    ring: KeyRing,
    memo: Memo | None = None,
    person: int | None = None,
    people: PersonKeys | None = None,
) -> Any:
    """A clear text value encrypted as `field` says, under `person`'s key when the person is known
    (other values, ciphertexts and the erased marker, as they are)."""
    if not isinstance(value, str) or value in ("", ERASED) or is_encrypted(value):
        return value
    if not field.deterministic or memo is None:
        return _encrypt(value, field, ring, person, people)
    # A deterministic value encrypts the same every time: once per distinct name in a frame.
    key = (person, field.context, value)
    if key not in memo:
        memo[key] = _encrypt(value, field, ring, person, people)
    return memo[key]


def holding(record: Any, field: Field) -> dict[str, Any] | None:
    """The object inside `record` that holds `field`'s value, or None when the record has none."""
    for key in field.parents:
        record = record.get(key) if isinstance(record, dict) else None
    return record if isinstance(record, dict) and field.leaf in record else None


def walk(record: Any, field: Field, change: Any) -> None:
    """Replace `field`'s value inside `record` by `change(value)`, if present."""
    holder = holding(record, field)
    if holder is not None:
        holder[field.leaf] = change(holder[field.leaf])


def encrypt_payload(
    payload: str,
    fields: tuple[Field, ...],
    ring: KeyRing,
    memo: Memo | None = None,
    kind: str | None = None,
    people: PersonKeys | None = None,
) -> str:
    """The JSON payload with its personal fields encrypted (same key order and separators), under the
    key of the person it is about when that is known (`kind`: the PM record kind, when the table says)."""
    record = parse_record(payload)
    return _sealed_record(record, fields, ring, memo, person_of(record, kind), people)


def _sealed_record(
    record: Any,
    fields: tuple[Field, ...],
    ring: KeyRing,
    memo: Memo | None,
    person: int | None,
    people: PersonKeys | None,
) -> str:
    """A parsed payload as JSON text with its personal fields sealed (under `person`'s key when known)."""
    for field in fields:  # no `walk`: a closure per field and record was a fifth of sealing
        holder = holding(record, field)
        if holder is not None:
            holder[field.leaf] = seal(holder[field.leaf], field, ring, memo, person, people)
    return record_text(record)


def decrypt_payload(
    payload: str, fields: tuple[Field, ...], ring: KeyRing, people: PersonKeys | None = None
) -> str:
    """The JSON payload as extracted (byte for byte, so its payload hash matches again; an erased
    person's fields read `ERASED`)."""
    record = parse_record(payload)
    people = people or current_people()
    for field in fields:
        walk(record, field, lambda v: open_value(v, ring, people) if is_encrypted(v) else v)
    return record_text(record)


def _seal_payloads(frame: pl.DataFrame, name: str, fields: tuple[Field, ...], ring: KeyRing) -> pl.Series:
    kind_column = next((k for k in KIND_COLUMNS if k in frame.columns), None)
    kinds = frame[kind_column].to_list() if kind_column else [None] * frame.height
    memo: Memo = {}
    people = current_people()  # once per frame: the erasures are re-read here, not per value
    payloads = frame[name].to_list()
    sealed: list[str | None] = []
    # A chunk at a time: its people's keys are made and unwrapped in one look-up before it is sealed.
    for start in range(0, len(payloads), SEAL_CHUNK):
        records = [None if p is None else parse_record(p) for p in payloads[start : start + SEAL_CHUNK]]
        persons = [person_of(r, k) for r, k in zip(records, kinds[start : start + SEAL_CHUNK], strict=True)]
        people.warm([p for p in persons if p is not None], ring)
        sealed += [
            None if r is None else _sealed_record(r, fields, ring, memo, person, people)
            for r, person in zip(records, persons, strict=True)
        ]
    return pl.Series(name, sealed, dtype=pl.String)


def _clear_text(column: pl.Series) -> pl.Series:
    """Where `column` holds text `seal` would encrypt: not null, empty, the erased marker or a ciphertext."""
    sealed_or_blank = column.is_in(["", ERASED]) | column.str.starts_with(PREFIX + ":")
    return (column.is_not_null() & ~sealed_or_blank).fill_null(False)


def _seal_column(frame: pl.DataFrame, table: str, name: str, field: Field, ring: KeyRing) -> pl.Series:
    """The whole-value column `name` with its clear values sealed, the rest as they are. A line's name,
    copied out of a sealed payload by normalize, arrives sealed: then nothing is joined or encrypted
    (docs/decisions/0041)."""
    column = frame[name]
    clear = _clear_text(column)
    if not clear.any():
        return column
    rows = clear.arg_true()
    return column.clone().scatter(rows, _sealed_values(frame[rows], table, name, field, ring))


def _sealed_values(frame: pl.DataFrame, table: str, name: str, field: Field, ring: KeyRing) -> pl.Series:
    person_column = PERSON_COLUMNS.get(table)
    if person_column not in frame.columns:
        return _map_distinct(frame[name], functools.partial(seal, field=field, ring=ring)).alias(name)
    # Once per distinct (person, value): a million lines naming two hundred people, two hundred seals.
    pairs = frame.select(person=pl.col(str(person_column)), value=pl.col(name))
    distinct = pairs.drop_nulls("value").unique()
    memo: Memo = {}
    people = current_people()
    sealed = distinct.with_columns(
        sealed=pl.Series(
            [
                seal(v, field, ring, memo, None if p is None else int(p), people)
                for p, v in zip(distinct["person"].to_list(), distinct["value"].to_list(), strict=True)
            ],
            dtype=pl.String,
        )
    )
    return pairs.join(sealed, on=["person", "value"], how="left", nulls_equal=True, maintain_order="left")[
        "sealed"
    ].alias(name)


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
            changed.append(_seal_column(frame, table, name, fields[0], ring))
        else:
            changed.append(_seal_payloads(frame, name, fields, ring))
    return frame.with_columns(changed) if changed else frame


def decrypt_frame(frame: pl.DataFrame, ring: KeyRing | None = None) -> pl.DataFrame:
    """Whole-value ciphertexts in any text column decrypted (one decryption per distinct value)."""
    texts = [name for name, dtype in frame.schema.items() if dtype == pl.String]
    if not texts or not frame.height:
        return frame
    # One pass over all text columns at once (polars runs the columns in parallel).
    found = frame.select(pl.col(texts).str.starts_with(PREFIX + ":").any()).row(0)
    encrypted = [name for name, hit in zip(texts, found, strict=True) if hit]
    if not encrypted:
        return frame
    ring = ring or current_ring()
    people = current_people()
    return frame.with_columns(
        _map_distinct(frame[name], lambda v: open_value(v, ring, people) if is_encrypted(v) else v).alias(
            name
        )
        for name in encrypted
    )


def decrypt_payloads(frame: pl.DataFrame, column: str = "payload") -> pl.DataFrame:
    """`frame` with the personal fields inside its JSON `column` decrypted, for a rule that reads raw
    payloads and writes what it finds into a document (an intercompany line names the seller's person):
    `decrypt_frame` restores whole values only, never a field inside a payload."""
    if column not in frame.columns or not frame.height:
        return frame
    # Only payloads holding a ciphertext are parsed (a directory's clients, projects and tasks hold none):
    # the others would come back byte for byte as they are.
    sealed = frame[column].str.contains(PREFIX + ":", literal=True).fill_null(False)
    if not sealed.any():
        return frame
    ring, people = current_ring(), current_people()
    rows = sealed.arg_true()
    opened = [
        decrypt_payload(p, PM_RECORD_FIELDS, ring, people) for p in frame[column].gather(rows).to_list()
    ]
    return frame.with_columns(frame[column].clone().scatter(rows, pl.Series(opened, dtype=pl.String)))
