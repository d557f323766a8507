"""Archive, restore, purge and legal holds on a real warehouse file, through the real CLI.

Periods are chosen far enough back (or forward) that the demo policy's verdicts hold whatever day
the suite runs: invoices 2015-0x are past ten years, 2020-06 is not; raw payloads of 2019-05 are past
two years; request logs of 2024-01 past eighteen months.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.cli import main
from resources.archive import MANIFEST, Archive, sha256_of
from resources.audit_log import AuditLog
from resources.warehouse import Warehouse, append
from rules.schemas.catalog import table as registered

ENTITY = "us"
INVOICES = "billing.invoice_drafts"
FILLER: dict[str, Any] = {
    "VARCHAR": "x", "DATE": date(2015, 1, 15), "BOOLEAN": True, "BIGINT": 1, "INTEGER": 1,
    "TIMESTAMPTZ": datetime(2015, 1, 31, tzinfo=UTC), "DECIMAL(18,4)": Decimal("12.5000"),
    "DECIMAL(18,8)": Decimal("1.00000000"), "VARCHAR[]": [],
}  # fmt: skip


def _rows(name: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    """Rows of a registered table: the given values, every other required column filled."""
    schema = registered(name)
    filled = [
        {c.name: row.get(c.name, FILLER[c.type]) for c in schema.columns if c.required or c.name in row}
        for row in rows
    ]
    return pl.DataFrame(filled, schema={c: schema.column(c).dtype() for c in filled[0]})


def _invoice(number: str, period: str, client: int) -> dict[str, Any]:
    return {
        "invoice_number": number,
        "entity": ENTITY,
        "period": period,
        "client_id": client,
        "currency": "USD",
    }


def _time_entry(record_id: int, day: date, notes: str) -> dict[str, Any]:
    record = {
        "id": record_id,
        "notes": notes,
        "user": {"id": 7, "name": "Ada Lovelace"},
        "client": {"id": 5004},
    }
    payload = json.dumps(record)
    return {"entity": ENTITY, "day": day, "record_id": record_id, "payload": payload}


def _seed() -> None:
    """Invoices of four periods (clients 5001, 5002, 5003, 5001), raw entries of 2019-05, requests of 2024-01."""
    invoices = [_invoice("INV-1", "2015-01", 5001), _invoice("INV-2", "2015-01", 5001), _invoice("INV-3", "2015-02", 5002),
                _invoice("INV-4", "2015-03", 5003), _invoice("INV-5", "2020-06", 5001)]  # fmt: skip
    entries = [
        _time_entry(1, date(2019, 5, 2), "met the auditor"),
        _time_entry(2, date(2019, 5, 31), "drafted memo"),
    ]
    with Warehouse().transaction(ENTITY) as con:
        append(con, INVOICES, _rows(INVOICES, invoices))
        append(con, "raw.time_entries", _rows("raw.time_entries", entries))
        append(
            con, "posting.requests", _rows("posting.requests", [{"request_id": "r-1", "period": "2024-01"}])
        )


def _count(table: str, where: str = "true") -> int:
    return int(Warehouse().query(ENTITY, f"SELECT count(*) AS n FROM {table} WHERE {where}")["n"][0])


def _stored(table: str) -> pl.DataFrame:
    with Warehouse().connect(ENTITY) as con:
        return con.sql(f"SELECT * FROM {table} ORDER BY ALL").pl()


def _archive(*periods: str) -> None:
    for period in periods:
        assert main(["archive", "--entity", ENTITY, "--period", period]) == 0


def _folder(period: str) -> Path:
    return Archive(Warehouse()).folder(ENTITY, period)


def test_archive_writes_a_checksummed_manifest_and_restore_gives_identical_rows() -> None:
    _seed()
    before = _stored("raw.time_entries")
    _archive("2019-05", "2015-01")
    manifest = json.loads((_folder("2019-05") / MANIFEST).read_text())
    [entry] = manifest["tables"]
    assert (entry["table"], entry["rows"], entry["schema_version"]) == ("raw.time_entries", 2, "1.0.0")
    assert entry["sha256"] == sha256_of(_folder("2019-05") / entry["file"])
    assert manifest["written_at"] and manifest["key_ids"] and manifest["clients"] == [5004]
    # encrypted fields stay encrypted in the archive
    archived = pl.read_parquet(_folder("2019-05") / entry["file"])
    assert (
        not archived["payload"].str.contains("auditor").any()
        and archived["payload"].str.contains("enc1:").all()
    )

    with Warehouse().transaction(ENTITY) as con:
        con.execute("DELETE FROM raw.time_entries")
    assert main(["restore", "--entity", ENTITY, "--period", "2019-05"]) == 0
    assert _stored("raw.time_entries").equals(before)
    assert main(["restore", "--entity", ENTITY, "--period", "2019-05"]) == 0  # idempotent
    assert _stored("raw.time_entries").equals(before)


def test_purge_honours_legal_holds(capsys: pytest.CaptureFixture[str]) -> None:
    _seed()
    _archive("2015-01", "2015-02", "2015-03", "2020-06", "2019-05", "2024-01")
    assert main(["hold", "set", "--entity", ENTITY, "--period", "2015-02", "--reason", "tax audit 2015"]) == 0
    assert (
        main(
            ["hold", "set", "--entity", ENTITY, "--client", "5003", "--reason", "litigation with client 5003"]
        )
        == 0
    )
    capsys.readouterr()

    assert main(["purge", "--entity", ENTITY]) == 2  # no dry run yet
    assert "--dry-run` first" in capsys.readouterr().err
    assert _count(INVOICES) == 5

    assert main(["purge", "--entity", ENTITY, "--dry-run"]) == 0
    report = " ".join(capsys.readouterr().out.split())  # columns aligned with spaces: compare words
    assert "delete 2015-01 billing.invoice_drafts" in report
    assert "keep 2015-02 billing.invoice_drafts 1 row(s): legal hold (entity us, period 2015-02)" in report
    assert "keep 2015-03 billing.invoice_drafts 1 row(s): legal hold (entity us, client 5003)" in report
    assert "keep 2020-06 billing.invoice_drafts 1 row(s): invoices kept 10y0m until 2030-07-01" in report
    assert _count(INVOICES) == 5  # a dry run deletes nothing
    [planned] = [e for e in AuditLog().entries() if e["action"] == "retention.purge_planned"]
    assert planned["detail"]["rows"] == 5  # two invoices of 2015-01, two raw entries of 2019-05, one request

    assert main(["purge", "--entity", ENTITY]) == 0
    remaining = Warehouse().query(ENTITY, f"SELECT invoice_number FROM {INVOICES} ORDER BY 1")[
        "invoice_number"
    ]
    assert remaining.to_list() == ["INV-3", "INV-4", "INV-5"]
    assert _count("raw.time_entries") == 0 and _count("posting.requests") == 0

    hold_id = Warehouse().query(ENTITY, "SELECT hold_id FROM retention.legal_holds WHERE client_id = 5003")[
        "hold_id"
    ][0]
    assert main(["hold", "lift", "--entity", ENTITY, "--id", hold_id, "--reason", "settled"]) == 0
    assert main(["purge", "--entity", ENTITY, "--yes"]) == 0
    remaining = Warehouse().query(ENTITY, f"SELECT invoice_number FROM {INVOICES} ORDER BY 1")[
        "invoice_number"
    ]
    assert remaining.to_list() == ["INV-3", "INV-5"]

    assert main(["restore", "--entity", ENTITY, "--period", "2015-01"]) == 0  # purged rows come back
    assert _count(INVOICES, "period = '2015-01'") == 2


def test_a_tampered_archive_refuses_restore_and_purge(capsys: pytest.CaptureFixture[str]) -> None:
    _seed()
    _archive("2015-01")
    before = _stored(INVOICES)
    path = _folder("2015-01") / f"{INVOICES}.parquet"
    frame = pl.read_parquet(path).with_columns(pl.lit("BB-FORGED").alias("invoice_number"))
    frame.write_parquet(path)
    with Warehouse().transaction(ENTITY) as con:
        con.execute(f"DELETE FROM {INVOICES} WHERE invoice_number = 'INV-1'")
    after_delete = _stored(INVOICES)
    capsys.readouterr()

    assert main(["restore", "--entity", ENTITY, "--period", "2015-01"]) == 2
    err = capsys.readouterr().err
    assert "does not match its checksum (altered or damaged)" in err and "nothing was changed" in err
    assert _stored(INVOICES).equals(after_delete)
    assert main(["purge", "--entity", ENTITY, "--yes"]) == 2
    assert "does not match its checksum" in capsys.readouterr().err
    assert _stored(INVOICES).equals(after_delete) and before.height == after_delete.height + 1


def test_a_manifest_missing_a_key_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    _seed()
    _archive("2015-01")
    manifest_path = _folder("2015-01") / MANIFEST
    body = json.loads(manifest_path.read_text())
    del body["tables"][0]["sha256"]
    manifest_path.write_text(json.dumps(body))
    capsys.readouterr()
    assert main(["restore", "--entity", ENTITY, "--period", "2015-01"]) == 2
    assert (
        f"{manifest_path}: the manifest has no key 'sha256'; nothing was changed" in capsys.readouterr().err
    )


def test_rows_written_after_archiving_stop_the_purge() -> None:
    _seed()
    _archive("2015-01")
    with Warehouse().transaction(ENTITY) as con:
        append(con, INVOICES, _rows(INVOICES, [_invoice("INV-LATE", "2015-01", 5001)]))
    assert main(["purge", "--entity", ENTITY, "--yes"]) == 2
    assert _count(INVOICES, "period = '2015-01'") == 3


def test_a_purged_period_is_restored_before_it_is_archived_again(capsys: pytest.CaptureFixture[str]) -> None:
    _seed()
    _archive("2015-01")
    assert main(["purge", "--entity", ENTITY, "--yes"]) == 0
    capsys.readouterr()
    assert main(["archive", "--entity", ENTITY, "--period", "2015-01"]) == 2
    assert "was purged in part" in capsys.readouterr().err
    assert json.loads((_folder("2015-01") / MANIFEST).read_text())["tables"][0]["rows"] == 2


def test_the_current_month_is_not_archived(capsys: pytest.CaptureFixture[str]) -> None:
    this_month = date.today().strftime("%Y-%m")
    assert main(["archive", "--entity", ENTITY, "--period", this_month]) == 2
    assert "is not closed yet" in capsys.readouterr().err


def test_holds_are_audited_and_the_trail_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["hold", "set", "--entity", ENTITY, "--client", "5001", "--reason", "subpoena 42"]) == 0
    hold_id = capsys.readouterr().out.split()[2]
    assert main(["hold", "list", "--entity", ENTITY]) == 0
    assert hold_id in capsys.readouterr().out
    assert main(["hold", "lift", "--entity", ENTITY, "--id", hold_id, "--reason", ""]) == 2
    assert main(["hold", "lift", "--entity", ENTITY, "--id", hold_id, "--reason", "subpoena withdrawn"]) == 0
    assert main(["hold", "lift", "--entity", ENTITY, "--id", hold_id, "--reason", "again"]) == 2
    assert main(["hold", "list", "--entity", ENTITY]) == 0
    assert "no active legal holds" in capsys.readouterr().out

    entries = [e for e in AuditLog().entries() if e["action"].startswith("retention.hold")]
    assert [(e["action"], e["detail"]["hold_id"], e["detail"]["reason"]) for e in entries] == [
        ("retention.hold_set", hold_id, "subpoena 42"),
        ("retention.hold_lifted", hold_id, "subpoena withdrawn"),
    ]
    commands = [e for e in AuditLog().entries() if e["action"] == "hold.set"]
    assert "client=5001" in commands[0]["target"] and "reason=subpoena 42" in commands[0]["target"]
    assert main(["audit", "verify"]) == 0
    with duckdb.connect(str(Warehouse().path(ENTITY)), read_only=True) as con:
        assert con.execute("SELECT lift_reason FROM retention.legal_holds").fetchall() == [
            ("subpoena withdrawn",)
        ]


def test_an_archive_whose_encryption_key_is_gone_is_not_restored(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _seed()
    _archive("2019-05")
    needed = json.loads((_folder("2019-05") / MANIFEST).read_text())["key_ids"]
    other = {"active": "k9-other", "keys": {"k9-other": {"key": base64.b64encode(bytes(32)).decode()}}}
    monkeypatch.setenv("BILLBRIDGE_KEYS", json.dumps(other))
    with Warehouse().transaction(ENTITY) as con:
        con.execute("DELETE FROM raw.time_entries")
    capsys.readouterr()
    assert main(["restore", "--entity", ENTITY, "--period", "2019-05"]) == 2
    err = capsys.readouterr().err
    assert f"encryption key(s) {needed[0]} the archive's values need are not in the key ring" in err
    assert "nothing was changed" in err and _count("raw.time_entries") == 0


def test_the_archive_job_archives_a_closed_month_of_each_entity() -> None:
    from pipelines.definitions import build_definitions
    from resources.configuration import current_config

    _seed()
    built = build_definitions(current_config(), resources={"warehouse": Warehouse()})
    run_config = {"ops": {"archive_periods": {"config": {"period": "2015-01"}}}}
    with dg.instance_for_test() as instance:
        result = built.resolve_job_def("archive_closed_periods").execute_in_process(
            run_config=run_config, instance=instance
        )
    assert result.success
    manifest = json.loads((_folder("2015-01") / MANIFEST).read_text())
    assert [(t["table"], t["rows"]) for t in manifest["tables"]] == [(INVOICES, 2)]


def test_a_manifest_rewritten_to_match_a_forged_file_is_caught_by_the_audit_trail(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _seed()
    _archive("2015-01")
    folder = _folder("2015-01")
    path = folder / f"{INVOICES}.parquet"
    pl.read_parquet(path).with_columns(pl.lit("BB-FORGED").alias("invoice_number")).write_parquet(path)
    body = json.loads((folder / MANIFEST).read_text())
    body["tables"][0]["sha256"] = sha256_of(path)
    (folder / MANIFEST).write_text(json.dumps(body))
    with Warehouse().transaction(ENTITY) as con:
        con.execute(f"DELETE FROM {INVOICES} WHERE period = '2015-01'")
    capsys.readouterr()
    assert main(["restore", "--entity", ENTITY, "--period", "2015-01"]) == 2
    assert "manifest.json differs from the one the audit trail recorded" in capsys.readouterr().err
    assert _count(INVOICES, "period = '2015-01'") == 0
    assert [e["action"] for e in AuditLog().entries()].count("retention.archived") == 1
