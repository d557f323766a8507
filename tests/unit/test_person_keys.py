"""Per-person data keys: values under a person's key name it, erasure turns them into the marker
and never into an error, rotation re-wraps the keys and leaves the values' bytes alone."""

from __future__ import annotations

import json

import polars as pl
import pytest

from resources.crypto import KeyProblem, add_key, load_key_ring
from resources.field_crypto import (
    PM_RECORD_FIELDS,
    current_people,
    decrypt_frame,
    decrypt_payload,
    encrypt_frame,
)
from resources.person_keys import ERASED, Erasure, PersonKeyStore

ENTRY = {"id": 1, "notes": "Dentist, then the Acme workshop", "user": {"id": 7, "name": "Jane Roe"}}
OTHER = {"id": 2, "notes": "Acme workshop", "user": {"id": 8, "name": "Sam Poe"}}


def _lines() -> pl.DataFrame:
    return pl.DataFrame(
        {"person_id": [7, 8, 7, None], "person_name": ["Jane Roe", "Sam Poe", "Jane Roe", "Ann Doe"]}
    )


def _erase(person_id: int) -> None:
    PersonKeyStore().erase(Erasure(person_id, "2026-12-07T00:00:00+00:00", "dpo", "request 12", "law", "{}"))


def test_a_persons_values_carry_their_key_and_read_back() -> None:
    sealed = encrypt_frame("normalized.billable_lines", _lines())
    names = sealed["person_name"].to_list()
    assert names[0].startswith("enc1:p-7:person.name:") and names[0] == names[2]  # deterministic
    assert names[1].startswith("enc1:p-8:person.name:")
    assert names[3].startswith(f"enc1:{load_key_ring().active}:")  # no person: the ring's key
    assert decrypt_frame(sealed)["person_name"].to_list() == _lines()["person_name"].to_list()
    directory = encrypt_frame(
        "raw.directory",
        pl.DataFrame(
            {"kind": ["users"], "payload": [json.dumps({"id": 9, "first_name": "Kim", "email": "k@x.io"})]}
        ),
    )
    assert '"enc1:p-9:person.email:' in directory["payload"][0]


def test_erasure_reads_as_the_marker_for_that_person_only_and_new_values_are_not_kept() -> None:
    frame = pl.DataFrame({"payload": [json.dumps(ENTRY), json.dumps(OTHER)]})
    sealed = encrypt_frame("raw.time_entries", frame)["payload"].to_list()
    lines = encrypt_frame("normalized.billable_lines", _lines())
    ring = load_key_ring()
    _erase(7)
    assert json.loads(decrypt_payload(sealed[0], PM_RECORD_FIELDS, ring))["user"] == {"id": 7, "name": ERASED}
    assert json.loads(decrypt_payload(sealed[0], PM_RECORD_FIELDS, ring))["notes"] == ERASED
    assert decrypt_payload(sealed[1], PM_RECORD_FIELDS, ring) == json.dumps(OTHER, separators=(",", ":"))
    assert decrypt_frame(lines)["person_name"].to_list() == [ERASED, "Sam Poe", ERASED, "Ann Doe"]
    again = encrypt_frame("raw.time_entries", frame)["payload"][0]
    assert "Jane" not in again and "Dentist" not in again and json.loads(again)["notes"] == ERASED
    assert PersonKeyStore().erasures(7)[0].reason == "request 12"


def test_rotation_rewraps_person_keys_and_a_lost_store_stops_clearly() -> None:
    sealed = encrypt_frame("normalized.billable_lines", _lines())
    store = PersonKeyStore()
    ring = add_key(load_key_ring())
    assert store.rewrap(ring) == 2 and store.rewrap(ring) == 0
    from resources import field_crypto

    field_crypto._people_for.cache_clear()
    assert decrypt_frame(sealed, ring)["person_name"][1] == "Sam Poe"
    store.path.unlink()
    field_crypto._people_for.cache_clear()
    with pytest.raises(KeyProblem, match=r"no key for person \d+ in .*restore the person key store"):
        decrypt_frame(sealed, ring)
    assert current_people().store.path == store.path


def test_many_peoples_keys_are_made_and_read_in_one_look_up_as_one_at_a_time() -> None:
    ring, store = load_key_ring(), PersonKeyStore()
    _, known = store.wrapped_key(7, ring)
    _erase(8)
    found = store.wrapped_keys([7, 8, 9, 10, 9], ring)
    assert found[7] == known  # an existing key is not replaced
    assert found[8] is None  # an erased person has no key, and gets none
    assert found[9] and found[10] and found[9] != found[10]  # new people get keys of their own
    assert store.wrapped_key(9, ring, create=False) == (True, found[9])
    assert store.wrapped_keys([9, 10], ring) == {9: found[9], 10: found[10]}  # made once


def test_a_frame_of_payloads_seals_each_under_its_persons_key_and_an_erased_person_as_the_marker() -> None:
    _erase(8)
    frame = pl.DataFrame(
        {"kind": ["time_entries"] * 3, "payload": [json.dumps(ENTRY), json.dumps(OTHER), None]}
    )
    sealed = encrypt_frame("raw.time_entries", frame)["payload"].to_list()
    first, second = json.loads(sealed[0]), json.loads(sealed[1])
    assert first["user"]["name"].startswith("enc1:p-7:person.name:")
    assert second["user"]["name"] == ERASED and second["notes"] == ERASED
    assert sealed[2] is None
    assert (
        json.loads(decrypt_payload(sealed[0], PM_RECORD_FIELDS, load_key_ring(), current_people())) == ENTRY
    )
