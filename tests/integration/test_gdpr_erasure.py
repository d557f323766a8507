"""GDPR erasure by crypto-shredding on a real sync against both sandboxes: after `gdpr erase` the
person's name, e-mail and notes are unreadable in every table of every entity file and in their
subject access export, while every money figure, ledger export and group total is byte-identical
(also after `keys rotate` and a rerun), other people stay readable and the audit trail verifies.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from pipelines.cli import main
from resources.configuration import current_config
from resources.field_crypto import PM_RECORD_FIELDS, SENSITIVE_COLUMNS, current_ring, decrypt_payload
from resources.person_keys import ERASED
from resources.warehouse import Warehouse, default_home
from tests.conftest import Sandboxes
from tests.security.test_encryption_run import PERIOD, _money

pytestmark = pytest.mark.integration


def _figures() -> dict[str, Any]:
    """Every DECIMAL column of every DuckDB file, and every ledger export's rows (what must not change)."""
    home = Path(default_home())
    files = sorted(home.glob("warehouse/*.duckdb")) + sorted(home.glob("group/*.duckdb"))
    exports = sorted(home.glob("exports/ledger/*/*/*.parquet"))
    return {
        **{str(f.relative_to(home)): _money(f) for f in files},
        **{str(f.relative_to(home)): _ledger_rows(f) for f in exports},
    }


def _ledger_rows(path: Path) -> list[tuple[Any, ...]]:
    """A ledger export's rows without what says which run wrote them (a rerun writes it again)."""
    frame = pl.read_parquet(path)
    written = [c for c, t in frame.schema.items() if c.endswith("run_id") or isinstance(t, pl.Datetime)]
    return frame.drop(written).sort(pl.all()).rows()


def _every_personal_value() -> str:
    """Every personal column of every entity file, read as billbridge reads it (decrypted), as text."""
    out = []
    warehouse = Warehouse()
    for entity in current_config().entity_ids:
        if not warehouse.exists(entity):
            continue
        for table, columns in SENSITIVE_COLUMNS.items():
            for column, fields in columns.items():
                values = warehouse.query(entity, f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL")
                for value in values[column]:
                    opened = value if fields[0].path == "" else _opened(value)
                    out.append(opened)
    return "\n".join(out)


def _notes_of(person_id: int) -> set[str]:
    """The notes on the person's stored time entries, as billbridge reads them."""
    rows = Warehouse().query(
        "uk",
        "SELECT payload FROM raw.time_entries WHERE json_extract(payload, '$.user.id')::BIGINT = ?",
        [person_id],
    )
    return {json.loads(_opened(p))["notes"] for p in rows["payload"]}


def _opened(payload: str) -> str:
    try:
        return decrypt_payload(payload, PM_RECORD_FIELDS, current_ring())
    except json.JSONDecodeError:
        return payload


def test_erasing_a_person_shreds_their_data_everywhere_and_keeps_every_figure(
    sandboxes: Sandboxes, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["sync", *PERIOD]) == 0
    worked = {e["user"]["id"] for e in sandboxes.company.time_entries if e["client"]["id"] == 5101}
    person, other = [u for u in sandboxes.company.users if u["id"] in worked][:2]
    name, other_name = (f"{u['first_name']} {u['last_name']}" for u in (person, other))
    held = _every_personal_value()
    assert name in held and person["email"] in held and other_name in held
    assert _notes_of(person["id"]) - {""}
    before = _figures()
    capsys.readouterr()

    assert (
        main(
            [
                "gdpr",
                "erase",
                "--person",
                str(person["id"]),
                "--reason",
                "request DSR-12",
                "--basis",
                "bookkeeping law: invoices and journals kept 6 years",
            ]
        )
        == 0
    )
    print(capsys.readouterr().out)

    after = _every_personal_value()
    assert name not in after and person["email"] not in after
    assert _notes_of(person["id"]) <= {ERASED, ""} and _notes_of(other["id"]) - {ERASED, ""}
    assert ERASED in after and other_name in after and other["email"] in after
    assert _figures() == before

    out = tmp_path / "sar.json"
    assert main(["gdpr", "export", "--person", str(person["id"]), "--out", str(out)]) == 0
    text = out.read_text()
    document = json.loads(text)
    assert document["erased"][0]["basis"].startswith("bookkeeping law")
    assert "bookkeeping" in document["erased"][0]["kept"]["why"]
    assert name not in text and person["email"] not in text and "enc1:" not in text
    assert document["entities"]["uk"]["raw.time_entries"]  # amounts and ids are still held

    assert main(["keys", "rotate"]) == 0
    assert _figures() == before
    assert other_name in _every_personal_value()
    sandboxes.xero.clear_faults()
    assert main(["sync", *PERIOD]) == 0  # a rerun re-extracts the person from the PM system
    assert name not in _every_personal_value()
    assert _figures() == before
    assert main(["audit", "verify"]) == 0


def test_erasing_a_person_named_on_an_issued_intercompany_invoice_posts_nothing_new(
    sandboxes: Sandboxes, capsys: pytest.CaptureFixture[str]
) -> None:
    """Intercompany lines name the seller's person: the issued document is kept as issued (counted in
    the register), and a rerun after the erasure neither corrects nor re-posts anything."""
    assert main(["sync", *PERIOD]) == 0
    tenants = [e.accounting_tenant_id for e in current_config().entities]

    def booked() -> list[str]:
        return [json.dumps(d, default=str) for t in tenants for d in sandboxes.xero.documents(t, None)]

    issued = booked()
    named = [
        u for u in sandboxes.company.users if any(f"{u['first_name']} {u['last_name']}" in d for d in issued)
    ]
    assert named
    person = named[0]
    before = _figures()
    capsys.readouterr()

    erase = [
        "gdpr",
        "erase",
        "--person",
        str(person["id"]),
        "--reason",
        "DSR-13",
        "--basis",
        "bookkeeping law",
    ]
    assert main(erase) == 0
    assert "kept (issued documents naming them)" in capsys.readouterr().out
    sandboxes.xero.clear_faults()
    assert main(["sync", *PERIOD]) == 0
    assert booked() == issued  # nothing corrected, nothing sent again
    assert _figures() == before
    assert f"{person['first_name']} {person['last_name']}" not in _every_personal_value()
