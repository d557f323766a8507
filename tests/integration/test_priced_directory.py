"""Pricing reads an entity's projects and clients from its raw directory, not its people or assignments
(a large account's directory is mostly those, and their personal fields are sealed)."""

from __future__ import annotations

import json
from pathlib import Path

from resources.raw_store import priced_directory
from resources.warehouse import Warehouse


def test_pricing_reads_the_entitys_projects_and_clients_only(tmp_path: Path) -> None:
    warehouse = Warehouse(home=str(tmp_path))
    rows = [
        ("uk", "projects", 1),
        ("uk", "clients", 2),
        ("uk", "users", 3),
        ("uk", "user_assignments", 4),
        ("uk", "task_assignments", 5),
        ("uk", "tasks", 6),
        ("de", "projects", 7),
    ]
    with warehouse.transaction("uk") as con:
        for entity, kind, record_id in rows:
            con.execute(
                "INSERT INTO raw.directory VALUES (?, ?, ?, ?, 'h', now(), 'u', 'r', 'v2')",
                [entity, kind, record_id, json.dumps({"id": record_id})],
            )
    read = priced_directory(warehouse, "uk").sort("kind")
    assert read["kind"].to_list() == ["clients", "projects"]
    assert [json.loads(p)["id"] for p in read["payload"]] == [2, 1]
