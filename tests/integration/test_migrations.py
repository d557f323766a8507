"""Migrations on real files: the file release 0.1.0 left (tests/fixtures/release-0.1.0) migrates to today's
layout keeping its data; a dry run changes nothing; a file newer than the code, an edited step and a
failing step are refused with a message, the file left as it was."""

from __future__ import annotations

import gzip
import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import main
from resources.configuration import current_config
from resources.harvest import HarvestClient
from resources.migrations import Chain, Migration, MigrationError, migrate_file
from resources.migrations.entity import ENTITY_MIGRATIONS
from resources.raw_extraction import extract_list
from resources.warehouse import Warehouse
from rules.raw_slices import ExtractionScope
from rules.routing import EntityRoutes
from sandbox.company import generate_company
from sandbox.harvest import HarvestSandbox

pytestmark = pytest.mark.integration
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "release-0.1.0" / "us.duckdb.gz"
# Rows the 0.1.0 file holds (one sync of us, August 2026).
RELEASED_ROWS = {
    "raw.time_entries": 190,
    "raw.directory": 90,
    "normalized.billable_lines": 194,
    "billing.invoice_drafts": 3,
    "billing.invoice_line_sources": 175,
    "posting.outbox": 4,
    "posting.posted_lines": 47,
}


@pytest.fixture
def released(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the 0.1.0 file as $BILLBRIDGE_HOME/warehouse/us.duckdb."""
    monkeypatch.setenv("BILLBRIDGE_HOME", str(tmp_path))
    path = tmp_path / "warehouse" / "us.duckdb"
    path.parent.mkdir(parents=True)
    with gzip.open(FIXTURE) as source, path.open("wb") as target:
        shutil.copyfileobj(source, target)
    return path


def _counts(path: Path) -> dict[str, int]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in RELEASED_ROWS}  # type: ignore[index]


def _layout(path: Path) -> list[tuple[str, ...]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return con.execute(
            "SELECT schema_name, table_name, column_name, data_type, is_nullable::VARCHAR FROM duckdb_columns() "
            "WHERE NOT internal ORDER BY ALL"
        ).fetchall()


def _applied(path: Path) -> list[tuple[int, str]]:
    with duckdb.connect(str(path), read_only=True) as con:
        if not con.execute("SELECT count(*) FROM duckdb_schemas() WHERE schema_name = 'meta'").fetchone()[0]:  # type: ignore[index]
            return []
        return con.execute("SELECT number, name FROM meta.schema_migrations ORDER BY 1").fetchall()


def test_the_released_file_migrates_to_todays_layout_keeping_its_data(
    released: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _counts(released) == RELEASED_ROWS
    before = released.read_bytes()
    assert main(["migrate", "--dry-run"]) == 0
    assert "at migration 0; would apply 0001 (the 0.1.0 layout), 0002 (" in capsys.readouterr().out
    assert released.read_bytes() == before  # a dry run only reads

    assert main(["migrate"]) == 0
    out = capsys.readouterr().out
    assert f"migrated 0 -> {ENTITY_MIGRATIONS.latest}" in out and "backup" in out
    [backup] = released.parent.glob("us.duckdb.pre-migration-*.bak")
    assert _counts(backup) == RELEASED_ROWS  # the copy taken first holds the file as it was
    assert _counts(released) == RELEASED_ROWS
    assert [n for n, _ in _applied(released)] == list(range(1, ENTITY_MIGRATIONS.latest + 1))

    fresh = Warehouse().path("fresh")
    with Warehouse().connect("fresh"):
        pass
    assert _layout(released) == _layout(fresh)  # the same tables, columns, types and nullability

    with duckdb.connect(str(released), read_only=True) as con:
        versions = con.execute(
            "SELECT kind, count(*), count(DISTINCT record_id), min(version), max(version) FROM raw.record_versions "
            "GROUP BY 1 ORDER BY 1"
        ).fetchall()
    assert ("time_entries", 190, 190, 1, 1) in versions  # every kept record became its version 1

    assert main(["migrate"]) == 0  # idempotent: nothing pending
    assert "current" in capsys.readouterr().out


def test_a_migrated_file_extracts_on_without_a_new_version(released: Path) -> None:
    company = generate_company(seed=7)  # the company 0.1.0 extracted from
    days = tuple(date(2026, 8, 1) + timedelta(days=i) for i in range(31))
    with HarvestSandbox(company, rate_limit=None) as sandbox:
        harvest = HarvestClient(base_url=sandbox.url, account_id="100001", access_token="demo-harvest-token")
        scope = ExtractionScope("us", "time_entries", days, "after-upgrade", datetime.now(UTC))
        counts = extract_list(harvest, Warehouse(), scope, EntityRoutes.from_config(current_config()))
    assert (counts.records, counts.new_versions, counts.tombstones) == (190, 0, 0)


def test_a_file_newer_than_the_code_refuses_to_open(released: Path) -> None:
    with Warehouse().connect("us"):
        pass  # migrated on open
    with duckdb.connect(str(released)) as con:
        con.execute("INSERT INTO meta.schema_migrations VALUES (99, 'from the future', 'x', now(), '9.9.9')")
    with (
        pytest.raises(
            MigrationError, match=r"is at entity migration 99 \(from the future\), newer than this"
        ),
        Warehouse().connect("us"),
    ):
        pass


def test_a_failing_migration_leaves_the_file_as_it_was_and_names_the_step(released: Path) -> None:
    broken = Chain(
        "entity",
        (
            *ENTITY_MIGRATIONS.migrations,
            Migration(
                ENTITY_MIGRATIONS.latest + 1,
                "a step that breaks halfway",
                sql="ALTER TABLE raw.time_entries ADD COLUMN added VARCHAR; SELECT no_such_column FROM raw.time_entries;",
            ),
        ),
    )
    layout, counts = None, None
    with pytest.raises(MigrationError) as caught:
        layout, counts = _layout(released), _counts(released)
        migrate_file(released, broken, dry_run=False)
    message = str(caught.value)
    assert f"migration {ENTITY_MIGRATIONS.latest + 1:04d} (a step that breaks halfway) failed" in message
    assert "the file is unchanged (rolled back)" in message
    assert _layout(released) == layout and _counts(released) == counts
    assert _applied(released) == []  # 0001 and 0002 were in the same transaction: nothing recorded


def test_an_edited_released_migration_is_refused(released: Path) -> None:
    migrate_file(released, ENTITY_MIGRATIONS, dry_run=False)
    first, *rest = ENTITY_MIGRATIONS.migrations
    edited = Chain("entity", (Migration(1, first.name, sql=first.sql + "\n-- edited"), *rest))
    with pytest.raises(MigrationError, match="differs from the one applied to the file"):
        migrate_file(released, edited, dry_run=True)


def test_a_file_that_applied_an_accepted_earlier_text_of_0001_opens_and_migrates_on(tmp_path: Path) -> None:
    from resources.migrations import apply, plan

    path = tmp_path / "warehouse" / "us.duckdb"
    path.parent.mkdir(parents=True)
    first = ENTITY_MIGRATIONS.migrations[0]
    with duckdb.connect(str(path)) as con:
        apply(con, plan(con, path, Chain("entity", (first,))), make_backup=False)
        # As recorded by main while 0001 also carried the outbox's additions (now step 0005).
        con.execute("UPDATE meta.schema_migrations SET checksum = ? WHERE number = 1", [first.accepted[0]])
    with Warehouse(home=str(tmp_path)).connect("us"):
        pass
    assert [n for n, _ in _applied(path)] == list(range(1, ENTITY_MIGRATIONS.latest + 1))
