"""Files holding personal data are owner-only: 0600 files in 0700 folders (issue 16, found on main).

Run with the usual umask of 022, under which main created every file 0644.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest

from resources.event_inbox import EventInbox
from resources.warehouse import Warehouse, write_parquet_atomically


@pytest.fixture
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def _modes(home: Path) -> dict[str, str]:
    found = {}
    for path in [home, *home.rglob("*")]:
        if path.is_symlink():
            continue
        found[str(path.relative_to(home)) or "."] = oct(stat.S_IMODE(path.stat().st_mode))
    return found


def test_warehouse_inbox_and_exports_are_created_owner_only(usual_umask: None) -> None:
    home = Path(os.environ["BILLBRIDGE_HOME"]) / "fresh"
    warehouse = Warehouse(home=str(home))
    with warehouse.connect("us") as con:
        con.execute("SELECT 1")
    EventInbox(home / "events" / "inbox.sqlite").store(
        event_id="e1", event_type="time_entry.updated", body='{"notes": "Dr. Jane Roe"}', status="accepted"
    )
    write_parquet_atomically(pl.DataFrame({"a": [1]}), warehouse.export_path("us", "2026-09"))
    with warehouse.group_transaction() as con:
        con.execute("SELECT 1")
    modes = _modes(home)
    assert {p: m for p, m in modes.items() if (home / p).is_dir() and p != "." and m != "0o700"} == {}
    assert {p: m for p, m in modes.items() if (home / p).is_file() and m != "0o600"} == {}
    assert {"warehouse/us.duckdb", "events/inbox.sqlite", "group/group.duckdb"} <= set(modes)


def test_a_world_readable_file_from_an_earlier_version_is_narrowed_when_opened(usual_umask: None) -> None:
    warehouse = Warehouse()
    with warehouse.connect("uk"):
        pass
    path = warehouse.path("uk")
    path.chmod(0o644)
    path.parent.chmod(0o755)
    with warehouse.connect("uk"):
        pass
    assert (oct(stat.S_IMODE(path.stat().st_mode)), oct(stat.S_IMODE(path.parent.stat().st_mode))) == (
        "0o600",
        "0o700",
    )
