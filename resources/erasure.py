"""Erasure by crypto-shredding (GDPR article 17; docs/decisions/0033).

`erase_person` first brings every personal value of the person still under the ring's key
or in clear (written before person keys, or with encryption off) under the person's own data
key, in the rows `subject_access.PLACES` names, one transaction per table and only the
personal columns rewritten by rowid, so no amount, id or other column changes. Then it
destroys the person's key and writes the erasure register entry in one transaction. From then
on the person's name, e-mail, telephone, notes and receipts read `[erased]` everywhere,
including copies and archives of the warehouse files.

What is kept, and why, is recorded with the erasure: amounts, quantities, dates and ids of
time entries, invoices, journals and postings (not personal data once the name is gone, and
kept under the legal obligation to keep bookkeeping records), and the document descriptions
that carry the person's name (intercompany lines "Intercompany services at cost: <name>"),
which are part of issued invoices and are found and counted here but not changed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from resources.account_pages import AccountPageStore
from resources.crypto import KeyRing, is_encrypted
from resources.field_crypto import (
    SENSITIVE_COLUMNS,
    Field,
    Memo,
    current_people,
    current_ring,
    seal,
    walk,
)
from resources.key_rotation import write_by_rowid
from resources.person_keys import ERASED, Erasure, PersonKeyStore, person_of_value
from resources.subject_access import PLACES
from resources.warehouse import Warehouse
from rules.exact_json import record_text
from rules.page_json import read_back as parse_record

KEPT = {
    "kept": "amounts, quantities, rates, dates and ids of time entries, expenses, invoices, credit notes, "
    "journals, allocations and postings; issued documents as issued",
    "why": "legal obligation to keep bookkeeping records (GDPR art. 6(1)(c) and 17(3)(b)); they identify "
    "no one once the person's key is destroyed",
}


@dataclass(frozen=True)
class ErasureRequest:
    """Who is erased, why, on what legal basis what is kept, and who asked."""

    person_id: int
    reason: str
    basis: str
    actor: str


@dataclass
class ErasureReport:
    """What the erasure did: values re-sealed under the person's key, and documents naming them."""

    resealed: dict[str, int] = field(default_factory=dict)
    naming_documents: dict[str, int] = field(default_factory=dict)
    already_erased: bool = False
    page_readings_deleted: int = 0  # the PM account's shared readings (resources/account_pages.py)


def _under_person(value: Any, fld: Field, person: int, ring: KeyRing, memo: Memo) -> Any:
    """A personal value under the person's key (a ring ciphertext opened first)."""
    if is_encrypted(value) and person_of_value(value) is None:
        value = ring.decrypt(value)
    return seal(value, fld, ring, memo, person)


def _reseal(value: str, fields: tuple[Field, ...], person: int, ring: KeyRing, memo: Memo) -> str:
    if fields[0].path == "":
        return str(_under_person(value, fields[0], person, ring, memo))
    try:
        record = parse_record(value)
    except json.JSONDecodeError:
        return value
    for fld in fields:
        walk(record, fld, lambda v, f=fld: _under_person(v, f, person, ring, memo))
    return record_text(record)


def _reseal_entity(con: duckdb.DuckDBPyConnection, entity: str, person: int, report: ErasureReport) -> None:
    ring, memo = current_ring(), Memo()
    for table, condition in PLACES:
        con.begin()
        try:
            count = 0
            for column, fields in SENSITIVE_COLUMNS.get(table, {}).items():
                rows = con.execute(
                    f"SELECT rowid, {column} FROM {table} WHERE ({condition}) AND {column} IS NOT NULL",
                    [person],
                ).fetchall()
                updates = [
                    (r, new) for r, old in rows if (new := _reseal(old, fields, person, ring, memo)) != old
                ]
                count += write_by_rowid(con, table, column, updates)
        except BaseException:
            con.rollback()
            raise
        con.commit()
        if count:
            report.resealed[f"{entity}:{table}"] = count


def _name_of(warehouse: Warehouse, entities: list[str], person: int) -> str | None:
    """The person's clear name, read before their key goes (to find documents that carry it)."""
    for entity in entities:
        if warehouse.exists(entity):
            names = warehouse.query(
                entity,
                "SELECT DISTINCT person_name FROM normalized.billable_lines WHERE person_id = ?",
                [person],
            )["person_name"].drop_nulls()
            if names.len() and names[0] != ERASED:
                return str(names[0])
    return None


def _count_naming_documents(
    con: duckdb.DuckDBPyConnection, entity: str, name: str, report: ErasureReport
) -> None:
    columns = con.execute(
        "SELECT schema_name, table_name FROM duckdb_columns() WHERE column_name = 'description' "
        "AND data_type = 'VARCHAR'"
    ).fetchall()
    for schema, table in columns:
        [(count,)] = con.execute(
            f"SELECT count(*) FROM {schema}.{table} WHERE contains(description, ?)", [name]
        ).fetchall()
        if count:
            report.naming_documents[f"{entity}:{schema}.{table}"] = count


def erase_person(warehouse: Warehouse, entities: list[str], request: ErasureRequest) -> ErasureReport:
    """Crypto-shred one person across every entity file; registered with its legal basis."""
    store, report = PersonKeyStore(), ErasureReport()
    report.already_erased = request.person_id in store.erased_ids()
    # Before the key goes: the name, to find documents carrying it (none to find once erased).
    name = None if report.already_erased else _name_of(warehouse, entities, request.person_id)
    for entity in entities:
        if not warehouse.exists(entity):
            continue
        with warehouse.connect(entity) as con:
            # Once erased, what is re-sealed becomes the marker: values written before person keys.
            _reseal_entity(con, entity, request.person_id, report)
            if name:
                _count_naming_documents(con, entity, name, report)
    kept = {
        **KEPT,
        "resealed_then_shredded": report.resealed,
        "documents_naming_the_person": report.naming_documents,
    }
    erased_at = datetime.now(UTC).isoformat(timespec="seconds")
    store.erase(
        Erasure(request.person_id, erased_at, request.actor, request.reason, request.basis, json.dumps(kept))
    )
    current_people().refresh()
    # The shared PM readings hold the person's records under the ring's key: none may outlive the key.
    report.page_readings_deleted = AccountPageStore.beside(warehouse).clear()
    return report
