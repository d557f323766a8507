"""Personal fields are encrypted per value with AES-GCM and a key id; a missing or wrong key stops clearly.

The warehouse is a real DuckDB file, read back with a plain DuckDB connection (what a copied
file reveals) and through `Warehouse.query` (what billbridge reads).
"""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from resources.crypto import KeyProblem, add_key, default_key_file, key_id_of, load_key_ring
from resources.field_crypto import (
    PM_RECORD_FIELDS,
    decrypt_payload,
    decrypt_payloads,
    encrypt_frame,
    open_value,
)
from resources.person_keys import PersonKeys, PersonKeyStore
from resources.warehouse import Warehouse, append

NOTES = "Call with Dr. Jane Roe about her divorce settlement"
ENTRY = {
    "id": 901,
    "spent_date": "2026-09-03",
    "hours": 1.5,
    "notes": NOTES,
    "user": {"id": 7, "name": "Jane Roe"},
    "client": {"id": 5101, "name": "Acme Ltd"},
}


def _raw_row(entry: dict[str, object]) -> pl.DataFrame:
    payload = json.dumps(entry, separators=(",", ":"), ensure_ascii=False)
    return pl.DataFrame(
        {
            "entity": ["uk"],
            "day": [date(2026, 9, 3)],
            "record_id": [entry["id"]],
            "payload": [payload],
            "payload_hash": ["h"],
            "routing": ["claimed"],
            "extracted_at": [datetime(2026, 9, 4, tzinfo=UTC)],
            "request_url": ["https://api.harvestapp.com/v2/time_entries?page=1"],
            "run_id": ["r"],
            "contract_version": ["v"],
        }
    )


def test_values_carry_their_key_id_and_label_and_round_trip() -> None:
    ring = load_key_ring()
    sealed = ring.encrypt("Jane Roe", "person.name")
    assert sealed.startswith(f"enc1:{ring.active}:person.name:") and "Jane" not in sealed
    assert ring.decrypt(sealed) == "Jane Roe"
    assert ring.encrypt("Jane Roe", "pm.notes") != ring.encrypt("Jane Roe", "pm.notes")  # random nonce
    same = ring.encrypt("Jane Roe", "person.name", deterministic=True)
    assert same == ring.encrypt("Jane Roe", "person.name", deterministic=True)
    relabelled = sealed.replace(":person.name:", ":person.email:")
    with pytest.raises(KeyProblem, match=r"does not decrypt a person\.email value"):
        ring.decrypt(relabelled)
    assert default_key_file().stat().st_mode & 0o777 == 0o600


def test_raw_payloads_keep_only_personal_fields_encrypted_and_decrypt_byte_for_byte() -> None:
    frame = _raw_row(ENTRY)
    warehouse = Warehouse()
    with warehouse.transaction("uk") as con:
        append(con, "raw.time_entries", frame)
    with duckdb.connect(str(warehouse.path("uk")), read_only=True) as con:  # a copied file
        [(stored,)] = con.execute("SELECT payload FROM raw.time_entries").fetchall()
        [(client_id,)] = con.execute(
            "SELECT json_extract_string(payload, '$.client.id') FROM raw.time_entries"
        ).fetchall()
    assert NOTES not in stored and "Jane Roe" not in stored
    record = json.loads(stored)
    assert record["notes"].startswith("enc1:") and ":pm.notes:" in record["notes"]
    assert record["user"]["name"].startswith("enc1:") and ":person.name:" in record["user"]["name"]
    assert (
        record["hours"] == 1.5
        and record["client"] == {"id": 5101, "name": "Acme Ltd"}
        and client_id == "5101"
    )
    assert decrypt_payload(stored, PM_RECORD_FIELDS, load_key_ring()) == frame["payload"][0]


def test_payloads_decrypt_where_they_hold_a_ciphertext_and_the_rest_stay_as_stored() -> None:
    client = json.dumps({"id": 5101, "name": "Acme Ltd"}, separators=(",", ":"))
    sealed = encrypt_frame("raw.time_entries", _raw_row(ENTRY))["payload"][0]
    frame = pl.DataFrame({"kind": ["users", "clients", "users"], "payload": [sealed, client, None]})
    opened = decrypt_payloads(frame)
    assert opened["payload"].to_list() == [_raw_row(ENTRY)["payload"][0], client, None]
    assert opened["kind"].to_list() == ["users", "clients", "users"]
    assert frame["payload"][0] == sealed  # the frame read is not changed in place


def test_a_name_is_encrypted_once_per_distinct_value_and_read_back_decrypted() -> None:
    names = pl.DataFrame(
        {"person_name": ["Jane Roe", "Jane Roe", None, "Harry Walsh"], "amount": ["1", "2", "3", "4"]}
    )
    sealed = encrypt_frame("normalized.billable_lines", names)
    values = sealed["person_name"].to_list()
    assert values[0] == values[1] and values[2] is None and values[3] != values[0]
    assert all(v.startswith("enc1:") for v in values if v)
    assert sealed["amount"].to_list() == ["1", "2", "3", "4"]  # nothing else touched
    assert encrypt_frame("normalized.billable_lines", sealed)["person_name"].to_list() == values  # idempotent


def test_a_line_frame_mixing_sealed_and_clear_names_seals_only_the_clear_ones() -> None:
    first = encrypt_frame(
        "normalized.billable_lines", pl.DataFrame({"person_id": [7], "person_name": ["Jane Roe"]})
    )["person_name"][0]
    lines = pl.DataFrame(
        {
            "person_id": [7, 8, 7, 9, 8],
            "person_name": [first, "Harry Walsh", "Jane Roe", "[erased]", ""],
            "amount": ["1", "2", "3", "4", "5"],
        }
    )
    sealed = encrypt_frame("normalized.billable_lines", lines)["person_name"].to_list()
    assert sealed[0] == first and sealed[2] == first  # deterministic, under person 7's key
    assert sealed[1].startswith("enc1:p-8:person.name:") and "Harry" not in sealed[1]
    assert sealed[3:] == ["[erased]", ""]
    assert lines["person_name"].to_list() == [first, "Harry Walsh", "Jane Roe", "[erased]", ""]  # input kept


def test_a_missing_key_or_a_wrong_key_stops_with_a_clear_message_and_changes_nothing() -> None:
    warehouse = Warehouse()
    with warehouse.transaction("uk") as con:
        append(con, "raw.time_entries", _raw_row(ENTRY))
    ring = load_key_ring()
    key_file = default_key_file()
    original = key_file.read_bytes()
    stored = (
        duckdb.connect(str(warehouse.path("uk")), read_only=True)
        .execute("SELECT payload FROM raw.time_entries")
        .fetchone()[0]
    )  # type: ignore[index]
    notes = json.loads(stored)["notes"]
    assert key_id_of(notes) == "p-7"  # under the person's data key, itself wrapped by the ring's key

    def decrypt(value: str) -> str:  # as a fresh process would: unwrapping the person's key with the ring
        return open_value(value, load_key_ring(), PersonKeys(PersonKeyStore()))

    wrong = json.loads(original)
    wrong["keys"][ring.active]["key"] = base64.b64encode(os.urandom(32)).decode()  # same id, other key
    key_file.write_text(json.dumps(wrong))
    with pytest.raises(
        KeyProblem, match=rf"key '{ring.active}' from .* does not decrypt a person-key.7 value"
    ):
        decrypt(notes)

    key_file.write_text(
        json.dumps({"active": "k9-000000", "keys": {"k9-000000": wrong["keys"][ring.active]}})
    )
    with pytest.raises(KeyProblem, match=rf"key '{ring.active}' is not in .*restore the key file"):
        decrypt(notes)

    key_file.write_bytes(original)  # the right key back: the value was never touched
    assert decrypt(notes) == NOTES


def test_a_new_key_decrypts_nothing_old_alone_but_the_ring_keeps_both(tmp_path: Path) -> None:
    ring = load_key_ring()
    old = ring.encrypt("Jane Roe", "person.name", deterministic=True)
    grown = add_key(ring)
    assert grown.active != ring.active and set(grown.keys) == {ring.active, grown.active}
    rotated = grown.reencrypt(old)
    assert key_id_of(rotated) == grown.active and grown.decrypt(rotated) == "Jane Roe"
    assert rotated == grown.encrypt("Jane Roe", "person.name", deterministic=True)  # still deterministic


def test_keys_rotate_also_encrypts_values_written_in_clear(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipelines.cli import main

    frame = _raw_row(ENTRY)
    warehouse = Warehouse()
    monkeypatch.setenv("BILLBRIDGE_FIELD_ENCRYPTION", "off")  # a file written before encryption
    with warehouse.transaction("uk") as con:
        append(con, "raw.time_entries", frame)
    monkeypatch.delenv("BILLBRIDGE_FIELD_ENCRYPTION")

    def read() -> str:
        with duckdb.connect(str(warehouse.path("uk")), read_only=True) as con:
            return str(con.execute("SELECT payload FROM raw.time_entries").fetchone()[0])  # type: ignore[index]

    assert NOTES in read()
    assert main(["keys", "rotate"]) == 0
    assert "uk:raw.time_entries" in capsys.readouterr().out
    stored = read()
    assert NOTES not in stored and "Jane Roe" not in stored
    assert decrypt_payload(stored, PM_RECORD_FIELDS, load_key_ring()) == frame["payload"][0]
