"""A real sync against both sandboxes with field encryption: names and notes are ciphertext at rest,
invoices are the same as without encryption, and `keys rotate` leaves every money figure byte-identical.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from resources.configuration import load_config
from resources.crypto import load_key_ring
from resources.warehouse import Warehouse
from tests.conftest import Sandboxes

pytestmark = pytest.mark.integration
PERIOD = ("--entity", "uk", "--period", "2026-09")


def _money(path: Path) -> bytes:
    """Every DECIMAL column of every table, rows in a fixed order, as bytes (what must never change)."""
    out = []
    with duckdb.connect(str(path), read_only=True) as con:
        columns = con.execute(
            "SELECT schema_name, table_name, list(column_name ORDER BY column_index) FROM duckdb_columns() "
            "WHERE data_type LIKE 'DECIMAL%' GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        for schema, table, names in columns:
            listed = ", ".join(names)
            rows = con.execute(f"SELECT {listed} FROM {schema}.{table} ORDER BY ALL").fetchall()
            out.append(f"{schema}.{table}({listed}): {rows!r}".encode())
    return b"\n".join(out)


def _key_ids(path: Path) -> set[str]:
    with duckdb.connect(str(path), read_only=True) as con:
        names = con.execute("SELECT DISTINCT person_name FROM normalized.billable_lines").fetchall()
        notes = con.execute(
            "SELECT DISTINCT json_extract_string(payload, '$.notes') FROM raw.time_entries "
            "WHERE json_extract_string(payload, '$.notes') <> ''"
        ).fetchall()
    return {v.split(":")[1] for (v,) in names + notes if v}


def _wrapping_keys() -> set[str]:
    """The ring keys the person data keys are wrapped under."""
    import sqlite3

    from resources.person_keys import default_person_key_path

    with sqlite3.connect(default_person_key_path()) as con:
        return {
            w.split(":")[1]
            for (w,) in con.execute("SELECT wrapped FROM person_keys WHERE wrapped IS NOT NULL")
        }


def _people(sandboxes: Sandboxes) -> list[str]:
    return [f"{u['first_name']} {u['last_name']}" for u in sandboxes.company.users]


def test_names_and_notes_are_ciphertext_at_rest_and_invoices_match_a_run_without_encryption(
    sandboxes: Sandboxes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["sync", *PERIOD]) == 0
    encrypted = Warehouse().path("uk")
    with duckdb.connect(str(encrypted), read_only=True) as con:  # what a copy of the file shows
        names = {
            v for (v,) in con.execute("SELECT DISTINCT person_name FROM normalized.billable_lines").fetchall()
        }
        payloads = [p for (p,) in con.execute("SELECT payload FROM raw.time_entries").fetchall()]
        invoices = con.execute(
            "SELECT invoice_number, total FROM billing.invoice_drafts ORDER BY 1"
        ).fetchall()
    assert names and all(n.startswith("enc1:") for n in names if n)
    assert not any(person in payload for person in _people(sandboxes) for payload in payloads)
    assert any('"notes":"enc1:' in p for p in payloads)
    # What billbridge reads back is the clear name.
    read = Warehouse().query("uk", "SELECT DISTINCT person_name FROM normalized.billable_lines")
    assert set(read["person_name"].drop_nulls()) <= set(_people(sandboxes))

    monkeypatch.setenv("BILLBRIDGE_HOME", str(tmp_path / "clear"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "clear" / "dagster_home"))
    monkeypatch.setenv("BILLBRIDGE_FIELD_ENCRYPTION", "off")
    sandboxes.xero.clear_faults()
    assert main(["sync", *PERIOD]) == 0
    with duckdb.connect(str(Warehouse().path("uk")), read_only=True) as con:
        clear = con.execute("SELECT invoice_number, total FROM billing.invoice_drafts ORDER BY 1").fetchall()
    assert invoices and invoices == clear


def test_key_rotation_re_encrypts_in_place_and_every_money_figure_stays_byte_identical(
    sandboxes: Sandboxes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", *PERIOD]) == 0
    path = Warehouse().path("uk")
    old_key = load_key_ring().active
    before = _money(path)
    person_keys = _key_ids(path)  # names and notes are under their person's data key (decision 0033)
    assert person_keys and all(k.startswith("p-") for k in person_keys)
    assert _wrapping_keys() == {old_key}
    names_before = set(
        Warehouse().query("uk", "SELECT person_name FROM normalized.billable_lines")["person_name"]
    )

    assert main(["keys", "rotate"]) == 0
    out = capsys.readouterr().out
    new_key = load_key_ring().active
    assert new_key != old_key and f"new active key {new_key}" in out and "person keys (re-wrapped)" in out
    assert _money(path) == before  # byte for byte
    assert _key_ids(path) == person_keys  # their values keep their bytes: the person keys are re-wrapped
    assert _wrapping_keys() == {new_key}
    names_after = set(
        Warehouse().query("uk", "SELECT person_name FROM normalized.billable_lines")["person_name"]
    )
    assert names_after == names_before

    assert main(["sync", *PERIOD]) == 0  # the next run writes under the new key and posts nothing new
    assert _key_ids(path) == person_keys and _wrapping_keys() == {new_key}
    assert _money(path) == before


def test_a_subject_access_export_holds_one_persons_records_decrypted(
    sandboxes: Sandboxes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    from resources.audit_log import AuditLog

    assert main(["sync", *PERIOD]) == 0
    worked = {e["user"]["id"] for e in sandboxes.company.time_entries if e["client"]["id"] == 5101}
    person = next(u for u in sandboxes.company.users if u["id"] in worked)
    name = f"{person['first_name']} {person['last_name']}"
    out = tmp_path / "sar.json"
    assert main(["gdpr", "export", "--person", str(person["id"]), "--out", str(out)]) == 0
    assert out.stat().st_mode & 0o777 == 0o600
    document = json.loads(out.read_text())
    uk = document["entities"]["uk"]
    entries = uk["raw.time_entries"]
    assert entries and all(e["payload"]["user"] == {"id": person["id"], "name": name} for e in entries)
    directory = uk["raw.directory"]  # their user record, and the assignments naming them
    assert [u["payload"]["email"] for u in directory if u["kind"] == "users"] == [person["email"]]
    assert all(u["payload"]["user"]["name"] == name for u in directory if u["kind"] == "user_assignments")
    assert {line["person_name"] for line in uk["normalized.billable_lines"]} == {name}
    others = {f"{u['first_name']} {u['last_name']}" for u in sandboxes.company.users} - {name}
    assert not any(other in out.read_text() for other in others)
    assert "enc1:" not in out.read_text()
    last = list(AuditLog().entries())[-1]
    assert (last["action"], last["target"], last["detail"]["permission"]) == (
        "gdpr.export",
        f"out={out} person={person['id']}",
        "export",
    )


def test_no_ciphertext_reaches_the_ledger(sandboxes: Sandboxes) -> None:
    """Found on the merged main: the outbox read intercompany drafts on its held connection without
    decrypting, so the accounting system booked "enc1:..." where the seller's person name belongs."""
    assert main(["sync", *PERIOD]) == 0
    tenants = [e.accounting_tenant_id for e in load_config().entities]
    booked = [json.dumps(d, default=str) for t in tenants for d in sandboxes.xero.documents(t, None)]
    assert any("IC-US" in d for d in booked)  # the intercompany invoice carrying a person's name
    assert not [d for d in booked if "enc1:" in d]
    assert any(person in d for person in _people(sandboxes) for d in booked)
