"""Erasure reaches what person keys did not write: values under the ring's key (today's format before
person keys) and values in clear (encryption off) are re-sealed under the person's key, then shredded;
the subject access export also reads the archives, and tolerates there being none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from resources.crypto import load_key_ring
from resources.erasure import ErasureRequest, erase_person
from resources.field_crypto import PM_RECORD_FIELDS, decrypt_payload, encrypt_frame
from resources.person_keys import ERASED
from resources.subject_access import subject_access
from resources.warehouse import Warehouse, append, default_home
from tests.security.test_field_encryption import ENTRY, NOTES, _raw_row

REQUEST = ErasureRequest(7, "request DSR-3", "bookkeeping law", "dpo")


def _stored_entries() -> list[dict[str, object]]:
    rows = Warehouse().query("uk", "SELECT payload FROM raw.time_entries ORDER BY record_id")
    return [json.loads(decrypt_payload(p, PM_RECORD_FIELDS, load_key_ring())) for p in rows["payload"]]


def test_old_ring_values_and_clear_values_are_shredded_too(monkeypatch: pytest.MonkeyPatch) -> None:
    ring = load_key_ring()
    old = {
        **ENTRY,
        "notes": ring.encrypt(NOTES, "pm.notes"),
        "user": {"id": 7, "name": ring.encrypt("Jane Roe", "person.name", True)},
    }
    clear = {**ENTRY, "id": 902}
    other = {**ENTRY, "id": 903, "user": {"id": 8, "name": "Sam Poe"}}
    with Warehouse().transaction("uk") as con:
        append(con, "raw.time_entries", _raw_row(old))  # a ciphertext passes the write boundary as it is
        append(con, "raw.time_entries", _raw_row(other))
        monkeypatch.setenv("BILLBRIDGE_FIELD_ENCRYPTION", "off")
        append(con, "raw.time_entries", _raw_row(clear))
        monkeypatch.delenv("BILLBRIDGE_FIELD_ENCRYPTION")
    assert [e["notes"] for e in _stored_entries()] == [NOTES, NOTES, NOTES]

    report = erase_person(Warehouse(), ["uk", "us"], REQUEST)
    assert report.resealed == {"uk:raw.time_entries": 2}
    entries = _stored_entries()
    assert [(e["notes"], e["user"]["name"]) for e in entries] == [
        (ERASED, ERASED),
        (ERASED, ERASED),
        (NOTES, "Sam Poe"),
    ]
    assert [e["hours"] for e in entries] == [1.5, 1.5, 1.5]  # amounts and ids as they were


def test_the_export_reads_archives_and_says_the_person_was_erased() -> None:
    assert subject_access(Warehouse(), ["uk"], 7)["archives"] == {}  # no archive folder: nothing to read
    archived = encrypt_frame("raw.time_entries", _raw_row(ENTRY))
    folder = Path(default_home()) / "archive" / "uk" / "2026-09"
    folder.mkdir(parents=True)
    archived.write_parquet(folder / "raw.time_entries.parquet")
    (folder / "manifest.json").write_text("{}")

    found = subject_access(Warehouse(), ["uk"], 7)["archives"]["uk"]["2026-09/raw.time_entries"]
    assert found[0]["payload"]["notes"] == NOTES and NOTES not in archived["payload"][0]
    assert subject_access(Warehouse(), ["uk"], 8)["archives"] == {}

    erase_person(Warehouse(), ["uk"], REQUEST)
    document = subject_access(Warehouse(), ["uk"], 7)
    assert document["archives"]["uk"]["2026-09/raw.time_entries"][0]["payload"]["notes"] == ERASED
    assert document["erased"][0]["reason"] == "request DSR-3"
