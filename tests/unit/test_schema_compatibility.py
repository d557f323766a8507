"""Compatibility in CI: today's registry against the newest release kept in docs/schemas/, and the rules
themselves (a deliberately breaking change is caught; a declared one passes)."""

from __future__ import annotations

import copy
import gzip
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipelines.cli_schemas import latest_release
from rules.schemas.catalog import PAYLOADS, RETIRED, TABLES
from rules.schemas.compatibility import snapshot, undeclared

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "release-0.1.0" / "us.duckdb.gz"


def test_todays_registry_is_compatible_with_the_last_release_as_declared() -> None:
    assert undeclared(latest_release(), snapshot(TABLES, PAYLOADS), RETIRED) == []


def test_the_kept_0_1_0_snapshot_is_the_layout_that_release_wrote(tmp_path: Path) -> None:
    path = tmp_path / "us.duckdb"
    with gzip.open(FIXTURE) as source, path.open("wb") as target:
        shutil.copyfileobj(source, target)
    with duckdb.connect(str(path), read_only=True) as con:
        written = con.execute(
            "SELECT schema_name || '.' || table_name, column_name, data_type, is_nullable FROM duckdb_columns() "
            "WHERE NOT internal ORDER BY ALL"
        ).fetchall()
    types = {"TIMESTAMPTZ": "TIMESTAMP WITH TIME ZONE"}
    kept = latest_release(Path(__file__).resolve().parents[2] / "docs" / "schemas")
    released = [
        (name, c["name"], types.get(c["type"], c["type"]), c["nullable"])
        for name, spec in kept["tables"].items()
        for c in spec["columns"]
    ]
    entity_tables = {n for n, *_ in written}
    assert sorted(r for r in released if r[0] in entity_tables) == sorted(written)
    assert entity_tables == {n for n in kept["tables"] if not n.startswith("consolidation.")}


def _current() -> dict[str, Any]:
    return copy.deepcopy(snapshot(TABLES, PAYLOADS))


def _columns(shape: dict[str, Any], table: str) -> list[dict[str, Any]]:
    return shape["tables"][table]["columns"]


def _column(shape: dict[str, Any], table: str, name: str) -> dict[str, Any]:
    return next(c for c in _columns(shape, table) if c["name"] == name)


def _edit_removes_a_column(shape: dict[str, Any]) -> None:
    columns = _columns(shape, "normalized.billable_lines")
    columns[:] = [c for c in columns if c["name"] != "fx_source"]


def _edit_renames_a_column(shape: dict[str, Any]) -> None:
    _column(shape, "posting.outbox", "external_id")["name"] = "xero_id"


def _edit_narrows_a_decimal(shape: dict[str, Any]) -> None:
    _column(shape, "billing.invoice_drafts", "total")["type"] = "DECIMAL(18,2)"


def _edit_makes_a_column_required(shape: dict[str, Any]) -> None:
    _column(shape, "normalized.billable_lines", "project_code")["nullable"] = False


def _edit_adds_a_required_column(shape: dict[str, Any]) -> None:
    _columns(shape, "raw.time_entries").append(
        {"name": "tenant", "type": "VARCHAR", "nullable": False, "default": None}
    )


def _edit_narrows_a_payload_field(shape: dict[str, Any]) -> None:
    hours = next(f for f in shape["payloads"]["harvest.time_entry"]["fields"] if f["path"] == "hours")
    hours["types"] = ["number"]  # null no longer allowed


def _edit_widens_an_integer(shape: dict[str, Any]) -> None:
    _column(shape, "billing.invoice_draft_lines", "line_no")["type"] = "BIGINT"


def _edit_adds_an_optional_column(shape: dict[str, Any]) -> None:
    _columns(shape, "raw.time_entries").append(
        {"name": "tenant", "type": "VARCHAR", "nullable": True, "default": None}
    )


def _edit_widens_a_decimal(shape: dict[str, Any]) -> None:
    _column(shape, "billing.invoice_drafts", "total")["type"] = "DECIMAL(38,8)"


BREAKING = [
    (_edit_removes_a_column, "normalized.billable_lines", "column fx_source removed or renamed"),
    (_edit_renames_a_column, "posting.outbox", "column external_id removed or renamed"),
    (
        _edit_narrows_a_decimal,
        "billing.invoice_drafts",
        "column total narrowed or changed: DECIMAL(18,4) -> DECIMAL(18,2)",
    ),
    (_edit_makes_a_column_required, "normalized.billable_lines", "column project_code became NOT NULL"),
    (_edit_adds_a_required_column, "raw.time_entries", "column tenant added (required)"),
    (_edit_narrows_a_payload_field, "harvest.time_entry", "field hours no longer allows null"),
]
COMPATIBLE = [
    (_edit_widens_an_integer, "billing.invoice_draft_lines", "column line_no widened: INTEGER -> BIGINT"),
    (_edit_adds_an_optional_column, "raw.time_entries", "column tenant added (optional)"),
    (_edit_widens_a_decimal, "billing.invoice_drafts", "column total widened"),
]


def _bump(shape: dict[str, Any], subject: str, part: str) -> None:
    kind = "payloads" if subject in shape["payloads"] else "tables"
    major, minor, _ = (int(x) for x in shape[kind][subject]["version"].split("."))
    shape[kind][subject]["version"] = f"{major + 1}.0.0" if part == "major" else f"{major}.{minor + 1}.0"


@pytest.mark.parametrize(("edit", "subject", "what"), BREAKING)
def test_a_breaking_change_fails_until_its_major_version_is_bumped(
    edit: Any, subject: str, what: str
) -> None:
    released, current = _current(), _current()
    edit(current)
    [problem] = undeclared(released, current, {})
    assert problem.startswith(f"{subject}: undeclared breaking change (") and what in problem
    _bump(current, subject, "minor")  # a minor bump does not declare a breaking change
    assert undeclared(released, current, {}) == [problem]
    _bump(current, subject, "major")
    assert undeclared(released, current, {}) == []


@pytest.mark.parametrize(("edit", "subject", "what"), COMPATIBLE)
def test_a_compatible_change_fails_until_its_minor_version_is_bumped(
    edit: Any, subject: str, what: str
) -> None:
    released, current = _current(), _current()
    edit(current)
    [problem] = undeclared(released, current, {})
    assert problem.startswith(f"{subject}: undeclared change (") and what in problem
    _bump(current, subject, "minor")
    assert undeclared(released, current, {}) == []


def test_a_removed_table_must_be_listed_as_retired() -> None:
    released, current = _current(), _current()
    del current["tables"]["posting.claims"]
    assert undeclared(released, current, {}) == [
        "posting.claims: removed without being listed as retired (a breaking change)"
    ]
    assert undeclared(released, current, {"posting.claims": "claims moved to the outbox"}) == []
